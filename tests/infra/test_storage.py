"""Tables equal the PynamoDB models; buckets are private, encrypted, TLS-only, tiered."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.infra.support import Synth
from watershed.store.tables import TABLES


def _key_schema(schema: Sequence[Any]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in schema]


def test_tables_equal_the_models(real: Synth) -> None:
    tables = real.of_type("AWS::DynamoDB::Table")
    assert len(tables) == len(TABLES)
    for key, model in TABLES.items():
        props = tables[real.table_id(key)]["Properties"]
        expected = model._get_schema()
        assert _key_schema(props["KeySchema"]) == _key_schema(expected["key_schema"])
        assert {(a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]} == {
            (a["AttributeName"], a["AttributeType"]) for a in expected["attribute_definitions"]
        }
        indexes = {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes", [])}
        assert set(indexes) == {i["index_name"] for i in expected["global_secondary_indexes"]}
        for index in expected["global_secondary_indexes"]:
            actual = indexes[index["index_name"]]
            assert _key_schema(actual["KeySchema"]) == _key_schema(index["key_schema"])
            assert actual["Projection"]["ProjectionType"] == index["projection"]["ProjectionType"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_ttl_and_streams_follow_the_models(real: Synth) -> None:
    tables = real.of_type("AWS::DynamoDB::Table")
    for key, model in TABLES.items():
        props = tables[real.table_id(key)]["Properties"]
        ttl = [a.attr_name for a in model.get_attributes().values() if type(a).__name__ == "TTLAttribute"]
        if ttl:
            assert props["TimeToLiveSpecification"] == {"AttributeName": ttl[0], "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in props
        view = getattr(model.Meta, "stream_view_type", None)
        assert props.get("StreamSpecification") == ({"StreamViewType": view} if view else None)


def test_dev_stage_destroys_and_prod_stage_retains(real: Synth, prod: Synth) -> None:
    dev = real
    for table in dev.of_type("AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Delete"
        assert table["Properties"].get("DeletionProtectionEnabled") is False
    for table in prod.of_type("AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Retain"
        assert table["Properties"]["DeletionProtectionEnabled"] is True
    for bucket in prod.of_type("AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Retain"


def _bucket_policy(synth: Synth, bucket_id: str) -> dict[str, Any]:
    for policy in synth.of_type("AWS::S3::BucketPolicy").values():
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}:
            return policy["Properties"]["PolicyDocument"]  # type: ignore[no-any-return]
    raise AssertionError(f"no policy on {bucket_id}")


def test_buckets_are_encrypted_private_tls_only_and_tiered(real: Synth) -> None:
    settings = real.stack.settings
    buckets = real.of_type("AWS::S3::Bucket")
    for key, days in (("lake", settings.lake_ia_days), ("objects", settings.objects_ia_days)):
        bucket_id = real.bucket_id(key)
        props = buckets[bucket_id]["Properties"]
        (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        transitions = [t for rule in props["LifecycleConfiguration"]["Rules"] for t in rule.get("Transitions", [])]
        assert transitions == [{"StorageClass": "STANDARD_IA", "TransitionInDays": days}]
        assert "LoggingConfiguration" in props
        denies = [
            s
            for s in _bucket_policy(real, bucket_id)["Statement"]
            if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert denies


def test_exports_expire_after_seven_days_and_nothing_else_expires(real: Synth) -> None:
    buckets = real.of_type("AWS::S3::Bucket")
    objects_rules = buckets[real.bucket_id("objects")]["Properties"]["LifecycleConfiguration"]["Rules"]
    (expiring,) = [r for r in objects_rules if "ExpirationInDays" in r]
    assert expiring["Prefix"] == "exports/"
    assert expiring["ExpirationInDays"] == 7
    assert expiring["Status"] == "Enabled"
    lake_rules = buckets[real.bucket_id("lake")]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert not [r for r in lake_rules if "ExpirationInDays" in r]
