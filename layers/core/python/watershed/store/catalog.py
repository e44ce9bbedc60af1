"""Catalog repository: entities as `pk=<KIND>#<id>, sk=META` items, children listed through gsi1.

Natural keys (a stream's alias within its station and bucket, a station's key within its pool)
are guard items written in the same transaction as the entity, so two racing creates cannot both
win. Look-ups by natural key or by API-key hash are one GetItem.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from watershed.errors import Conflict
from watershed.store.tables import CatalogItem

META = "META"
GUARD = "GUARD"


def _tx_connection() -> Connection:
    return Connection(region=CatalogItem.Meta.region)


def entity_pk(kind: str, entity_id: str) -> str:
    return f"{kind.upper()}#{entity_id}"


def children_key(parent_kind: str, parent_id: str, child_kind: str) -> str:
    return f"{parent_kind.upper()}#{parent_id}#{child_kind.upper()}S"


def get(kind: str, entity_id: str) -> dict[str, Any] | None:
    """One consistent GetItem; None when absent."""
    try:
        item = CatalogItem.get(entity_pk(kind, entity_id), META, consistent_read=True)
    except DoesNotExist:
        return None
    return dict(item.doc or {})


def get_lookup(name: str) -> dict[str, Any] | None:
    """A guard or look-up item's document (e.g. an API key's hash, an alias)."""
    try:
        item = CatalogItem.get(name, GUARD, consistent_read=True)
    except DoesNotExist:
        return None
    return dict(item.doc or {})


def _entity(kind: str, doc: dict[str, Any], parent: tuple[str, str] | None) -> CatalogItem:
    item = CatalogItem(entity_pk(kind, doc["id"]), META, kind=kind, org=doc.get("org"), doc=doc)
    if parent is not None:
        item.gsi1pk = children_key(parent[0], parent[1], kind)
        item.gsi1sk = f"{doc['created']:013d}#{doc['id']}"
    return item


def create(
    kind: str,
    doc: dict[str, Any],
    parent: tuple[str, str] | None,
    guards: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Write an entity and its guard items atomically; a taken guard is a 409 naming its field."""
    item = _entity(kind, doc, parent)
    guard_items = {name: CatalogItem(name, GUARD, kind="guard", org=doc.get("org"), doc=body)
                   for name, body in (guards or {}).items()}
    try:
        with TransactWrite(connection=_tx_connection()) as tx:
            tx.save(item, condition=CatalogItem.pk.does_not_exist())
            for guard in guard_items.values():
                tx.save(guard, condition=CatalogItem.pk.does_not_exist())
    except TransactWriteError as exc:
        reasons = [getattr(r, "code", None) for r in (exc.cancellation_reasons or [])]
        for name, reason in zip(guard_items, reasons[1:], strict=False):
            if reason == "ConditionalCheckFailed":
                field = guard_items[name].doc.get("field", "") if guard_items[name].doc else ""
                raise Conflict(f"{field} is already taken", field or None) from None
        raise


def replace(
    kind: str,
    doc: dict[str, Any],
    parent: tuple[str, str] | None,
    add_guards: dict[str, dict[str, Any]] | None = None,
    drop_guards: list[str] | None = None,
) -> None:
    """Update an entity, moving its guards when a natural key changed."""
    item = _entity(kind, doc, parent)
    try:
        with TransactWrite(connection=_tx_connection()) as tx:
            tx.save(item, condition=CatalogItem.pk.exists())
            for name, body in (add_guards or {}).items():
                guard = CatalogItem(name, GUARD, kind="guard", org=doc.get("org"), doc=body)
                tx.save(guard, condition=CatalogItem.pk.does_not_exist())
            for name in drop_guards or []:
                tx.delete(CatalogItem(name, GUARD))
    except TransactWriteError as exc:
        reasons = [getattr(r, "code", None) for r in (exc.cancellation_reasons or [])]
        if any(r == "ConditionalCheckFailed" for r in reasons[1:]):
            field = next(iter((add_guards or {}).values()), {}).get("field")
            raise Conflict(f"{field} is already taken", field) from None
        raise


def put_lookup(name: str, org: str, body: dict[str, Any]) -> None:
    CatalogItem(name, GUARD, kind="lookup", org=org, doc=body).save()


def delete_items(keys: list[tuple[str, str]]) -> None:
    """Batch-delete catalog items by (pk, sk)."""
    with CatalogItem.batch_write() as batch:
        for pk, sk in keys:
            batch.delete(CatalogItem(pk, sk))


def children(
    parent_kind: str, parent_id: str, child_kind: str, after: str | None = None, page: int = 100,
    before: str | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Children in creation order, as (sort key, document), starting after a sort key; with
    `before`, newest first from just before that sort key (a page backwards)."""
    condition = None
    if before is not None:
        condition = CatalogItem.gsi1sk < before
    elif after is not None:
        condition = CatalogItem.gsi1sk > after
    results = CatalogItem.by_parent.query(
        children_key(parent_kind, parent_id, child_kind), range_key_condition=condition, limit=None,
        page_size=page, scan_index_forward=before is None,
    )
    for item in results:
        yield item.gsi1sk or "", dict(item.doc or {})


def create_if_absent(kind: str, doc: dict[str, Any], parent: tuple[str, str] | None) -> bool:
    """Write an entity unless its key is taken (one conditional put); True when it was written."""
    try:
        _entity(kind, doc, parent).save(condition=CatalogItem.pk.does_not_exist())
    except PutError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def create_guard(name: str, org: str, body: dict[str, Any]) -> bool:
    """A guard item unless the name is taken (one conditional put); True when it was written."""
    try:
        CatalogItem(name, GUARD, kind="guard", org=org, doc=body).save(condition=CatalogItem.pk.does_not_exist())
    except PutError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def put_guards(items: dict[str, tuple[str, dict[str, Any]]]) -> None:
    """Write guard items whatever they held (BatchWriteItem, 25 a call): names already known free."""
    with CatalogItem.batch_write() as batch:
        for name, (org, body) in items.items():
            batch.save(CatalogItem(name, GUARD, kind="guard", org=org, doc=body))


def guards_taken(names: list[str]) -> list[str]:
    """Which of these guard names exist (BatchGetItem, 100 a call)."""
    return [item.pk for item in CatalogItem.batch_get([(name, GUARD) for name in names])]
