"""Topic rule target for `things/+/config/reported/+`: store the config a device reports."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from watershed.protocols import oring_mqtt

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    stored = oring_mqtt.reported_message(event, context.function_name)
    return {"stored": stored is not None}
