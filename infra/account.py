"""Once per account and region: what every stage shares and none may own (the bootstrap stack).

API Gateway writes execution and access logs with ONE role per account and region, set by
`AWS::ApiGateway::Account`. A stage that created it (`cloud_watch_role=True`) would overwrite
the setting of every other stage and, when destroyed, stop logging for every REST API in the
region (aws-cdk#10878). This stack holds that role and setting, RETAINed, and each stage stack
depends on it, so `cdk deploy Watershed-<stage>` deploys it first and destroying a stage leaves it.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.nag import acknowledge

ACCOUNT_STACK = "WatershedAccount"
"""Not `Watershed-…`: `cdk destroy 'Watershed-*'` must never match it."""
PUSH_TO_CLOUDWATCH_POLICY = "service-role/AmazonAPIGatewayPushToCloudWatchLogs"


class AccountStack(Stack):
    """API Gateway's CloudWatch Logs role and the account setting that names it; both RETAIN."""

    def __init__(self, scope: Construct, construct_id: str = ACCOUNT_STACK, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.api_gateway_role = iam.Role(
            self,
            "ApiGatewayCloudWatchRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="API Gateway writes execution and access logs of every REST API in this region",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(PUSH_TO_CLOUDWATCH_POLICY)],
        )
        self.api_gateway_role.apply_removal_policy(RemovalPolicy.RETAIN)
        self.api_gateway_account = apigw.CfnAccount(
            self, "ApiGatewayAccount", cloud_watch_role_arn=self.api_gateway_role.role_arn
        )
        self.api_gateway_account.apply_removal_policy(RemovalPolicy.RETAIN)
        acknowledge(
            self.api_gateway_role,
            f"IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{PUSH_TO_CLOUDWATCH_POLICY}]",
            "API Gateway's account-level CloudWatch role uses the AWS-managed policy made for it.",
        )
