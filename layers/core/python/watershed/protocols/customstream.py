"""Custom Stream (MK Data Hub API Factory) under `/customstream`: translation only.

A dataset is a `json` stream (services.documents); its documents are intervals. Every error body
is plain text; a 401 carries `WWW-Authenticate: Basic realm="Realm"` as the original's does.
"""

from __future__ import annotations

import json
from typing import Any

from watershed.api.request import Reply, Request
from watershed.errors import MissingCredential, Unauthorized, ValidationError, WatershedError
from watershed.services import documents

TEXT = "text/plain; charset=utf-8"
MISSING_KEY = "Dataset key must be provided as HTTP Basic Auth username"
ITEMS_READ = "X-Watershed-Items-Read"
"""How many stored documents a query read: shows that a `_timestamp` bound narrows the read."""


def error_reply(error: WatershedError) -> Reply:
    headers = {"Content-Type": TEXT}
    message = error.message
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = 'Basic realm="Realm"'
        message = MISSING_KEY if isinstance(error, MissingCredential) else "Invalid dataset key"
    elif error.field:
        message = f"{message} ({error.field})"
    return Reply(error.status, headers=headers, raw=message.encode("utf-8"))


def _text(status: int, message: str) -> Reply:
    return Reply(status, headers={"Content-Type": TEXT}, raw=message.encode("utf-8"))


def _json_body(request: Request, malformed: str) -> Any:
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError(malformed, None) from None


def _uuid(request: Request) -> str:
    return request.path_params["uuid"]


def put_object(request: Request) -> Reply:
    """PUT or POST a document (or, Watershed's choice, an array of them): 201 `Object created`."""
    body = _json_body(request, "Bad request, malformed JSON")
    docs = body if isinstance(body, list) else [body]
    if not docs:
        raise ValidationError("Bad request, no documents in the array", None)
    stream = documents.dataset(request.principal, _uuid(request), create=True)
    documents.insert(stream, _uuid(request), docs)
    return _text(201, "Object created")


def replace_object(request: Request) -> Reply:
    """PUT or POST a whole document at its `_id`: 204 when replaced, 201 when new."""
    body = _json_body(request, "Bad request, malformed JSON")
    stream = documents.dataset(request.principal, _uuid(request), create=True)
    if documents.replace(stream, _uuid(request), request.path_params["docid"], body):
        return Reply(204, headers={"Content-Type": TEXT}, raw=b"")
    return _text(201, "Object created")


def delete_object(request: Request) -> Reply:
    stream = documents.dataset(request.principal, _uuid(request), create=False)
    if documents.delete(stream, request.path_params["docid"]):
        return Reply(204, headers={"Content-Type": TEXT}, raw=b"")
    return _text(200, "No items to delete")


def _answer(request: Request, uuid: str, query: dict[str, Any]) -> Reply:
    stream = documents.dataset(request.principal, uuid, create=False)
    found = documents.find(stream, documents.check_filter(query), documents.parse_limit(request.query.get("limit")))
    return Reply(200, found.documents, headers={ITEMS_READ: str(found.items_read)})


def query_all(request: Request) -> Reply:
    """GET: every document (no filter), newest first, `limit` 100 by default."""
    return _answer(request, _uuid(request), {})


def query_filter(request: Request) -> Reply:
    """POST a MongoDB filter; an empty body or `{}` means every document."""
    if not request.body.strip():
        return _answer(request, _uuid(request), {})
    return _answer(request, _uuid(request), _json_body(request, "Bad request, malformed JSON query"))


def legacy_read(request: Request) -> Reply:
    """The pre-rewrite `read?path=/<uuid>`, as the original mapped it onto the query route."""
    uuid = (request.query.get("path") or "").strip("/")
    if not uuid:
        raise ValidationError("Bad request, missing dataset uuid", "path")
    return _answer(request, uuid, {})
