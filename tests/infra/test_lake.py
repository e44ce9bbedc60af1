"""The lake: Firehose with org/date dynamic partitioning, Glue table, Athena workgroup, grants."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from functions.manifest import Access
from infra.lake import COLUMNS, DATA_PREFIX, PARTITION_QUERIES
from tests.infra.support import Synth, as_list, references


def _stream(synth: Synth) -> dict[str, Any]:
    (stream,) = synth.of_type("AWS::KinesisFirehose::DeliveryStream").values()
    return stream["Properties"]  # type: ignore[no-any-return]


def test_stream_writes_gzip_partitioned_by_org_and_date_to_the_lake(synth: Synth) -> None:
    props = _stream(synth)
    destination = props["ExtendedS3DestinationConfiguration"]
    assert references(destination["BucketARN"]) == {synth.bucket_id("lake")}
    assert destination["CompressionFormat"] == "GZIP"
    assert destination["Prefix"] == DATA_PREFIX
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True
    processors = {p["Type"]: p for p in destination["ProcessingConfiguration"]["Processors"]}
    assert set(processors) == {"MetadataExtraction", "AppendDelimiterToRecord"}
    parameters = {p["ParameterName"]: p["ParameterValue"] for p in processors["MetadataExtraction"]["Parameters"]}
    assert parameters["JsonParsingEngine"] == "JQ-1.6"
    query = parameters["MetadataExtractionQuery"]
    assert json.loads(query.split(":", 1)[0] + ":0}") == {"org": 0}
    assert '"date":' in query


def _partition_keys(row: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """Runs the very jq program Firehose runs (jq 1.6) on one row."""
    program = "{" + ",".join(f"{key}: ({query})" for key, query in PARTITION_QUERIES.items()) + "}"
    return subprocess.run(["jq", "-c", program], input=json.dumps(row), capture_output=True, text=True)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"org": "o1", "ts": 1795996799999, "at": 1796083200123}, {"org": "o1", "date": "2026-11-29"}),
        ({"org": "o2", "ts": 1796083200000, "at": 1796083200001}, {"org": "o2", "date": "2026-12-01"}),
        ({"org": "o3", "ts": 0, "at": 1796083200001}, {"org": "o3", "date": "1970-01-01"}),
        ({"org": "o4", "ts": 1709164800000}, {"org": "o4", "date": "2024-02-29"}),
    ],
)
def test_partition_query_gives_org_and_utc_date_of_ts_in_epoch_ms(
    row: dict[str, Any], expected: dict[str, str]
) -> None:
    out = _partition_keys(row)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == expected


def test_partition_query_refuses_a_ts_that_is_not_epoch_ms() -> None:
    """Firehose then writes the row under the error prefix, not into a partition Athena misreads."""
    out = _partition_keys({"org": "o1", "ts": "2026-11-24T23:59:02.123Z"})
    assert out.returncode != 0


def test_lake_functions_get_the_stream_name_and_writers_may_put(synth: Synth) -> None:
    stream_id = next(iter(synth.of_type("AWS::KinesisFirehose::DeliveryStream")))
    put_roles = set()
    for policy in synth.of_type("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "firehose:PutRecordBatch" in as_list(statement["Action"]):
                assert references(statement["Resource"]) == {stream_id}
                put_roles |= {r["Ref"] for r in policy["Properties"]["Roles"]}
    for function in synth.functions:
        env = synth.function(function.name)["Properties"]["Environment"]["Variables"]
        access = function.buckets.get("lake")
        assert ("LAKE_STREAM" in env) is (access is not None)
        may_put = synth.logical_id(synth.stack.functions.roles[function.name]) in put_roles
        assert may_put is (access in (Access.WRITE, Access.READ_WRITE))


def test_synthetic_changes_function_writes_the_lake(synthetic: Synth) -> None:
    env = synthetic.function("changes")["Properties"]["Environment"]["Variables"]
    assert references(env["LAKE_STREAM"]) == {next(iter(synthetic.of_type("AWS::KinesisFirehose::DeliveryStream")))}


def test_glue_table_schema_and_partition_projection(real: Synth) -> None:
    (table,) = real.of_type("AWS::Glue::Table").values()
    table_input = table["Properties"]["TableInput"]
    descriptor = table_input["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == list(COLUMNS)
    types = {c["Name"]: c["Type"] for c in descriptor["Columns"]}
    assert types["ts"] == types["at"] == "bigint"
    assert {types[name] for name in ("pool", "station", "stream", "value", "op")} == {"string"}
    assert [(c["Name"], c["Type"]) for c in table_input["PartitionKeys"]] == [("org", "string"), ("date", "string")]
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    parameters = table_input["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.org.type"] == "injected"
    assert parameters["projection.date.format"] == "yyyy-MM-dd"
    template = json.dumps(parameters["storage.location.template"])
    assert "org=${org}/date=${date}/" in template
    assert real.bucket_id("lake") in references(parameters["storage.location.template"])


def test_athena_workgroup_enforces_encrypted_results_and_a_scan_limit(real: Synth) -> None:
    (workgroup,) = real.of_type("AWS::Athena::WorkGroup").values()
    configuration = workgroup["Properties"]["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["BytesScannedCutoffPerQuery"] == real.stack.settings.athena_scan_limit_gb * 1024**3
    assert configuration["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_S3"
