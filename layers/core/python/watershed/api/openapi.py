"""The OpenAPI 3.1 description of the native API v1, built from the route table.

A route is declared once, in watershed.api.routes; this module adds only what the table does not
know: per operation, its summary, query parameters, request body and answers (OPERATIONS, keyed by
the route's operation name). build() walks ROUTES, so a route without an entry here fails loudly
instead of going undocumented. Served at `GET /v1/openapi.json`; docs/api.md summarises it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from watershed import validation as v
from watershed.api.routes import ROUTES, AuthMode, Route
from watershed.model import DEFAULT_BUCKET, PrincipalKind, StreamType
from watershed.protocols.native_objects import ANSWER_SHAPES
from watershed.services import (
    aggregates,
    configs,
    exports,
    ingest,
    issuers,
    key_lifecycle,
    oauth,
    objects,
    query,
    users,
)
from watershed.services.credentials import SCOPES
from watershed.services.rollup_time import PERIOD_TEXT
from watershed.timefmt import EPOCH_MS, ISO_TEXT

GRANTS = oauth.GRANTS
SCOPE_NAMES = SCOPES

Schema = dict[str, Any]
PREFIX = "/v1/"
TITLE = "Watershed native API"
VERSION = "1.0.0"


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    """The schema or JSON null (OpenAPI 3.1 is JSON Schema 2020-12: no `nullable` keyword)."""
    if isinstance(schema.get("type"), str) and "enum" not in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _list_of(item: Schema) -> Schema:
    """The list envelope (docs/api.md, Lists) around one item schema."""
    return {
        "type": "object",
        "required": ["data", "paging"],
        "properties": {"data": {"type": "array", "items": item}, "paging": _ref("Paging")},
    }


def _text(max_len: int) -> Schema:
    """A string that is not blank, as `validation.text` checks it."""
    return {"type": "string", "minLength": 1, "maxLength": max_len, "pattern": v.NOT_BLANK.pattern}


def _body(properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    """A request object: unknown fields are a 400, so they are not allowed here either."""
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


TIME_TEXT = f"{EPOCH_MS.pattern}|{ISO_TEXT.pattern}"
TIME_IN: Schema = {
    "oneOf": [{"type": "string", "pattern": TIME_TEXT, "description": "ISO-8601 with any offset"},
              {"type": "integer", "minimum": 0, "description": "epoch milliseconds"}],
}
TIME_OUT: Schema = {"type": "string", "format": "date-time", "description": "ISO-8601 UTC with milliseconds"}
NAME: Schema = _text(v.NAME_MAX)
DESCRIPTION: Schema = {"type": "string", "maxLength": v.DESCRIPTION_MAX}
ALIAS: Schema = {"type": "string", "pattern": v.ALIAS.pattern}
BUCKET: Schema = {"type": "string", "pattern": v.BUCKET.pattern}
LABEL: Schema = {"type": "string", "pattern": v.LABEL.pattern, "maxLength": v.LABEL_MAX}
LABELS_IN: Schema = {
    "oneOf": [
        {"type": "object", "maxProperties": v.MAX_LABELS, "propertyNames": LABEL,
         "additionalProperties": {"type": "string", "maxLength": v.MAX_LABEL_VALUE},
         "description": "key/value labels"},
        {"type": "array", "items": LABEL, "maxItems": v.MAX_LABELS, "description": "flat labels (empty values)"},
    ],
}
LABELS_OUT: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
PROPS: Schema = {"type": "object", "propertyNames": {"minLength": 1, "maxLength": v.PROP_NAME_MAX},
                 "description": f"free-form JSON, at most {v.MAX_PROPS_BYTES} bytes; "
                 "a PATCH merges it (a null removes a property)"}
UNIT: Schema = _nullable({"type": "string", "maxLength": v.UNIT_MAX})
RETENTION: Schema = _nullable({"type": "integer", "minimum": v.RETENTION_DAYS[0], "maximum": v.RETENTION_DAYS[1]})
STREAM_TYPES = [t.value for t in StreamType]
STREAM_ID: Schema = {"type": "string", "minLength": 1, "description": "a stream's id"}
MEDIA_TYPE: Schema = {"type": "string", "pattern": objects.MEDIA_TYPE.pattern, "maxLength": objects.MEDIA_TYPE_MAX}
FUNCTION = "|".join(aggregates.FUNCTIONS)
ZONE: Schema = {"type": "string", "pattern": v.ZONE_NAME.pattern, "maxLength": v.ZONE_NAME_MAX,
                "description": "an IANA time zone name that the zone database knows"}
OBJECT_VALUE: Schema = {
    "type": "object",
    "required": ["key", "size", "contentType", "sha256"],
    "properties": {"key": {"type": "string"}, "size": {"type": "integer"},
                   "contentType": {"type": "string"}, "sha256": {"type": "string"}},
}
LOCATION: Schema = {
    "type": "object",
    "required": ["lat", "lon"],
    "additionalProperties": False,
    "properties": {"lat": {"type": "number", "minimum": v.LATITUDE[0], "maximum": v.LATITUDE[1]},
                   "lon": {"type": "number", "minimum": v.LONGITUDE[0], "maximum": v.LONGITUDE[1]}},
}
AGGREGATE_FIELDS: dict[str, Schema] = {
    "period": {"type": "string", "pattern": PERIOD_TEXT.pattern, "description": "15m, Nm, Nh (up to 24h), 1d, 1w, 1mo",
               "example": "1h"},
    "fn": {"type": "string", "pattern": f"^ *({FUNCTION})? *(, *({FUNCTION})? *)*$",
           "description": f"comma-separated: {', '.join(aggregates.FUNCTIONS)}"},
    "tz": {**ZONE, "description": "IANA time zone; the stream's by default"},
    "fill": {"type": "string", "enum": list(aggregates.FILLS)},
}

COMPONENTS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "example": "invalid_request"},
            "message": {"type": "string"},
            "field": {"type": "string", "description": "the body path (`[3].value`) or the parameter at fault"},
        },
    },
    "Paging": {
        "type": "object",
        "required": ["afterCursor", "nextLink"],
        "properties": {"afterCursor": _nullable({"type": "string"}), "nextLink": _nullable({"type": "string"}),
                       "beforeCursor": _nullable({"type": "string"}), "previousLink": _nullable({"type": "string"})},
    },
    "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
    "Pool": {
        "type": "object",
        "required": ["id", "name", "description", "autoCreateStreams", "created"],
        "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "key": _nullable({"type": "string"}),
                       "description": {"type": "string"}, "autoCreateStreams": {"type": "boolean"},
                       "labels": LABELS_OUT, "props": {"type": "object"}, "created": TIME_OUT, "updated": TIME_OUT},
    },
    "PoolCreate": _body({"name": NAME, "key": _nullable(ALIAS), "description": DESCRIPTION,
                         "autoCreateStreams": {"type": "boolean"}, "labels": LABELS_IN, "props": PROPS}, ("name",)),
    "PoolUpdate": _body({"name": NAME, "key": _nullable(ALIAS), "description": DESCRIPTION,
                         "autoCreateStreams": {"type": "boolean"}, "labels": LABELS_IN, "props": PROPS}),
    "Bucket": {
        "type": "object",
        "required": ["station", "name", "description", "props", "created"],
        "properties": {"station": {"type": "string"}, "pool": {"type": "string"}, "name": {"type": "string"},
                       "description": {"type": "string"}, "props": {"type": "object"}, "created": TIME_OUT,
                       "updated": TIME_OUT},
    },
    "BucketCreate": _body({"name": BUCKET, "description": DESCRIPTION, "props": PROPS}, ("name",)),
    "BucketUpdate": _body({"description": DESCRIPTION, "props": PROPS}),
    "Summary": {
        "type": "object",
        "required": ["count", "first", "last"],
        "properties": {"count": {"type": "integer"}, "first": _nullable(_ref("Interval")),
                       "last": _nullable(_ref("Interval"))},
    },
    "Station": {
        "type": "object",
        "required": ["id", "pool", "name", "key", "labels", "isOnline", "created"],
        "properties": {
            "id": {"type": "string"}, "pool": {"type": "string"}, "name": {"type": "string"},
            "key": {"type": "string"}, "labels": LABELS_OUT, "props": {"type": "object"},
            "serialNumber": _nullable({"type": "string"}), "model": _nullable({"type": "string"}),
            "location": _nullable(LOCATION), "isOnline": {"type": "boolean"},
            "lastOnlineTime": _nullable(TIME_OUT), "created": TIME_OUT, "updated": TIME_OUT,
        },
    },
    "StationCreate": _body(
        {"name": NAME, "key": ALIAS, "labels": LABELS_IN, "props": PROPS,
         "serialNumber": _nullable({"type": "string", "maxLength": v.NAME_MAX}),
         "model": _nullable({"type": "string", "maxLength": v.NAME_MAX}), "location": _nullable(LOCATION)},
        ("name",)),
    "StationUpdate": _body(
        {"name": NAME, "key": ALIAS, "labels": LABELS_IN, "props": PROPS,
         "serialNumber": _nullable({"type": "string", "maxLength": v.NAME_MAX}),
         "model": _nullable({"type": "string", "maxLength": v.NAME_MAX}), "location": _nullable(LOCATION)}),
    "Stream": {
        "type": "object",
        "required": ["id", "pool", "station", "name", "type", "bucket", "timeZone", "created"],
        "properties": {
            "id": {"type": "string"}, "pool": {"type": "string"}, "station": {"type": "string"},
            "name": {"type": "string"}, "type": {"type": "string", "enum": STREAM_TYPES},
            "unit": _nullable({"type": "string"}), "alias": _nullable({"type": "string"}),
            "bucket": {"type": "string"}, "timeZone": {"type": "string"},
            "retentionDays": _nullable({"type": "integer"}), "labels": LABELS_OUT, "props": {"type": "object"},
            "created": TIME_OUT, "updated": TIME_OUT,
        },
    },
    "StreamCreate": _body(
        {"name": NAME, "type": {"type": "string", "enum": STREAM_TYPES},
         "unit": UNIT, "alias": _nullable(ALIAS), "bucket": BUCKET,
         "timeZone": {**ZONE, "example": "Europe/Berlin"},
         "retentionDays": RETENTION, "labels": LABELS_IN, "props": PROPS},
        ("name", "type")),
    "StreamUpdate": _body(
        {"name": NAME, "unit": UNIT, "alias": _nullable(ALIAS),
         "timeZone": ZONE, "labels": LABELS_IN, "props": PROPS,
         "retentionDays": RETENTION,
         "type": {"type": "string", "enum": STREAM_TYPES, "description": "must equal the current type"},
         "bucket": {"type": "string", "description": "must equal the current bucket"}}),
    "Deleted": {
        "type": "object",
        "required": ["deleted"],
        "properties": {"deleted": {
            "type": "object",
            "required": ["pools", "stations", "buckets", "streams", "intervals", "objects"],
            "properties": {
                name: {"type": "integer"}
                for name in ("pools", "stations", "buckets", "streams", "intervals", "objects")
            },
        }},
    },
    "ApiKey": {
        "type": "object",
        "required": ["id", "name", "scopes", "pools", "prefix", "created"],
        "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                       "scopes": {"type": "array", "items": {"type": "string", "enum": list(SCOPE_NAMES)}},
                       "pools": {"type": "array", "items": {"type": "string"}}, "prefix": {"type": "string"},
                       "created": TIME_OUT},
    },
    "ApiKeyCreate": _body(
        {"name": NAME,
         "scopes": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": list(SCOPE_NAMES)}},
         "pools": {"type": "array", "items": {"type": "string"}}},
        ("name", "scopes")),
    "ApiKeyCreated": {
        "allOf": [_ref("ApiKey"), {"type": "object", "required": ["key"],
                                   "properties": {"key": {"type": "string", "description": "shown only once"}}}],
    },
    "ApiKeyLife": {
        "allOf": [_ref("ApiKey"), {"type": "object", "required": ["lastUsed"], "properties": {
            "expires": _nullable(TIME_OUT), "rotated": TIME_OUT, "lastUsed": _nullable(TIME_OUT)}}],
    },
    "ApiKeyRotated": {
        "allOf": [_ref("ApiKeyLife"), {"type": "object", "required": ["key"],
                                       "properties": {"key": {"type": "string", "description": "shown only once"}}}],
    },
    "OAuthClient": {
        "type": "object",
        "required": ["id", "name", "grants", "redirectUris", "scopes", "public", "created"],
        "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                       "grants": {"type": "array", "items": {"type": "string", "enum": list(GRANTS)}},
                       "redirectUris": {"type": "array", "items": {"type": "string"}},
                       "scopes": {"type": "array", "items": {"type": "string", "enum": list(SCOPE_NAMES)}},
                       "pools": {"type": "array", "items": {"type": "string"}}, "public": {"type": "boolean"},
                       "expires": _nullable(TIME_OUT), "created": TIME_OUT},
    },
    "OAuthClientCreate": _body(
        {"name": NAME, "grants": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": list(GRANTS)}},
         "redirectUris": {"type": "array", "maxItems": oauth.MAX_REDIRECT_URIS,
                          "items": {"type": "string", "format": "uri"}},
         "scopes": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": list(SCOPE_NAMES)}},
         "pools": {"type": "array", "items": {"type": "string"}}, "public": {"type": "boolean"},
         "expires": TIME_IN},
        ("name", "grants")),
    "OAuthClientCreated": {
        "allOf": [_ref("OAuthClient"), {"type": "object", "required": ["clientId", "clientSecret"],
                                        "properties": {"clientId": {"type": "string"},
                                                       "clientSecret": _nullable({"type": "string",
                                                                                  "description": "shown only once"})}}],
    },
    "User": {
        "type": "object",
        "required": ["id", "username", "name", "scopes", "created"],
        "properties": {"id": {"type": "string"}, "username": {"type": "string"}, "name": {"type": "string"},
                       "scopes": {"type": "array", "items": {"type": "string", "enum": list(SCOPE_NAMES)}},
                       "created": TIME_OUT},
    },
    "UserCreate": _body(
        {"username": _text(users.USERNAME_MAX),
         "password": {"type": "string", "minLength": users.MIN_PASSWORD, "maxLength": users.MAX_PASSWORD},
         "name": NAME,
         "scopes": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": list(SCOPE_NAMES)}}},
        ("username", "password", "scopes")),
    "Issuer": {
        "type": "object",
        "required": ["id", "issuer", "audience", "jwksUri", "scopeClaim", "scopeMap", "created"],
        "properties": {"id": {"type": "string"}, "issuer": {"type": "string"}, "audience": {"type": "string"},
                       "jwksUri": {"type": "string"}, "orgClaim": _nullable({"type": "string"}),
                       "orgValue": _nullable({"type": "string"}), "scopeClaim": {"type": "string"},
                       "scopeMap": {"type": "object", "additionalProperties": {"type": "string"}},
                       "created": TIME_OUT},
    },
    "IssuerCreate": _body(
        {"issuer": {"type": "string", "format": "uri"}, "audience": _text(issuers.AUDIENCE_MAX),
         "jwksUri": {"type": "string", "format": "uri"},
         "orgClaim": _text(issuers.CLAIM_MAX), "orgValue": _text(issuers.CLAIM_VALUE_MAX),
         "scopeClaim": _text(issuers.CLAIM_MAX),
         "scopeMap": {"type": "object", "additionalProperties": {"type": "string", "enum": list(SCOPE_NAMES)}}},
        ("issuer", "audience")) | {"dependentRequired": {"orgClaim": ["orgValue"], "orgValue": ["orgClaim"]}},
    "Me": {
        "type": "object",
        "required": ["kind", "id", "org", "scopes", "pools", "scheme"],
        "properties": {"kind": {"type": "string", "enum": [k.value for k in PrincipalKind]}, "id": {"type": "string"},
                       "org": {"type": "string"}, "scopes": {"type": "array", "items": {"type": "string"}},
                       "pools": {"type": "array", "items": {"type": "string"}}, "scheme": {"type": "string"}},
    },
    "Interval": {
        "type": "object",
        "required": ["timestamp", "value"],
        "properties": {"timestamp": TIME_OUT, "value": {"description": "typed by the stream"}},
    },
    "IntervalIn": {
        "type": "object",
        "required": ["timestamp", "value"],
        "additionalProperties": False,
        "properties": {"timestamp": TIME_IN, "value": {"description": "typed by the stream"}},
    },
    "StreamIntervalIn": {
        "type": "object",
        "required": ["stream", "timestamp", "value"],
        "additionalProperties": False,
        "properties": {"stream": STREAM_ID, "timestamp": TIME_IN, "value": {}},
    },
    "Accepted": {"type": "object", "required": ["accepted"], "properties": {"accepted": {"type": "integer"}}},
    "DeletedCount": {"type": "object", "required": ["deleted"], "properties": {"deleted": {"type": "integer"}}},
    "StationLatest": {
        "type": "object",
        "required": ["stream", "name", "timestamp", "value"],
        "properties": {"stream": {"type": "string"}, "name": {"type": "string"},
                       "alias": _nullable({"type": "string"}), "bucket": _nullable({"type": "string"}),
                       "timestamp": _nullable(TIME_OUT), "value": {}},
    },
    "AggregateSource": {
        "type": "object",
        "required": ["levels", "rollupItems", "rawItems"],
        "properties": {"levels": {"type": "array", "items": {"type": "string"}},
                       "rollupItems": {"type": "integer"}, "rawItems": {"type": "integer"}},
    },
    "AggregateRow": {
        "type": "object",
        "required": ["timestamp"],
        "properties": {"timestamp": TIME_OUT},
        "additionalProperties": {"description": "one value per function asked for"},
    },
    "AggregatePage": {
        "type": "object",
        "required": ["data", "fromRaw", "period", "timeZone", "source", "paging"],
        "properties": {
            "data": {"type": "array", "items": _ref("AggregateRow")},
            "fromRaw": {"type": "array", "items": TIME_OUT}, "period": {"type": "string"},
            "timeZone": {"type": "string"}, "source": _ref("AggregateSource"), "paging": _ref("Paging"),
        },
    },
    "QueryRequest": _body(
        {"streams": {"type": "array", "minItems": 1, "maxItems": aggregates.MAX_STREAMS, "items": STREAM_ID},
         "start": TIME_IN, "end": TIME_IN, **AGGREGATE_FIELDS,
         "limit": {"type": "integer", "minimum": 1, "maximum": aggregates.MAX_LIMIT}, "cursor": {"type": "string"}},
        ("streams", "period")),
    "QueryPage": {
        "type": "object",
        "required": ["data", "period", "source", "paging"],
        "properties": {
            "data": {"type": "array", "items": {
                "type": "object",
                "required": ["stream", "timeZone", "data", "fromRaw"],
                "properties": {"stream": {"type": "string"}, "timeZone": {"type": "string"},
                               "data": {"type": "array", "items": _ref("AggregateRow")},
                               "fromRaw": {"type": "array", "items": TIME_OUT}},
            }},
            "period": {"type": "string"}, "source": _ref("AggregateSource"), "paging": _ref("Paging"),
        },
    },
    "MqttCredentials": {
        "type": "object",
        "required": ["stationId", "clientId", "username", "password", "topics"],
        "properties": {"stationId": {"type": "string"}, "clientId": {"type": "string"},
                       "username": {"type": "string"}, "password": {"type": "string"},
                       "topics": {"type": "object", "additionalProperties": {"type": "string"}}},
    },
    "MqttApp": {
        "type": "object",
        "required": ["id", "name", "clientId", "username", "pools", "created", "topics"],
        "properties": {"id": {"type": "string", "description": "the identity: username, and client id after `app:`"},
                       "name": {"type": "string"}, "clientId": {"type": "string"},
                       "username": {"type": "string"}, "pools": {"type": "array", "items": {"type": "string"}},
                       "created": TIME_OUT,
                       "topics": {"type": "object", "additionalProperties": {"type": "string"}}},
    },
    "MqttAppCreate": _body({"name": NAME}, ("name",)),
    "MqttAppCreated": {
        "allOf": [_ref("MqttApp"), {"type": "object", "required": ["password"],
                                    "properties": {"password": {"type": "string", "description": "shown only once"}}}],
    },
    "ConfigPut": _body({"configs": {"type": "object", "maxProperties": configs.MAX_KEYS,
                                    "propertyNames": _text(configs.KEY_MAX)},
                        "partialUpdate": {"type": "boolean"}}, ("configs",)),
    "Config": {
        "type": "object",
        "required": ["name", "stationId", "configs", "expected", "reported", "delta"],
        "properties": {
            "name": {"type": "string"}, "stationId": {"type": "string"},
            "configs": {"type": "array", "items": {"type": "object", "required": ["key"],
                                                   "properties": {"key": {"type": "string"}}}},
            "expected": {"type": "object"}, "reported": {"type": "object"}, "delta": {"type": "object"},
            "lastConfigTime": _nullable(TIME_OUT), "lastReportTime": _nullable(TIME_OUT),
        },
    },
    "ObjectEnvelope": _body(
        {"content": {"type": "string", "pattern": objects.BASE64.pattern, "description": "base64"},
         "compression": {"type": "string", "enum": list(objects.COMPRESSIONS)},
         "contentType": _nullable({**MEDIA_TYPE, "example": "image/png"}), "timestamp": TIME_IN},
        ("content",)),
    "ObjectInterval": {
        "type": "object",
        "required": ["timestamp", "value"],
        "properties": {"timestamp": TIME_OUT, "value": OBJECT_VALUE},
    },
    "ObjectUrl": {
        "allOf": [OBJECT_VALUE, {"type": "object", "required": ["url", "expiresIn"],
                                 "properties": {"url": {"type": "string"}, "expiresIn": {"type": "integer"}}}],
    },
    "UploadStart": _body({"contentType": _nullable(MEDIA_TYPE), "timestamp": TIME_IN}),
    "Upload": {
        "type": "object",
        "required": ["upload", "url", "method", "headers", "timestamp", "expiresIn"],
        "properties": {"upload": {"type": "string"}, "url": {"type": "string"}, "method": {"type": "string"},
                       "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                       "timestamp": {"type": "integer", "description": "epoch ms"},
                       "expiresIn": {"type": "integer"}},
    },
    "ExportRequest": _body(
        {"streams": {"type": "array", "minItems": 1, "maxItems": exports.MAX_STREAMS, "items": STREAM_ID},
         "start": TIME_IN, "end": TIME_IN,
         "aggregation": _body(AGGREGATE_FIELDS, ("period",)),
         "format": {"type": "string", "enum": list(exports.FORMATS)}, "async": {"type": "boolean"}},
        ("streams", "start", "end")),
    "Export": {
        "type": "object",
        "required": ["id", "status", "format", "streams", "start", "end", "created", "updated"],
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": list(exports.STATUSES)},
            "format": {"type": "string"}, "streams": {"type": "array", "items": {"type": "string"}},
            "start": TIME_OUT, "end": TIME_OUT, "aggregation": _nullable({"type": "object"}),
            "rows": _nullable({"type": "integer"}), "created": TIME_OUT, "updated": TIME_OUT,
            "url": {"type": "string"}, "expiresIn": {"type": "integer"}, "error": _nullable({"type": "string"}),
        },
    },
}


def _query(name: str, schema: Schema, description: str = "", required: bool = False) -> Schema:
    parameter: Schema = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


LIST_LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": v.LIST_LIMIT_MAX,
                              "default": v.LIST_LIMIT_DEFAULT})
CURSOR = _query("cursor", {"type": "string"}, "afterCursor (next page) or beforeCursor (previous page)")
LABEL_FILTERS = (
    _query("labels", {"type": "string", "pattern": v.LABEL_LIST.pattern},
           "comma-separated label keys that must be present"),
    _query("labels[key]", {"type": "string"}, "the label `key` must have this value (any key in brackets)"),
    _query("labelsMatch", {"type": "string", "enum": list(v.LABELS_MATCH), "default": v.LABELS_MATCH[0]}),
)
TIME_PARAM: Schema = {"type": "string", "pattern": TIME_TEXT,
                      "description": "ISO-8601 (any offset) or epoch milliseconds"}


@dataclass(frozen=True)
class Doc:
    """What the route table does not say about one operation."""

    summary: str
    tag: str
    status: int = 200
    response: Schema | None = None
    body: Schema | None = None
    body_required: bool = True
    query: tuple[Schema, ...] = ()
    errors: tuple[int, ...] = ()
    extra_responses: dict[int, Schema] = field(default_factory=dict)
    content: dict[str, Schema] = field(default_factory=dict)


OPERATIONS: dict[str, Doc] = {
    "health": Doc("Liveness of the API", "meta", response=_ref("Health")),
    "native_meta:openapi_document": Doc("This OpenAPI document", "meta", response={"type": "object"}),
    # pools
    "create_pool": Doc("Create a pool", "pools", 201, _ref("Pool"), _ref("PoolCreate"), errors=(409,)),
    "list_pools": Doc("List pools (or find one by `key`)", "pools", response=_list_of(_ref("Pool")),
                      query=(_query("key", {"type": "string"}, "the pool with this key, if any"), *LABEL_FILTERS,
                             LIST_LIMIT, CURSOR)),
    "get_pool": Doc("Get a pool", "pools", response=_ref("Pool")),
    "update_pool": Doc("Update a pool", "pools", response=_ref("Pool"), body=_ref("PoolUpdate")),
    "delete_pool": Doc("Delete a pool with everything under it", "pools", response=_ref("Deleted")),
    # stations
    "create_station": Doc("Create a station in a pool", "stations", 201, _ref("Station"), _ref("StationCreate"),
                          errors=(409,)),
    "list_stations": Doc(
        "List a pool's stations (or find one by `key`)", "stations", response=_list_of(_ref("Station")),
        query=(_query("key", {"type": "string"}, "the station with this key, if any"), *LABEL_FILTERS,
               _query("serialNumber", {"type": "string"}), _query("namePrefix", {"type": "string"}),
               LIST_LIMIT, CURSOR)),
    "get_station": Doc("Get a station", "stations", response=_ref("Station")),
    "update_station": Doc("Update a station", "stations", response=_ref("Station"), body=_ref("StationUpdate"),
                          errors=(409,)),
    "delete_station": Doc("Delete a station with everything under it", "stations", response=_ref("Deleted")),
    # buckets
    "create_bucket": Doc("Create a bucket at a station", "buckets", 201, _ref("Bucket"), _ref("BucketCreate"),
                         errors=(409,)),
    "list_buckets": Doc("List a station's buckets", "buckets", response=_list_of(_ref("Bucket")),
                        query=(LIST_LIMIT, CURSOR)),
    "get_bucket": Doc("Get a bucket", "buckets", response=_ref("Bucket")),
    "update_bucket": Doc("Update a bucket's description and props", "buckets", response=_ref("Bucket"),
                         body=_ref("BucketUpdate")),
    "delete_bucket": Doc("Delete a bucket with its streams", "buckets", response=_ref("Deleted")),
    # streams
    "create_stream": Doc("Create a stream at a station", "streams", 201, _ref("Stream"), _ref("StreamCreate"),
                         errors=(409,)),
    "list_streams": Doc("List a station's streams (or find one by `alias` and `bucket`)", "streams",
                        response=_list_of(_ref("Stream")),
                        query=(_query("alias", {"type": "string"}, "the stream with this alias, if any"),
                               _query("bucket", {**BUCKET, "default": DEFAULT_BUCKET}, "with `alias`"),
                               *LABEL_FILTERS, LIST_LIMIT, CURSOR)),
    "get_stream": Doc("Get a stream", "streams", response=_ref("Stream")),
    "update_stream": Doc("Update a stream (type and bucket are fixed)", "streams", response=_ref("Stream"),
                         body=_ref("StreamUpdate"), errors=(409,)),
    "delete_stream": Doc("Delete a stream and its intervals", "streams", response=_ref("Deleted")),
    # keys
    "create_key": Doc("Create an API key (shown once)", "keys", 201, _ref("ApiKeyCreated"), _ref("ApiKeyCreate")),
    "list_keys": Doc("List API keys", "keys", response=_list_of(_ref("ApiKey"))),
    "delete_key": Doc("Revoke an API key", "keys", 204),
    "native_auth:get_key": Doc("An API key with its expiry and last use", "keys", response=_ref("ApiKeyLife")),
    "native_auth:update_key": Doc("Set or clear (null) an API key's expiry", "keys", response=_ref("ApiKeyLife"),
                                  body=_body({"expires": _nullable(TIME_IN)}, ("expires",))),
    "native_auth:rotate_key": Doc("A new secret for a key; the old one works graceSeconds more (default 1 day)",
                                  "keys", 201, _ref("ApiKeyRotated"),
                                  _body({"graceSeconds": {"type": "integer", "minimum": 0,
                                                          "maximum": key_lifecycle.MAX_GRACE_S}}),
                                  body_required=False),
    # OAuth clients, users, issuers, the caller
    "native_auth:create_client": Doc("Register an OAuth client (the secret is shown once)", "oauth", 201,
                                     _ref("OAuthClientCreated"), _ref("OAuthClientCreate")),
    "native_auth:list_clients": Doc("List OAuth clients", "oauth", response=_list_of(_ref("OAuthClient"))),
    "native_auth:get_client": Doc("Get an OAuth client", "oauth", response=_ref("OAuthClient")),
    "native_auth:delete_client": Doc("Revoke an OAuth client and its tokens", "oauth", 204),
    "native_auth:create_user": Doc("Create an organisation user (signs in on /oauth2/authorize)", "oauth", 201,
                                   _ref("User"), _ref("UserCreate"), errors=(409,)),
    "native_auth:list_users": Doc("List users", "oauth", response=_list_of(_ref("User"))),
    "native_auth:get_user": Doc("Get a user", "oauth", response=_ref("User")),
    "native_auth:delete_user": Doc("Delete a user; their tokens stop working", "oauth", 204),
    "native_auth:create_issuer": Doc("Trust an external OIDC issuer", "oauth", 201, _ref("Issuer"),
                                     _ref("IssuerCreate"), errors=(409,)),
    "native_auth:list_issuers": Doc("List trusted issuers", "oauth", response=_list_of(_ref("Issuer"))),
    "native_auth:delete_issuer": Doc("Stop trusting an issuer", "oauth", 204),
    "native_auth:me": Doc("The caller: key, client or user, organisation and scopes", "oauth",
                          response=_ref("Me")),
    # intervals
    "push_stream": Doc(
        "Push intervals to one stream (upsert; validated whole)", "intervals", response=_ref("Accepted"),
        body={"type": "array", "maxItems": ingest.MAX_ITEMS, "items": _ref("IntervalIn")}, errors=(413, 503)),
    "push_many": Doc(
        "Push intervals to several streams", "intervals", response=_ref("Accepted"),
        body={"type": "array", "maxItems": ingest.MAX_ITEMS, "items": _ref("StreamIntervalIn")}, errors=(413, 503)),
    "delete_range": Doc(
        "Delete a stream's intervals in [start, end)", "intervals", response=_ref("DeletedCount"),
        query=(_query("start", TIME_PARAM, required=True), _query("end", TIME_PARAM, required=True)),
        errors=(503,)),
    "pull": Doc(
        "Read a stream's intervals, raw or aggregated (with `period`)", "intervals",
        response={"anyOf": [_list_of(_ref("Interval")), _ref("AggregatePage")]},
        query=(_query("start", TIME_PARAM, "inclusive"), _query("end", TIME_PARAM, "exclusive"),
               _query("order", {"type": "string", "enum": list(v.ORDERS), "default": v.ORDERS[0]}, "raw reads"),
               _query("limit", {"type": "integer", "minimum": 1, "maximum": query.MAX_LIMIT}),
               CURSOR, *(_query(name, schema) for name, schema in AGGREGATE_FIELDS.items()))),
    "latest": Doc("The last interval of a stream", "intervals", response=_ref("Interval")),
    "summary": Doc("Count, first and last interval of a stream in [start, end), from the rollups", "intervals",
                   response=_ref("Summary"),
                   query=(_query("start", TIME_PARAM, "inclusive"), _query("end", TIME_PARAM, "exclusive"))),
    "station_latest": Doc("The last interval of each stream of a station", "intervals",
                          response=_list_of(_ref("StationLatest"))),
    "query_many": Doc("Aggregates of several streams", "intervals", response=_ref("QueryPage"),
                      body=_ref("QueryRequest")),
    # devices
    "native_devices:rotate_secret": Doc("New MQTT credentials for a station (shown once)", "devices", 201,
                                        _ref("MqttCredentials")),
    "native_devices:list_configs": Doc("A station's config groups", "devices", response=_list_of(_ref("Config")),
                                       query=(_query("name", BUCKET, "only the group of this name"),)),
    "native_devices:get_config": Doc("One config group", "devices", response=_ref("Config")),
    "native_devices:put_config": Doc("Set a config group's expected values", "devices", response=_ref("Config"),
                                     body=_ref("ConfigPut")),
    "native_devices:delete_config": Doc("Forget a config group", "devices", 204),
    # application MQTT clients
    "native_mqtt_apps:create_app": Doc("Create an application MQTT client (its password is shown once)", "devices",
                                       201, _ref("MqttAppCreated"), _ref("MqttAppCreate")),
    "native_mqtt_apps:list_apps": Doc("List application MQTT clients", "devices", response=_list_of(_ref("MqttApp"))),
    "native_mqtt_apps:get_app": Doc("Get an application MQTT client", "devices", response=_ref("MqttApp")),
    "native_mqtt_apps:delete_app": Doc("Delete an application MQTT client (its next CONNECT is refused)", "devices",
                                       204),
    # objects and exports
    "native_objects:upload_object": Doc(
        "Upload an object (raw body with its Content-Type, or a JSON base64 envelope)", "objects", 201,
        _ref("ObjectInterval"), query=(_query("timestamp", TIME_PARAM, "default: now"),), errors=(413,),
        content={"application/json": _ref("ObjectEnvelope"),
                 "application/octet-stream": {"type": "string", "format": "binary"}}),
    "native_objects:start_upload": Doc("A presigned PUT for a large object", "objects", 201, _ref("Upload"),
                                       _ref("UploadStart"), body_required=False),
    "native_objects:complete_upload": Doc("Register an object uploaded with a presigned PUT", "objects", 201,
                                          _ref("ObjectInterval")),
    "native_objects:get_object": Doc(
        "An object's content, or (`as=url`) a presigned URL", "objects",
        query=(_query("as", {"type": "string", "enum": list(ANSWER_SHAPES), "default": ANSWER_SHAPES[0]}),),
        extra_responses={303: {"description": "too large to inline: Location is a presigned URL"}},
        content={"application/json": _ref("ObjectUrl"), "*/*": {"type": "string", "format": "binary"}}),
    "native_objects:create_export": Doc(
        "Export intervals as CSV or NDJSON", "exports", 201, _ref("Export"), _ref("ExportRequest"),
        extra_responses={202: {"description": "queued; poll Location",
                               "content": {"application/json": {"schema": _ref("Export")}}}}),
    "native_objects:get_export": Doc("An export's status and, when done, its URL", "exports",
                                     response=_ref("Export")),
}

ERROR_REASONS = {
    400: "invalid input: the field and the reason",
    401: "no or unknown credential",
    403: "the key lacks the scope",
    404: "no such resource in this organisation",
    409: "a natural key (station key, stream alias) is taken",
    413: "too many items or too large a body",
    503: "storage throttled: says which items were not stored",
}


def documented(routes: tuple[Route, ...] = ROUTES) -> tuple[Route, ...]:
    """The routes the document describes: every native /v1 route."""
    return tuple(route for route in routes if route.path.startswith(PREFIX))


def operation_id(route: Route) -> str:
    return route.operation.rpartition(":")[2]


def _error_response(status: int) -> Schema:
    return {"description": ERROR_REASONS[status], "content": {"application/json": {"schema": _ref("Error")}}}


def _operation(route: Route) -> Schema:
    doc = OPERATIONS[route.operation]
    params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
              for name in re.findall(r"\{(\w+)\}", route.path)]
    success: Schema = {"description": doc.summary}
    if doc.content and doc.body is None and route.method == "GET":
        success["content"] = {media: {"schema": schema} for media, schema in doc.content.items()}
    elif doc.response is not None:
        success["content"] = {"application/json": {"schema": doc.response}}
    responses: dict[str, Schema] = {str(doc.status): success}
    for status, extra in doc.extra_responses.items():
        responses[str(status)] = extra
    public = route.auth is AuthMode.NONE
    statuses = set(doc.errors) if public else {400, 401, 403, 404, *doc.errors}
    for status in sorted(statuses):
        responses[str(status)] = _error_response(status)
    operation: Schema = {
        "operationId": operation_id(route),
        "summary": doc.summary,
        "tags": [doc.tag],
        "parameters": params + list(doc.query),
        "responses": responses,
        "x-scope": str(route.scope),
    }
    if public:
        operation["security"] = []
    if doc.body is not None:
        operation["requestBody"] = {"required": doc.body_required,
                                    "content": {"application/json": {"schema": doc.body}}}
    elif doc.content and route.method != "GET":
        operation["requestBody"] = {"required": True,
                                    "content": {media: {"schema": schema} for media, schema in doc.content.items()}}
    return operation


def build(routes: tuple[Route, ...] = ROUTES, server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.0 document of every /v1 route in `routes`."""
    paths: dict[str, dict[str, Schema]] = {}
    for route in documented(routes):
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "JSON in camelCase; a list is {data, paging}; errors are {code, message, field}. "
                           "Generated from the route table (watershed.api.routes).",
        },
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "securitySchemes": {
                "ApiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`Authorization: ApiKey <key>`; keys have scopes read, write, admin. "
                                   "Every route that takes a key also takes `Authorization: Bearer <access token>` "
                                   "(the Bearer scheme; docs/auth.md).",
                },
                "Bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token from /oauth2/token or a trusted OIDC issuer (docs/auth.md).",
                },
            },
        },
        # Bearer is declared beside ApiKey but not listed as an alternative: schemathesis cannot
        # generate negative cases for an operation with two alternative schemes.
        "security": [{"ApiKey": []}],
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


def summary_table(routes: tuple[Route, ...] = ROUTES) -> str:
    """The Markdown table of operations that docs/api.md carries (a unit test keeps them equal)."""
    rows = ["| method | path | operationId | scope | success | summary |", "|---|---|---|---|---|---|"]
    for route in documented(routes):
        doc = OPERATIONS[route.operation]
        rows.append(f"| {route.method} | `{route.path}` | `{operation_id(route)}` | {route.scope} | {doc.status} "
                    f"| {doc.summary} |")
    return "\n".join(rows) + "\n"
