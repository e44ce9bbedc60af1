"""Every AWS event shape the local runtime hands to a handler, built in one place.

The handlers that run locally are the deployed files, so they must see exactly what API Gateway,
EventBridge, DynamoDB Streams and AWS IoT send them in the cloud; a shape drifting here would make
`make run` lie about the cloud.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

ACCOUNT_ID = "000000000000"
REGION = "us-east-1"
API_ID = "local"
STAGE = "local"

TEXTUAL_TYPES = (
    "application/json",
    "application/x-www-form-urlencoded",
    "application/xml",
    "application/javascript",
    "application/x-ndjson",
    "application/graphql",
)

HeaderPairs = Sequence[tuple[str, str]]


def canonical_header_name(name: str) -> str:
    """`content-type` -> `Content-Type`: HTTP servers lower-case names; clients send them capitalised."""
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def is_textual(content_type: str | None) -> bool:
    """Whether API Gateway would pass a body of this type as text (without base64)."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return (
        media.startswith("text/")
        or media in TEXTUAL_TYPES
        or media.endswith("+json")
        or media.endswith("+xml")
    )


def method_arn(method: str, path: str) -> str:
    """The ARN API Gateway gives a REQUEST authorizer for this method call."""
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{STAGE}/{method.upper()}{path}"


def _single_and_multi(pairs: HeaderPairs | None) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """API Gateway's pair of maps: last value wins in the single map, all values in the multi map."""
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def _header_maps(headers: HeaderPairs) -> tuple[dict[str, str], dict[str, list[str]]]:
    canonical = [(canonical_header_name(name), value) for name, value in headers]
    single, multi = _single_and_multi(canonical)
    return single or {}, multi or {}


def _header_value(headers: HeaderPairs, name: str) -> str | None:
    wanted = name.lower()
    found = None
    for key, value in headers:
        if key.lower() == wanted:
            found = value
    return found


def encode_body(body: bytes, content_type: str | None, binary_route: bool) -> tuple[str | None, bool]:
    """The body as API Gateway passes it: text, or base64 for binary routes and non-text types."""
    if not body:
        return None, False
    if binary_route or not is_textual(content_type):
        return base64.b64encode(body).decode("ascii"), True
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def _request_time(now: datetime) -> str:
    return now.strftime("%d/%b/%Y:%H:%M:%S +0000")


