"""REQUEST authorizer of every WebSocket API's $connect: an API key or Bearer token to {org, scopes, pools}.

Browsers cannot set headers on a WebSocket, so besides `Authorization: ApiKey <key>` or
`Bearer <jwt>` the credential may come as a `key` or `token` query parameter. Both resolve through
services.auth to one principal; API Gateway passes the returned context with every later frame
of the connection, so handlers trust only that.
"""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from watershed.api.routes import NATIVE_SCHEMES
from watershed.errors import MissingCredential, Unauthorized
from watershed.model import Scheme
from watershed.services import auth

logger = Logger()
SCHEMES = NATIVE_SCHEMES
QUERY_SCHEMES = (("key", Scheme.API_KEY), ("token", Scheme.BEARER))


def credential(event: dict[str, Any]) -> tuple[Scheme, str]:
    """The `Authorization` header, else the `key` / `token` query parameter."""
    header = next((str(v) for k, v in (event.get("headers") or {}).items() if k.lower() == "authorization"), None)
    if header and header.strip():
        return auth.credential_from(SCHEMES, header)
    query = event.get("queryStringParameters") or {}
    for name, scheme in QUERY_SCHEMES:
        if query.get(name):
            return scheme, str(query[name])
    raise MissingCredential("Unauthorized")


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        principal = auth.resolve(*credential(event))
    except Unauthorized:
        raise Exception("Unauthorized") from None  # API Gateway's contract for a 401
    return auth.allow_invoke(principal, event["methodArn"])
