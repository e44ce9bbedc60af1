"""Topic rule target for `$aws/events/presence/+/+`: keep stations' isOnline and lastOnlineTime."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from watershed.services.mqtt import presence

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return {"changed": presence.presence(event)}
