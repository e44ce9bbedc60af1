"""The shared core layer: the directory scripts/build_layer.py produced, as one LayerVersion."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.runtime import PYTHON_VERSION

ROOT = Path(__file__).resolve().parent.parent
LAYER_BUILD = ROOT / "layers" / "core" / "build"

RUNTIME: lambda_.Runtime = getattr(lambda_.Runtime, "PYTHON_" + PYTHON_VERSION.replace(".", "_"))
ARCHITECTURE = lambda_.Architecture.ARM_64


class CoreLayer(Construct):
    """`watershed` and its third-party dependencies, built for the runtime above (no boto3)."""

    def __init__(self, scope: Construct, construct_id: str, *, build_dir: Path = LAYER_BUILD) -> None:
        super().__init__(scope, construct_id)
        if not (build_dir / "python" / "watershed").is_dir():
            raise FileNotFoundError(
                f"{build_dir}/python is not built: run `make layer` (python scripts/build_layer.py)"
            )
        self.layer = lambda_.LayerVersion(
            self,
            "Core",
            code=lambda_.Code.from_asset(str(build_dir), exclude=[".*-stamp", "**/__pycache__"]),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="watershed core, Powertools, PynamoDB",
        )
