"""The domain's types. No AWS imports here.

Pools, stations, buckets and keys travel as their catalog documents (dicts shaped by
services.catalog); the stream, the interval, the principal and the change are typed because
every door handles them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class StreamType(StrEnum):
    FLOAT = "float"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    STRING = "string"
    COORDINATE = "coordinate"
    HEX = "hex"
    JSON = "json"
    OBJECT = "object"


NUMERIC_TYPES = frozenset({StreamType.FLOAT, StreamType.INTEGER})
DEFAULT_BUCKET = "default"


@dataclass
class Stream:
    id: str
    org: str
    pool: str
    station: str
    name: str
    type: StreamType
    created: int
    bucket: str = DEFAULT_BUCKET
    alias: str | None = None
    unit: str | None = None
    time_zone: str = "UTC"
    retention_days: int | None = None


@dataclass(frozen=True)
class Interval:
    timestamp: int
    value: Any


class Scheme(StrEnum):
    """How a credential is presented; each route names the schemes it accepts (docs/architecture.md, Auth)."""

    API_KEY = "ApiKey"
    """`Authorization: ApiKey <key>`: the native API and ORing."""
    BITPOOL2 = "Bitpool2"
    """`Authorization: Bitpool2 <key>`: Bitpool."""
    BASIC = "Basic"
    """HTTP Basic with the key as user name and any password: Custom Stream."""
    FORM_KEY = "_key"
    """A `_key` field in a form body or the query string: Byteport."""
    BEARER = "Bearer"
    """`Authorization: Bearer <jwt>`: tokens of Watershed's OAuth server or a trusted issuer."""


class PrincipalKind(StrEnum):
    """What kind of credential stands behind a principal."""

    KEY = "key"
    CLIENT = "client"
    USER = "user"


@dataclass(frozen=True)
class Principal:
    """Who is calling: resolved by the authorizer, trusted by handlers.

    `key_id` names the credential (an API key, OAuth client or user id, per `kind`); `scheme` is
    how it was presented, so a route can refuse a scheme it does not list.
    """

    org: str
    scopes: frozenset[str]
    pools: frozenset[str] = frozenset()
    key_id: str = ""
    kind: PrincipalKind = PrincipalKind.KEY
    scheme: Scheme = Scheme.API_KEY

    def may_see_pool(self, pool: str) -> bool:
        return not self.pools or pool in self.pools


@dataclass(frozen=True)
class Change:
    """One change the intervals table accepted: a lake row, a dirty bucket, a live update."""

    org: str
    pool: str
    station: str
    stream: str
    ts: int
    value: Any
    op: str
    at: int
