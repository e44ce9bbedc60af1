"""CDK app entry: `python app.py` synthesizes into cdk.out without the CDK CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1,20")

import aws_cdk as cdk

from infra.account import AccountStack
from infra.nag import apply_checks
from infra.settings import Settings
from infra.stack import WatershedStack


def build(app: cdk.App) -> WatershedStack:
    """The stack for the stage in context and the account's bootstrap stack it depends on, with
    cdk-nag's AwsSolutions checks applied."""
    settings = Settings.from_context(app.node)
    env = cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION"))
    account = AccountStack(app, env=env, description="Watershed: once per account and region (API Gateway logging)")
    cdk.Tags.of(account).add("project", "watershed")
    stack = WatershedStack(
        app,
        f"Watershed-{settings.stage}",
        settings=settings,
        env=env,
        description=f"Watershed IoT time-series platform ({settings.stage})",
    )
    stack.add_stack_dependency(account, "API Gateway access logging needs the account's CloudWatch role")
    cdk.Tags.of(stack).add("project", "watershed")
    cdk.Tags.of(stack).add("stage", settings.stage)
    apply_checks(app)
    return stack


ROOT = Path(__file__).resolve().parent


def cli_free_settings() -> dict[str, Any]:
    """App arguments the CDK CLI would otherwise pass: cdk.json's context and the cdk.out outdir.

    `cdk synth` exports CDK_CONTEXT_JSON/CDK_OUTDIR itself; `python app.py` must read them here.
    """
    settings: dict[str, Any] = {}
    if "CDK_CONTEXT_JSON" not in os.environ:
        settings["context"] = json.loads((ROOT / "cdk.json").read_text())["context"]
    if "CDK_OUTDIR" not in os.environ:
        settings["outdir"] = str(ROOT / "cdk.out")
    return settings


if __name__ == "__main__":
    application = cdk.App(**cli_free_settings())
    build(application)
    application.synth()
