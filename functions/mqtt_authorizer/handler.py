"""The IoT Core custom authorizer: station id + MQTT secret in, an IoT policy for that station out."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from watershed.services.mqtt import authorizer

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    answer = authorizer.authorize(event, getattr(context, "invoked_function_arn", None))
    client = ((event.get("protocolData") or {}).get("mqtt") or {}).get("clientId")
    logger.info("mqtt connect", extra={"clientId": client, "authenticated": answer["isAuthenticated"]})
    return answer
