"""cdk-nag AwsSolutions runs on the stack and fails synth on an unacknowledged finding."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs

from infra.nag import apply_checks
from tests.infra.support import Synth


def test_real_and_synthetic_stacks_pass_nag(synth: Synth) -> None:
    """`synthesize` runs app.synth() with the checks applied, which raises on any finding."""
    assert synth.of_type("AWS::Lambda::Function")


def test_nag_fails_synth_on_an_unacknowledged_finding() -> None:
    app = cdk.App(builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "Bad")
    sqs.Queue(stack, "Plain", encryption=sqs.QueueEncryption.UNENCRYPTED)
    apply_checks(app)
    with pytest.raises(Exception, match="AwsSolutions-SQS2"):
        app.synth()