def rest_proxy_event(
    *,
    method: str,
    resource: str,
    path: str,
    headers: HeaderPairs = (),
    query: HeaderPairs = (),
    path_parameters: Mapping[str, str] | None = None,
    body: bytes = b"",
    binary: bool = False,
    source_ip: str = "127.0.0.1",
    authorizer: Mapping[str, Any] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (v1) Lambda proxy event; `authorizer` is the context the authorizer set."""
    now = datetime.now(UTC)
    single_headers, multi_headers = _header_maps(headers)
    single_query, multi_query = _single_and_multi(query)
    encoded, is_base64 = encode_body(body, _header_value(headers, "content-type"), binary)
    request_id = request_id or str(uuid.uuid4())
    request_context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": single_headers.get("Host", "127.0.0.1"),
        "domainPrefix": "127",
        "extendedRequestId": request_id,
        "httpMethod": method.upper(),
        "identity": {
            "accessKey": None,
            "accountId": None,
            "caller": None,
            "cognitoAuthenticationProvider": None,
            "cognitoAuthenticationType": None,
            "cognitoIdentityId": None,
            "cognitoIdentityPoolId": None,
            "principalOrgId": None,
            "sourceIp": source_ip,
            "user": None,
            "userAgent": single_headers.get("User-Agent"),
            "userArn": None,
        },
        "path": f"/{STAGE}{path}",
        "protocol": "HTTP/1.1",
        "requestId": request_id,
        "requestTime": _request_time(now),
        "requestTimeEpoch": int(now.timestamp() * 1000),
        "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, f"{method} {resource}").hex[:6],
        "resourcePath": resource,
        "stage": STAGE,
    }
    if authorizer is not None:
        request_context["authorizer"] = dict(authorizer)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method.upper(),
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": request_context,
        "body": encoded,
        "isBase64Encoded": is_base64,
    }


def rest_authorizer_event(
    *,
    method: str,
    resource: str,
    path: str,
    headers: HeaderPairs = (),
    query: HeaderPairs = (),
    path_parameters: Mapping[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    request_id: str | None = None,
) -> dict[str, Any]:
    """The input of a REQUEST Lambda authorizer: the request's parameters and its method ARN."""
    proxy = rest_proxy_event(
        method=method,
        resource=resource,
        path=path,
        headers=headers,
        query=query,
        path_parameters=path_parameters,
        source_ip=source_ip,
        request_id=request_id,
    )
    return {
        "type": "REQUEST",
        "methodArn": method_arn(method, path),
        "resource": resource,
        "path": path,
        "httpMethod": method.upper(),
        "headers": proxy["headers"],
        "multiValueHeaders": proxy["multiValueHeaders"],
        "queryStringParameters": proxy["queryStringParameters"] or {},
        "multiValueQueryStringParameters": proxy["multiValueQueryStringParameters"] or {},
        "pathParameters": proxy["pathParameters"] or {},
        "stageVariables": {},
        "requestContext": proxy["requestContext"],
    }


def authorizer_context(principal_id: str, context: Mapping[str, Any] | None) -> dict[str, Any]:
    """`requestContext.authorizer` as API Gateway fills it from an authorizer's answer.

    API Gateway passes context values on as strings; objects and arrays are refused.
    """
    result: dict[str, Any] = {}
    for key, value in (context or {}).items():
        if isinstance(value, bool):
            result[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            result[key] = str(value)
        elif value is None:
            continue
        else:
            raise ValueError(f"authorizer context value {key!r} must be a string, number or boolean")
    result["principalId"] = principal_id
    result["integrationLatency"] = 0
    return result


def scheduled_event(rule_name: str, when: datetime | None = None) -> dict[str, Any]:
    """The EventBridge event a schedule rule sends its target."""
    when = when or datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }


def _lambda_attribute_value(value: Any) -> Any:
    """A DynamoDB attribute value as Lambda receives it: binary as base64 text, not bytes."""
    if isinstance(value, Mapping):
        (tag, inner), *_ = value.items()
        if tag == "B":
            return {"B": _b64(inner)}
        if tag == "BS":
            return {"BS": [_b64(item) for item in inner]}
        if tag == "M":
            return {"M": {k: _lambda_attribute_value(v) for k, v in inner.items()}}
        if tag == "L":
            return {"L": [_lambda_attribute_value(v) for v in inner]}
        return {tag: inner}
    return value


def _b64(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)


def _image(image: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if image is None:
        return None
    return {name: _lambda_attribute_value(value) for name, value in image.items()}


def _epoch_seconds(value: datetime | float | int | None) -> float:
    if value is None:
        return float(int(time.time()))
    if isinstance(value, datetime):
        # moto keeps naive UTC datetimes; botocore hands out aware ones
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return float(int(aware.timestamp()))
    return float(value)


def stream_record(
    *,
    event_name: str,
    keys: Mapping[str, Any],
    sequence_number: str,
    stream_arn: str,
    new_image: Mapping[str, Any] | None = None,
    old_image: Mapping[str, Any] | None = None,
    view_type: str = "NEW_AND_OLD_IMAGES",
    created: datetime | float | None = None,
    size_bytes: int | None = None,
    event_id: str | None = None,
    by_ttl: bool = False,
) -> dict[str, Any]:
    """One DynamoDB Stream record as Lambda delivers it; `by_ttl` marks a TTL expiry removal."""
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": _epoch_seconds(created),
        "Keys": _image(keys),
        "SequenceNumber": str(sequence_number),
        "StreamViewType": view_type,
    }
    if new_image is not None and view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
        dynamodb["NewImage"] = _image(new_image)
    if old_image is not None and view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
        dynamodb["OldImage"] = _image(old_image)
    dynamodb["SizeBytes"] = size_bytes if size_bytes is not None else len(repr(dynamodb))
    record: dict[str, Any] = {
        "eventID": event_id or uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if by_ttl and event_name == "REMOVE":
        record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return record


def stream_record_from_api(raw: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A record read with `dynamodbstreams.get_records`, reshaped as Lambda's event source delivers it."""
    dynamodb = raw["dynamodb"]
    user_identity = raw.get("userIdentity") or {}
    return stream_record(
        event_name=raw["eventName"],
        keys=dynamodb["Keys"],
        sequence_number=dynamodb["SequenceNumber"],
        stream_arn=stream_arn,
        new_image=dynamodb.get("NewImage"),
        old_image=dynamodb.get("OldImage"),
        view_type=dynamodb.get("StreamViewType", "NEW_AND_OLD_IMAGES"),
        created=dynamodb.get("ApproximateCreationDateTime"),
        size_bytes=dynamodb.get("SizeBytes"),
        event_id=raw.get("eventID"),
        by_ttl=user_identity.get("principalId") == "dynamodb.amazonaws.com",
    )


def stream_batch(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The event a DynamoDB-stream event source mapping invokes its function with."""
    return {"Records": [dict(record) for record in records]}


def iot_presence_event(
    client_id: str,
    connected: bool,
    *,
    principal: str | None = None,
    session_id: str | None = None,
    source_ip: str = "127.0.0.1",
    client_initiated: bool = True,
    disconnect_reason: str = "CLIENT_INITIATED_DISCONNECT",
    version: int = 0,
    timestamp_ms: int | None = None,
) -> dict[str, Any]:
    """The payload AWS IoT publishes on `$aws/events/presence/connected|disconnected/<client id>`."""
    event: dict[str, Any] = {
        "clientId": client_id,
        "timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
        "eventType": "connected" if connected else "disconnected",
        "sessionIdentifier": session_id or str(uuid.uuid4()),
        "principalIdentifier": principal or client_id,
        "versionNumber": version,
    }
    if connected:
        event["ipAddress"] = source_ip
    else:
        event["clientInitiatedDisconnect"] = client_initiated
        event["disconnectReason"] = disconnect_reason
    return event


def presence_topic(client_id: str, connected: bool) -> str:
    """The lifecycle topic of a presence event."""
    return f"$aws/events/presence/{'connected' if connected else 'disconnected'}/{client_id}"


def iot_authorizer_event(
    *,
    client_id: str | None,
    username: str | None,
    password: bytes | str | None,
    connection_id: str | None = None,
    server_name: str | None = None,
) -> dict[str, Any]:
    """The input of an AWS IoT custom authorizer for an MQTT CONNECT (password base64-encoded)."""
    mqtt: dict[str, Any] = {}
    if username is not None:
        mqtt["username"] = username
    if password is not None:
        raw = password.encode("utf-8") if isinstance(password, str) else password
        mqtt["password"] = base64.b64encode(raw).decode("ascii")
    if client_id is not None:
        mqtt["clientId"] = client_id
    protocols = ["tls", "mqtt"] if server_name else ["mqtt"]
    protocol_data: dict[str, Any] = {"mqtt": mqtt}
    if server_name:
        protocol_data["tls"] = {"serverName": server_name}
    return {
        "signatureVerified": False,
        "protocols": protocols,
        "protocolData": protocol_data,
        "connectionMetadata": {"id": connection_id or str(uuid.uuid4())},
    }


def websocket_route_arn(route_key: str, api_id: str = API_ID) -> str:
    """The ARN API Gateway gives a WebSocket REQUEST authorizer: `.../api-id/stage/$connect`."""
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}/{STAGE}/{route_key}"


def _websocket_context(
    *,
    route_key: str,
    event_type: str,
    connection_id: str,
    connected_at_ms: int,
    domain: str,
    api_id: str,
    source_ip: str,
    user_agent: str | None,
    authorizer: Mapping[str, Any] | None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    request_id = str(uuid.uuid4())
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": _request_time(now),
        "messageDirection": "IN",
        "stage": STAGE,
        "connectedAt": connected_at_ms,
        "requestTimeEpoch": int(now.timestamp() * 1000),
        "identity": {"sourceIp": source_ip, "userAgent": user_agent},
        "requestId": request_id,
        "domainName": domain,
        "connectionId": connection_id,
        "apiId": api_id,
    }
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    return context


def websocket_authorizer_event(
    *,
    connection_id: str,
    connected_at_ms: int,
    headers: HeaderPairs = (),
    query: HeaderPairs = (),
    domain: str = "127.0.0.1",
    api_id: str = API_ID,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The input of a WebSocket API's REQUEST authorizer on `$connect`."""
    single_headers, multi_headers = _header_maps(headers)
    single_query, multi_query = _single_and_multi(query)
    return {
        "type": "REQUEST",
        "methodArn": websocket_route_arn("$connect", api_id),
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query or {},
        "multiValueQueryStringParameters": multi_query or {},
        "stageVariables": {},
        "requestContext": _websocket_context(
            route_key="$connect", event_type="CONNECT", connection_id=connection_id,
            connected_at_ms=connected_at_ms, domain=domain, api_id=api_id, source_ip=source_ip,
            user_agent=single_headers.get("User-Agent"), authorizer=None,
        ),
    }


def websocket_connect_event(
    *,
    connection_id: str,
    connected_at_ms: int,
    authorizer: Mapping[str, Any] | None,
    headers: HeaderPairs = (),
    query: HeaderPairs = (),
    domain: str = "127.0.0.1",
    api_id: str = API_ID,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """What the `$connect` route's Lambda proxy integration receives."""
    single_headers, multi_headers = _header_maps(headers)
    single_query, multi_query = _single_and_multi(query)
    event: dict[str, Any] = {
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "requestContext": _websocket_context(
            route_key="$connect", event_type="CONNECT", connection_id=connection_id,
            connected_at_ms=connected_at_ms, domain=domain, api_id=api_id, source_ip=source_ip,
            user_agent=single_headers.get("User-Agent"), authorizer=authorizer,
        ),
        "isBase64Encoded": False,
    }
    if single_query:
        event["queryStringParameters"] = single_query
        event["multiValueQueryStringParameters"] = multi_query
    return event


def websocket_message_event(
    *,
    route_key: str,
    connection_id: str,
    connected_at_ms: int,
    body: str | bytes,
    authorizer: Mapping[str, Any] | None,
    domain: str = "127.0.0.1",
    api_id: str = API_ID,
    source_ip: str = "127.0.0.1",
    user_agent: str | None = None,
) -> dict[str, Any]:
    """A frame routed to `route_key`; a binary frame arrives base64-encoded."""
    context = _websocket_context(
        route_key=route_key, event_type="MESSAGE", connection_id=connection_id, connected_at_ms=connected_at_ms,
        domain=domain, api_id=api_id, source_ip=source_ip, user_agent=user_agent, authorizer=authorizer,
    )
    context["messageId"] = base64.b64encode(uuid.uuid4().bytes[:12]).decode("ascii")
    if isinstance(body, bytes):
        return {"requestContext": context, "body": base64.b64encode(body).decode("ascii"), "isBase64Encoded": True}
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


def websocket_disconnect_event(
    *,
    connection_id: str,
    connected_at_ms: int,
    status_code: int,
    reason: str,
    authorizer: Mapping[str, Any] | None,
    domain: str = "127.0.0.1",
    api_id: str = API_ID,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """What `$disconnect` receives once a connection is gone, whoever closed it."""
    context = _websocket_context(
        route_key="$disconnect", event_type="DISCONNECT", connection_id=connection_id,
        connected_at_ms=connected_at_ms, domain=domain, api_id=api_id, source_ip=source_ip, user_agent=None,
        authorizer=authorizer,
    )
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    return {"headers": {"Host": domain}, "multiValueHeaders": {"Host": [domain]}, "requestContext": context,
            "isBase64Encoded": False}
