"""The OAuth server's signing keys (KMS, ECC_NIST_P256) and, optionally, a Cognito user pool.

One asymmetric KMS key per generation named in the `signingKeys` context (the last one signs);
only functions the manifest marks `signs_tokens` get kms:Sign and kms:GetPublicKey. Verifiers
(the REST authorizer, every HTTP function) read the published public keys from the catalog and
get no KMS grant at all. To rotate: append a generation and deploy; drop the old one from the
list a deploy later (after MAX_ACCESS_TOKEN_S). With `cognitoUserPool=true` the stack also
creates a user pool an organisation can trust as an external issuer (docs/auth.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from functions.manifest import Function, Kind
from infra.nag import acknowledge
from infra.settings import Settings

SIGN_ACTIONS = ["kms:Sign", "kms:GetPublicKey"]


class OAuth(Construct):
    """Signing keys and their grants, the issuer URL every verifier needs, the optional Cognito pool."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        functions: Sequence[Function],
        handlers: dict[str, lambda_.Function],
        api: apigw.RestApi | None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not settings.signing_keys:
            raise ValueError("signingKeys must name at least one key generation")
        self.keys = [
            kms.Key(
                self,
                f"SigningKey{generation}",
                description=f"watershed {settings.stage} access tokens, generation {generation}",
                key_spec=kms.KeySpec.ECC_NIST_P256,
                key_usage=kms.KeyUsage.SIGN_VERIFY,
                removal_policy=RemovalPolicy.RETAIN if settings.is_prod else RemovalPolicy.DESTROY,
                pending_window=Duration.days(7),
            )
            for generation in settings.signing_keys
        ]
        arns = ",".join(key.key_arn for key in self.keys)
        issuer = settings.oauth_issuer.rstrip("/") or self._api_issuer(api, settings)
        for function in functions:
            handler = handlers[function.name]
            if function.kind in (Kind.HTTP, Kind.REST_AUTHORIZER) and issuer:
                handler.add_environment("OAUTH_ISSUER", issuer)
            if function.signs_tokens:
                handler.add_environment("SIGNING_KEY_ARNS", arns)
                assert handler.role is not None
                handler.role.add_to_principal_policy(
                    iam.PolicyStatement(actions=SIGN_ACTIONS, resources=[key.key_arn for key in self.keys])
                )
        self.user_pool = self._cognito(settings) if settings.cognito_user_pool else None

    @staticmethod
    def _api_issuer(api: apigw.RestApi | None, settings: Settings) -> str:
        """The stage URL, built from the API's id (its `url` would depend on the deployment: a cycle)."""
        if api is None:
            return ""
        stack = Stack.of(api)
        return f"https://{api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}/{settings.stage}"

    def _cognito(self, settings: Settings) -> cognito.UserPool:
        pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=f"{settings.prefix}-users",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(username=True, email=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12, require_digits=True, require_lowercase=True, require_uppercase=True,
                require_symbols=True,
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            removal_policy=RemovalPolicy.RETAIN if settings.is_prod else RemovalPolicy.DESTROY,
        )
        server = pool.add_resource_server(
            "Api",
            identifier="watershed",
            scopes=[cognito.ResourceServerScope(scope_name=s, scope_description=f"Watershed {s}")
                    for s in ("read", "write", "admin")],
        )
        client = pool.add_client(
            "Machines",
            generate_secret=True,
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(client_credentials=True),
                scopes=[cognito.OAuthScope.custom(f"watershed/{s}") for s in ("read", "write", "admin")],
            ),
        )
        client.node.add_dependency(server)
        acknowledge(pool, "COG8", "The Plus feature plan (threat protection) is billed per user; the pool is an "
                    "optional issuer for machine clients, which an operator can move to Plus.")
        acknowledge(pool, "COG2", "Machine clients use client_credentials, which has no MFA; people may enrol TOTP "
                    "(MFA optional), and an operator can make it required.")
        CfnOutput(self, "CognitoIssuer", value=pool.user_pool_provider_url)
        CfnOutput(self, "CognitoMachineClient", value=client.user_pool_client_id)
        return pool
