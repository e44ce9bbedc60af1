"""Schedules become EventBridge rules; table streams become event source mappings with a DLQ."""

from __future__ import annotations

import pytest

from functions.manifest import Function, Kind, TableStream
from infra.streams import RETRY_ATTEMPTS
from tests.infra.support import SYNTHETIC_FUNCTIONS, Synth, references, synthesize


def test_each_schedule_is_a_rule_targeting_its_function(synth: Synth) -> None:
    rules = [r["Properties"] for r in synth.of_type("AWS::Events::Rule").values()]
    expected = sorted((s.expression, f.name) for f in synth.functions for s in f.schedules)
    actual = sorted(
        (r["ScheduleExpression"], synth.function_name_of(next(iter(references(r["Targets"][0]["Arn"]))))) for r in rules
    )
    assert actual == expected
    if synth.functions is SYNTHETIC_FUNCTIONS:
        assert len(expected) == 2


def test_each_table_stream_is_a_mapping_with_bisect_partial_failures_and_dlq(synth: Synth) -> None:
    mappings = [m["Properties"] for m in synth.of_type("AWS::Lambda::EventSourceMapping").values()]
    expected = [(f, s) for f in synth.functions for s in f.streams]
    assert len(mappings) == len(expected)
    for function, stream in expected:
        (mapping,) = [m for m in mappings if references(m["FunctionName"]) == {synth.function_id(function.name)}]
        assert references(mapping["EventSourceArn"]) == {synth.table_id(stream.table)}
        assert mapping["StartingPosition"] == "TRIM_HORIZON"
        assert mapping["BatchSize"] == stream.batch_size
        assert mapping["MaximumBatchingWindowInSeconds"] == stream.max_batching_window_s
        assert mapping["BisectBatchOnFunctionError"] is True
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["MaximumRetryAttempts"] == RETRY_ATTEMPTS
        failures_id = synth.logical_id(synth.stack.storage.stream_failures)
        assert references(mapping["DestinationConfig"]["OnFailure"]["Destination"]) == {failures_id}


def test_a_stream_on_a_table_without_a_stream_is_refused(synthetic_code) -> None:  # type: ignore[no-untyped-def]
    broken = (Function("changes", kind=Kind.WORKER, streams=(TableStream("rollups"),)),)
    with pytest.raises(Exception, match="stream_view_type"):
        synthesize(broken, code_root=synthetic_code)


def test_gateway_routes_without_an_authorizer_are_refused(synthetic_code) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Exception, match="REST_AUTHORIZER"):
        synthesize((Function("ingest"),), code_root=synthetic_code)
