"""REQUEST authorizer: resolves the Authorization header to {org, scopes, pools} for every gateway route.

API Gateway caches the decision by the header, so the policy allows every method of the API and
the handler, not the policy, checks the route's scope (docs/architecture.md, Auth).
"""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from watershed.api.routes import gateway_schemes
from watershed.errors import Unauthorized
from watershed.services import auth

logger = Logger()
SCHEMES = gateway_schemes()


def _api_wide(method_arn: str) -> str:
    """arn:...:api-id/stage/VERB/path → arn:...:api-id/stage/*/*"""
    prefix, _, rest = method_arn.partition(":execute-api:")
    parts = rest.split("/")
    return f"{prefix}:execute-api:{'/'.join(parts[:2])}/*/*"


def _header(event: dict[str, Any]) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == "authorization":
            return str(value)
    return None


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        principal = auth.principal_for_header(_header(event), SCHEMES)
    except Unauthorized:
        raise Exception("Unauthorized") from None  # API Gateway's contract for a 401
    return auth.allow_invoke(principal, _api_wide(event["methodArn"]))
