"""The DynamoDB tables, declared once: infra/ derives the CDK tables from these models."""

from __future__ import annotations

from pynamodb.attributes import (
    JSONAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from watershed import config


class ByParentIndex(GlobalSecondaryIndex["CatalogItem"]):
    """Children of a parent (pools of an org, stations of a pool...), and secondary-id look-ups."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class CatalogItem(Model):
    """Single-table catalog: every entity is `pk=<KIND>#<id>, sk=META`; guards enforce natural keys."""

    class Meta:
        table_name = config.CATALOG_TABLE
        region = config.REGION
        billing_mode = "PAY_PER_REQUEST"
        stream_view_type = "NEW_AND_OLD_IMAGES"  # the catalog change feed (functions/catalog_changes)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    kind = UnicodeAttribute(null=True)
    org = UnicodeAttribute(null=True)
    doc = JSONAttribute(null=True)
    expires = TTLAttribute(null=True)
    by_parent = ByParentIndex()


class IntervalItem(Model):
    """One interval: `pk` = stream id, `sk` = epoch ms, `v` = the JSON-encoded value."""

    class Meta:
        table_name = config.INTERVALS_TABLE
        region = config.REGION
        billing_mode = "PAY_PER_REQUEST"
        stream_view_type = "NEW_AND_OLD_IMAGES"

    pk = UnicodeAttribute(hash_key=True)
    sk = NumberAttribute(range_key=True)
    v = UnicodeAttribute()
    expires = TTLAttribute(null=True)


class RollupItem(Model):
    """One aggregate bucket: `pk` = `<stream id>#<period>`, `sk` = bucket start epoch ms."""

    class Meta:
        table_name = config.ROLLUPS_TABLE
        region = config.REGION
        billing_mode = "PAY_PER_REQUEST"

    pk = UnicodeAttribute(hash_key=True)
    sk = NumberAttribute(range_key=True)
    agg = MapAttribute[str, object](null=True)


class ByStreamIndex(GlobalSecondaryIndex["ConnectionItem"]):
    """Subscribers of a stream: the `changes` function's one Query per touched stream."""

    class Meta:
        index_name = "by_stream"
        projection = AllProjection()

    stream = UnicodeAttribute(hash_key=True)
    pk = UnicodeAttribute(range_key=True)


class ConnectionItem(Model):
    """A live WebSocket connection (`sk` = `conn`) and its subscriptions, one item per subscribed stream
    (`sk` = `sub#<subscription>#<stream>`, `stream` set). TTL drops what a lost `$disconnect` left behind."""

    class Meta:
        table_name = config.CONNECTIONS_TABLE
        region = config.REGION
        billing_mode = "PAY_PER_REQUEST"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    stream = UnicodeAttribute(null=True)
    doc = JSONAttribute(null=True)
    expires = TTLAttribute(null=True)
    by_stream = ByStreamIndex()


TABLES: dict[str, type[Model]] = {
    "catalog": CatalogItem,
    "intervals": IntervalItem,
    "rollups": RollupItem,
    "connections": ConnectionItem,
}
