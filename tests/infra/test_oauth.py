"""The OAuth server in the template: the KMS signing keys, who may sign, the issuer, Cognito (issue 21)."""

from __future__ import annotations

from typing import Any

import pytest

from functions.manifest import FUNCTIONS
from tests.infra.support import Synth, as_list, references, synthesize


def _kms_statements(synth: Synth) -> list[tuple[str, dict[str, Any]]]:
    """(role logical id, statement) for every policy statement that names a KMS action."""
    found = []
    for policy in synth.of_type("AWS::IAM::Policy").values():
        props = policy["Properties"]
        for statement in props["PolicyDocument"]["Statement"]:
            if any(str(a).startswith("kms:") for a in as_list(statement["Action"])):
                for role in props["Roles"]:
                    found.append((role["Ref"], statement))
    return found


def test_the_signing_key_is_an_asymmetric_p256_kms_key(real: Synth) -> None:
    keys = real.of_type("AWS::KMS::Key")
    signing = {k: v for k, v in keys.items() if v["Properties"].get("KeyUsage") == "SIGN_VERIFY"}
    assert len(signing) == 1
    (props,) = (v["Properties"] for v in signing.values())
    assert props["KeySpec"] == "ECC_NIST_P256"
    assert props["PendingWindowInDays"] == 7


def test_only_the_token_function_may_sign(real: Synth) -> None:
    (key_id,) = [k for k, v in real.of_type("AWS::KMS::Key").items() if v["Properties"].get("KeyUsage") ==
                 "SIGN_VERIFY"]
    signers = {f.name for f in FUNCTIONS if f.signs_tokens}
    assert signers == {"oauth"}
    role_of = {real.logical_id(role): name for name, role in real.stack.functions.roles.items()}
    statements = _kms_statements(real)
    assert statements, "the oauth function has no KMS grant"
    for role, statement in statements:
        actions = set(as_list(statement["Action"]))
        if "kms:Sign" in actions or any(a.endswith("*") for a in actions):
            assert role_of.get(role) == "oauth", (role, statement)
            assert actions == {"kms:Sign", "kms:GetPublicKey"}
            assert references(statement["Resource"]) == {key_id}
    assert {role_of.get(role) for role, _ in statements} == {"oauth"}
    key_policy = real.of_type("AWS::KMS::Key")[key_id]["Properties"]["KeyPolicy"]["Statement"]
    assert not any("kms:Sign" in as_list(s["Action"]) for s in key_policy if s.get("Principal", {}).get("AWS")
                   and "root" not in str(s["Principal"]))


def test_only_the_signer_knows_the_key_and_every_verifier_the_issuer(real: Synth) -> None:
    for function in FUNCTIONS:
        env = real.function(function.name)["Properties"]["Environment"]["Variables"]
        assert ("SIGNING_KEY_ARNS" in env) == function.signs_tokens, function.name
        if str(function.kind) in ("http", "rest_authorizer"):
            assert "OAUTH_ISSUER" in env, function.name
            api_id = real.logical_id(real.stack.rest_api.api) if real.stack.rest_api else None
            assert api_id in references(env["OAUTH_ISSUER"])


def test_no_cognito_pool_unless_the_context_asks(real: Synth) -> None:
    assert real.of_type("AWS::Cognito::UserPool") == {}


@pytest.fixture(scope="module")
def with_cognito() -> Synth:
    return synthesize(FUNCTIONS, context={"cognitoUserPool": True, "signingKeys": ["1", "2"],
                                          "oauthIssuer": "https://api.example.com/"})


def test_cognito_pool_and_key_generations_when_enabled(with_cognito: Synth) -> None:
    (pool,) = with_cognito.of_type("AWS::Cognito::UserPool").values()
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["Properties"]["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    (server,) = with_cognito.of_type("AWS::Cognito::UserPoolResourceServer").values()
    assert {s["ScopeName"] for s in server["Properties"]["Scopes"]} == {"read", "write", "admin"}
    (client,) = with_cognito.of_type("AWS::Cognito::UserPoolClient").values()
    assert client["Properties"]["AllowedOAuthFlows"] == ["client_credentials"]
    signing = [k for k, v in with_cognito.of_type("AWS::KMS::Key").items()
               if v["Properties"].get("KeyUsage") == "SIGN_VERIFY"]
    assert len(signing) == 2
    env = with_cognito.function("oauth")["Properties"]["Environment"]["Variables"]
    assert references(env["SIGNING_KEY_ARNS"]) == set(signing)
    assert with_cognito.function("authorizer")["Properties"]["Environment"]["Variables"]["OAUTH_ISSUER"] == \
        "https://api.example.com"
