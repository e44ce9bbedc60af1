"""AWS IoT Core from the manifest: the custom authorizer, its domain configuration, the topic rules.

IoT rules and authorizers exist only as L1 constructs (docs/architecture.md, The doors). Username/password MQTT with a
custom authorizer works on the default endpoint only on port 443 with ALPN `mqtt`; the domain
configuration below makes our authorizer the default of an AWS-managed endpoint, so plain MQTT
over TLS on 8883 works too.

A rule's Lambda action is an asynchronous invocation: a function error is retried by Lambda
(ASYNC_RETRIES) and then, like a message the rule could not deliver (its error action), lands in
the `mqtt_dlq` queue, so nothing a device sent is lost silently. Functions with topic rules must
declare write access to that queue in the manifest (their handlers park refused items there too).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions.manifest import Access, Function, Kind
from infra.functions import construct_id
from infra.settings import Settings

IOT_SQL_VERSION = "2016-03-23"
DLQ = "mqtt_dlq"
ASYNC_RETRIES = 2
"""Lambda's maximum for asynchronous invocations; interval writes are idempotent, so a retry is safe."""
ASYNC_MAX_EVENT_AGE = Duration.hours(1)


def rule_name(settings: Settings, name: str) -> str:
    """IoT rule names are unique per account and region and allow only [A-Za-z0-9_]."""
    return re.sub(r"\W", "_", f"watershed_{settings.stage}_{name}")


class Iot(Construct):
    """Authorizer + domain configuration (when the manifest has one) and every topic rule."""

    def __init__(
        self,
        scope: Construct,
        construct_id_: str,
        *,
        settings: Settings,
        functions: Sequence[Function],
        handlers: dict[str, lambda_.Function],
        dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id_)
        self.authorizer: iot.CfnAuthorizer | None = None
        self.domain: iot.CfnDomainConfiguration | None = None
        self.rules: dict[str, iot.CfnTopicRule] = {}
        self.dead_letters = dead_letters
        authorizers = [f for f in functions if f.kind is Kind.IOT_AUTHORIZER]
        if len(authorizers) > 1:
            raise ValueError(f"one IoT authorizer expected, manifest has {[f.name for f in authorizers]}")
        if authorizers:
            self._authorizer(settings, handlers[authorizers[0].name])
        with_rules = [f for f in functions if f.topic_rules]
        if with_rules:
            self._rules(settings, with_rules, handlers)

    def _authorizer(self, settings: Settings, handler: lambda_.Function) -> None:
        name = f"{settings.prefix}-mqtt"
        self.authorizer = iot.CfnAuthorizer(
            self,
            "Authorizer",
            authorizer_name=name,
            authorizer_function_arn=handler.function_arn,
            signing_disabled=True,
            status="ACTIVE",
        )
        lambda_.CfnPermission(
            self,
            "AuthorizerInvoke",
            action="lambda:InvokeFunction",
            function_name=handler.function_name,
            principal="iot.amazonaws.com",
            source_arn=self.authorizer.attr_arn,
            source_account=Aws.ACCOUNT_ID,
        )
        self.domain = iot.CfnDomainConfiguration(
            self,
            "Domain",
            domain_configuration_name=f"{settings.prefix}-mqtt",
            domain_configuration_status="ENABLED",
            service_type="DATA",
            authentication_type="CUSTOM_AUTH",
            application_protocol="SECURE_MQTT",
            authorizer_config=iot.CfnDomainConfiguration.AuthorizerConfigProperty(
                default_authorizer_name=name, allow_authorizer_override=False
            ),
        )
        self.domain.node.add_dependency(self.authorizer)

    def _rules(self, settings: Settings, functions: Sequence[Function], handlers: dict[str, lambda_.Function]) -> None:
        error_role = iam.Role(
            self,
            "ErrorActionRole",
            assumed_by=iam.ServicePrincipal("iot.amazonaws.com"),
            description="lets IoT rules send failed messages to the MQTT dead-letter queue",
        )
        self.dead_letters.grant_send_messages(error_role)
        account = Stack.of(self).account
        for function in functions:
            if function.queues.get(DLQ) not in (Access.WRITE, Access.READ_WRITE):
                raise ValueError(
                    f"{function.name!r} has topic rules, so the manifest must give it queues={{{DLQ!r}: Access.WRITE}}"
                )
            handler = handlers[function.name]
            handler.configure_async_invoke(
                on_failure=destinations.SqsDestination(self.dead_letters),
                retry_attempts=ASYNC_RETRIES,
                max_event_age=ASYNC_MAX_EVENT_AGE,
            )
            for rule in function.topic_rules:
                if rule.name in self.rules:
                    raise ValueError(f"topic rule {rule.name!r} is declared twice")
                topic_rule = iot.CfnTopicRule(
                    self,
                    f"Rule{construct_id(rule.name)}",
                    rule_name=rule_name(settings, rule.name),
                    topic_rule_payload=iot.CfnTopicRule.TopicRulePayloadProperty(
                        sql=rule.sql_for(settings.topics),
                        aws_iot_sql_version=IOT_SQL_VERSION,
                        rule_disabled=False,
                        description=f"{rule.name} → {function.name}",
                        actions=[
                            iot.CfnTopicRule.ActionProperty(
                                lambda_=iot.CfnTopicRule.LambdaActionProperty(function_arn=handler.function_arn)
                            )
                        ],
                        error_action=iot.CfnTopicRule.ActionProperty(
                            sqs=iot.CfnTopicRule.SqsActionProperty(
                                queue_url=self.dead_letters.queue_url,
                                role_arn=error_role.role_arn,
                                use_base64=False,
                            )
                        ),
                    ),
                )
                lambda_.CfnPermission(
                    self,
                    f"Rule{construct_id(rule.name)}Invoke",
                    action="lambda:InvokeFunction",
                    function_name=handler.function_name,
                    principal="iot.amazonaws.com",
                    source_arn=topic_rule.attr_arn,
                    source_account=account,
                )
                self.rules[rule.name] = topic_rule
