"""The manifest and the functions/ folders agree, and the runtime is the newest CDK offers."""

from __future__ import annotations

import re
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

from functions.manifest import FUNCTIONS
from infra.runtime import PYTHON_VERSION
from watershed.api.routes import ROUTES

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"


def test_every_manifest_function_has_a_folder_with_a_handler() -> None:
    missing = [f.name for f in FUNCTIONS if not (f.folder / "handler.py").is_file()]
    assert missing == []


def test_every_function_folder_has_a_manifest_entry() -> None:
    folders = {p.name for p in FUNCTIONS_DIR.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    assert folders == {f.name for f in FUNCTIONS}


def test_every_route_belongs_to_a_manifest_function() -> None:
    assert {r.function for r in ROUTES} <= {f.name for f in FUNCTIONS}


def test_runtime_is_the_newest_python_cdk_offers() -> None:
    offered = [
        tuple(int(part) for part in m.groups())
        for name in dir(lambda_.Runtime)
        if (m := re.fullmatch(r"PYTHON_(\d+)_(\d+)", name))
    ]
    assert ".".join(map(str, max(offered))) == PYTHON_VERSION
