"""Building a stack for tests, and helpers to read its template.

The synthetic manifest uses every trigger kind (IoT authorizer, topic rules, schedules, table
streams, lake access, queue access, IoT publish), so those constructs are tested whether or not
the real manifest uses them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1,20")

import aws_cdk as cdk
from aws_cdk.assertions import Template

from functions.manifest import Access, Function, Kind, Schedule, TableStream, TopicRule
from infra.nag import apply_checks
from infra.settings import Settings
from infra.stack import WatershedStack

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = json.loads((ROOT / "cdk.json").read_text())["context"]

SYNTHETIC_FUNCTIONS: tuple[Function, ...] = (
    Function("authorizer", kind=Kind.REST_AUTHORIZER, tables={"catalog": Access.READ}),
    Function(
        "ingest",
        tables={"catalog": Access.READ, "intervals": Access.READ_WRITE},
        iot_publish=("devices/*/commands", "fleet/announcements"),
    ),
    Function("device_auth", kind=Kind.IOT_AUTHORIZER, timeout_s=3, tables={"catalog": Access.READ}),
    Function(
        "device_data",
        kind=Kind.WORKER,
        tables={"catalog": Access.READ, "intervals": Access.WRITE},
        queues={"mqtt_dlq": Access.WRITE},
        topic_rules=(
            TopicRule("synthetic_data", "SELECT *, topic(2) AS station FROM 'things/+/data/+'"),
            TopicRule("synthetic_presence", "SELECT * FROM '$aws/events/presence/+/+'"),
        ),
    ),
    Function(
        "roll",
        kind=Kind.WORKER,
        tables={"intervals": Access.READ, "rollups": Access.READ_WRITE},
        schedules=(Schedule("rate(1 minute)"), Schedule("cron(0 3 * * ? *)")),
    ),
    Function(
        "changes",
        kind=Kind.WORKER,
        tables={"intervals": Access.READ, "catalog": Access.READ_WRITE},
        buckets={"lake": Access.WRITE},
        streams=(TableStream("intervals", batch_size=100, max_batching_window_s=2),),
    ),
    Function("lake_reader", kind=Kind.WORKER, tables={"catalog": Access.READ}, buckets={"lake": Access.READ}),
    Function("redrive", kind=Kind.WORKER, queues={"mqtt_dlq": Access.READ_WRITE}),
    Function("dlq_reader", kind=Kind.WORKER, queues={"mqtt_dlq": Access.READ}),
)


@dataclass
class Synth:
    """A stack, its template as a dict, and look-ups between manifest names and logical ids."""

    stack: WatershedStack
    template: Template
    functions: tuple[Function, ...]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.to_json()["Resources"]  # type: ignore[no-any-return]

    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == type_}

    def logical_id(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)

    def function_id(self, name: str) -> str:
        return self.logical_id(self.stack.functions.by_name[name])

    def function_name_of(self, logical_id: str) -> str:
        names = {self.function_id(f.name): f.name for f in self.functions}
        return names[logical_id]

    def table_id(self, key: str) -> str:
        return self.logical_id(self.stack.storage.tables[key])

    def bucket_id(self, key: str) -> str:
        return self.logical_id(self.stack.storage.buckets[key])

    def function(self, name: str) -> dict[str, Any]:
        return self.resources[self.function_id(name)]


def settings_for(context: dict[str, Any]) -> Settings:
    app = cdk.App(context=context)
    return Settings.from_context(app.node)


def synthesize(
    functions: tuple[Function, ...],
    *,
    code_root: Path | None = None,
    stage: str = "dev",
    context: dict[str, Any] | None = None,
) -> Synth:
    """Build and synthesize one stack with cdk-nag applied; an unacknowledged finding raises."""
    context = {**CONTEXT, **(context or {}), "stage": stage, "aws:cdk:disable-asset-staging": True}
    # The builtin CloudFormation validation takes ~15 s; `make synth` runs it, cfn-lint too.
    app = cdk.App(context=context, builtin_cloud_formation_validation=False)
    stack = WatershedStack(
        app,
        f"Test-{stage}",
        settings=Settings.from_context(app.node),
        functions=functions,
        code_root=code_root,
    )
    apply_checks(app)
    app.synth()
    return Synth(stack=stack, template=Template.from_stack(stack), functions=functions)


def references(value: Any) -> set[str]:
    """Logical ids a CloudFormation value points at (Ref and Fn::GetAtt, at any depth)."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and not value["Ref"].startswith("AWS::"):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for item in value.values():
            found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
