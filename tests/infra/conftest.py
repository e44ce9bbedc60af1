"""Synthesized stacks, built once per session (synth is slow).

`real` is the stack of functions/manifest.py; `synthetic` is built from a small manifest that
uses every trigger kind and grant (IoT authorizer, topic rules, schedules, table streams, lake,
queue and IoT publish access), so those constructs are exercised whether or not the real
manifest uses them yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.build_layer import build as build_layer
from tests.infra.support import SYNTHETIC_FUNCTIONS, Synth, synthesize


@pytest.fixture(scope="session", autouse=True)
def layer_built() -> None:
    """The stack packages layers/core/build; build it if stale (a no-op when up to date)."""
    build_layer()


@pytest.fixture(scope="session")
def real() -> Synth:
    from functions.manifest import FUNCTIONS

    return synthesize(FUNCTIONS)


@pytest.fixture(scope="session")
def synthetic_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("functions")
    for function in SYNTHETIC_FUNCTIONS:
        (root / function.name).mkdir()
        (root / function.name / "handler.py").write_text("def lambda_handler(event, context):\n    return {}\n")
    return root


@pytest.fixture(scope="session")
def synthetic(synthetic_code: Path) -> Synth:
    return synthesize(SYNTHETIC_FUNCTIONS, code_root=synthetic_code)


@pytest.fixture(scope="session", params=["real", "synthetic"])
def synth(request: pytest.FixtureRequest) -> Iterator[Synth]:
    """Both stacks: every generic assertion runs on the real and the synthetic manifest."""
    yield request.getfixturevalue(request.param)


PROD_ALARM_EMAIL = "ops@example.com"


@pytest.fixture(scope="session")
def prod() -> Synth:
    """The real manifest as a prod stage (RETAIN, deletion protection, a required alarm subscriber)."""
    from functions.manifest import FUNCTIONS

    return synthesize(FUNCTIONS, stage="prod", context={"alarmEmail": PROD_ALARM_EMAIL})
