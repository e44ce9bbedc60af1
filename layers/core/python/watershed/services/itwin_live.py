"""The iTwin JSON-RPC connection: in-band authentication and data subscriptions (issue 24).

The `/itwin` WebSocket API opens connections anonymous; `authenticate {code}` resolves an API key
or a Bearer token (a JWT: three dot-separated parts) through services.auth and keeps the principal
on the connection item (services.live), since every later frame is another invocation.
"""

from __future__ import annotations

from watershed.model import Principal, Scheme
from watershed.services import auth, live

SCHEME_WORDS = {"apikey": Scheme.API_KEY, "bearer": Scheme.BEARER}


def scheme_of(code: str) -> tuple[Scheme, str]:
    """`ApiKey <key>` / `Bearer <jwt>` as in a header, else a JWT by its shape, else an API key."""
    word, _, rest = code.strip().partition(" ")
    if word.lower() in SCHEME_WORDS and rest.strip():
        return SCHEME_WORDS[word.lower()], rest.strip()
    parts = code.strip().split(".")
    if len(parts) == 3 and all(parts):
        return Scheme.BEARER, code.strip()
    return Scheme.API_KEY, code.strip()


def authenticate(connection_id: str, protocol: str, code: str) -> Principal:
    """The principal of `code` (Unauthorized if none, Forbidden without `read`), kept on the connection."""
    principal = auth.resolve(*scheme_of(code))
    auth.require_scope(principal, "read")
    live.authenticate(connection_id, principal, protocol)
    return principal
