"""The catalog change feed of iTwin entities (issue 24): who hears that a node, device or sensor changed.

Every door (iTwin REST integrate, JSON-RPC create*/update*, native station and bucket PATCH and
DELETE) writes the catalog table, so its DynamoDB Stream (NEW_AND_OLD_IMAGES) is the one place
that sees them all. A record is an EntityChange when its item is a station or bucket whose props
carry ITWIN_KIND; a MODIFY that leaves the entity's seed shape as it was (a counter, a timestamp)
is no change. Subscribers of a kind in an organisation sit under one pseudo stream id
(`itwin:<org>:<kind>`), found with one Query of the subscriptions' by-stream index per (org,
kind) of a batch; their project and id filters are applied here, at delivery.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from watershed.services import itwin, live
from watershed.store import connections as store

ENTITY_ITEMS = ("station", "bucket")
CHANGE_TYPES = {"INSERT": "created", "MODIFY": "updated", "REMOVE": "deleted"}
UPDATE_KIND = "entity"
"""live.Update.kind of entity changes: data is `[{"changeType", "entity"}]`, the seed's entity shape."""


def feed_id(org: str, kind: str) -> str:
    """The pseudo stream id the subscribers of one kind of entity of an organisation sit under."""
    return f"itwin:{org}:{kind}"


@dataclass(frozen=True)
class EntityChange:
    """One iTwin entity created, updated or deleted: its item's doc (the old one for a delete)."""

    org: str
    pool: str
    kind: str
    change_type: str
    doc: dict[str, Any]


def _doc(image: dict[str, Any] | None) -> dict[str, Any] | None:
    """The catalog doc of an entity item's image; None for guards, look-ups, markers, other kinds."""
    if not image or image.get("sk", {}).get("S") != "META":
        return None
    if image.get("kind", {}).get("S") not in ENTITY_ITEMS:
        return None
    try:
        doc = json.loads(image.get("doc", {}).get("S") or "null")
    except ValueError:
        return None
    if not isinstance(doc, dict) or (doc.get("props") or {}).get("ITWIN_KIND") not in itwin.KINDS:
        return None
    return doc


def _shape(doc: dict[str, Any] | None) -> Any:
    if doc is None:
        return None
    return itwin.entity_from_doc(str(doc["props"]["ITWIN_KIND"]), doc, "")


def change_of(record: dict[str, Any]) -> EntityChange | None:
    """The EntityChange one catalog stream record stands for, or None (not an iTwin entity, or
    nothing a client sees changed)."""
    change_type = CHANGE_TYPES.get(str(record.get("eventName")))
    body = record.get("dynamodb") or {}
    old, new = _doc(body.get("OldImage")), _doc(body.get("NewImage"))
    doc = old if change_type == "deleted" else new
    if change_type is None or doc is None:
        return None
    if change_type == "updated" and old is not None and _shape(old) == _shape(new):
        return None
    if change_type == "updated" and old is None:
        change_type = "created"  # an item that only now became an iTwin entity
    if not doc.get("org") or not doc.get("pool"):
        return None
    return EntityChange(str(doc["org"]), str(doc["pool"]), str(doc["props"]["ITWIN_KIND"]), change_type, doc)


def _entity(kind: str, doc: dict[str, Any], project_key: str) -> dict[str, Any]:
    """The entity as get* answers it: a node names itself as NODE_ID, a sensor its `device`."""
    entity = itwin.entity_from_doc(kind, doc, project_key)
    if kind == "node":
        entity["props"].setdefault("NODE_ID", entity["id"])
    if kind == "sensor" and entity["props"].get("DEVICE_ID"):
        entity["device"] = entity["props"]["DEVICE_ID"]
    return entity


def _wanted(context: dict[str, Any], change: EntityChange, entity_id: str) -> bool:
    if context.get("pool") != change.pool:
        return False
    ids = context.get("ids")
    return ids is None or entity_id in ids


def deliveries(changes: Sequence[EntityChange]) -> list[live.Delivery]:
    """Who hears what of this batch: one subscriber Query per (org, kind), one Delivery per connection."""
    groups: dict[tuple[str, str], list[EntityChange]] = {}
    for change in changes:
        groups.setdefault((change.org, change.kind), []).append(change)
    out: dict[str, live.Delivery] = {}
    for (org, kind), group in groups.items():
        subscribers = store.subscribers(feed_id(org, kind))
        for subscriber in subscribers:
            context = subscriber.doc.get("context") or {}
            if subscriber.doc.get("org") != org:
                continue
            data = []
            for change in group:
                entity = _entity(kind, change.doc, str(context.get("project") or ""))
                if _wanted(context, change, str(entity["id"])):
                    data.append({"changeType": change.change_type, "entity": entity})
            if not data:
                continue
            delivery = out.get(subscriber.connection)
            if delivery is None:
                delivery = out[subscriber.connection] = live.Delivery(
                    subscriber.connection, str(subscriber.doc.get("protocol") or ""))
            delivery.updates.append(live.Update(UPDATE_KIND, subscriber.subscription, subscriber.stream, data,
                                                context))
    return list(out.values())
