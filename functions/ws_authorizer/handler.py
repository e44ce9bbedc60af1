"""REQUEST authorizer of every WebSocket API's $connect: an API key or Bearer token to {org, scopes, pools}.

Browsers cannot set headers on a WebSocket, so besides `Authorization: ApiKey <key>` or
`Bearer <jwt>` the credential may come as a `key` or `token` query parameter. API Gateway passes
the returned context to every later frame of the connection, so handlers trust only that.
"""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from watershed.errors import Unauthorized
from watershed.services import auth

logger = Logger()


def credential(event: dict[str, Any]) -> str | None:
    """The `Authorization` header, else `ApiKey <key>` / `Bearer <token>` from the query string."""
    for name, value in (event.get("headers") or {}).items():
        if name.lower() == "authorization" and value:
            return str(value)
    query = event.get("queryStringParameters") or {}
    if query.get("key"):
        return f"ApiKey {query['key']}"
    if query.get("token"):
        return f"Bearer {query['token']}"
    return None


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        principal = auth.principal_for_header(credential(event))
    except Unauthorized:
        raise Exception("Unauthorized") from None  # API Gateway's contract for a 401
    return {
        "principalId": principal.key_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}],
        },
        "context": auth.to_context(principal),
    }
