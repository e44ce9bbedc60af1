"""EventBridge rules for the manifest's schedules (e.g. the rollup job, every minute)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from functions.manifest import Function
from infra.functions import construct_id


class Schedules(Construct):
    """One rule per (function, schedule); `rules` keeps them by function name for tests and alarms."""

    def __init__(
        self,
        scope: Construct,
        construct_id_: str,
        *,
        functions: Sequence[Function],
        handlers: dict[str, lambda_.Function],
    ) -> None:
        super().__init__(scope, construct_id_)
        self.rules: dict[str, list[events.Rule]] = {}
        for function in functions:
            for position, schedule in enumerate(function.schedules):
                rule = events.Rule(
                    self,
                    f"{construct_id(function.name)}{position}",
                    description=f"{function.name}: {schedule.expression}",
                    schedule=events.Schedule.expression(schedule.expression),
                    targets=[
                        targets.LambdaFunction(
                            handlers[function.name],
                            retry_attempts=2,
                            # A later tick does the same work; an old one is not worth running.
                            max_event_age=Duration.minutes(5),
                        )
                    ],
                )
                self.rules.setdefault(function.name, []).append(rule)
