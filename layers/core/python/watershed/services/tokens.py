"""Bearer tokens: the verifier every door's `Bearer` scheme calls.

Until the OAuth server lands no issuer is trusted, so every token is refused as unknown.
"""

from __future__ import annotations

from watershed.errors import Unauthorized
from watershed.model import Principal


def verify_bearer(token: str) -> Principal:
    """The principal a valid access token stands for; any other token is Unauthorized."""
    raise Unauthorized("Unauthorized")
