"""Deployment settings, read once from cdk.json context (overridable with `-c key=value`)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from constructs import Node

from watershed.topics import Scheme


@dataclass(frozen=True)
class Settings:
    """Everything that differs between stages; the defaults suit a development stage."""

    stage: str = "dev"
    prod_stages: tuple[str, ...] = ("prod",)
    log_retention_days: int = 30
    log_level: str = "INFO"
    metrics_namespace: str = "Watershed"
    api_throttle_rate: int = 500
    api_throttle_burst: int = 1000
    cors_origins: tuple[str, ...] = ("*",)
    lake_ia_days: int = 90
    objects_ia_days: int = 30
    bucket_versioning: bool = False
    lake_buffer_seconds: int = 60
    athena_scan_limit_gb: int = 10
    alarm_email: str = ""
    """Subscribed to the alarm topic; required for prod stages (their alarms must reach someone)."""
    mqtt_authorizer_concurrency: int = 20
    """Reserved concurrency of the IoT custom authorizer: a CONNECT flood (signing is disabled, so
    any client can invoke it) is throttled at this many at once instead of starving every other
    function of the account's concurrency. 0: none reserved."""
    mqtt_topic_prefix: str = ""
    """Empty: this account and region host this stage only (the default, docs/deploy.md). Set when
    an account hosts several stages: every topic and client id of the stage carries it."""
    lake_active_partitions: int = 500
    """Firehose's active-partition quota for the lake stream (500 unless raised, docs/deploy.md);
    the lake alarms when the partition count nears it."""
    iot_data_endpoint: str = ""
    """`https://<id>-ats.iot.<region>.amazonaws.com` (`aws iot describe-endpoint --endpoint-type
    iot:Data-ATS`) for functions that publish; empty: boto3's regional ATS data endpoint."""

    signing_keys: tuple[str, ...] = ("1",)
    """Generations of the KMS access-token signing key; the last signs (infra/oauth.py: rotation)."""
    oauth_issuer: str = ""
    """The `iss` of Watershed's tokens (a custom domain's URL); empty: the API stage's URL."""
    cognito_user_pool: bool = False
    """Also create a Cognito user pool that organisations can trust as an external issuer."""

    @property
    def is_prod(self) -> bool:
        """Prod stages keep their data: deletion protection and RETAIN."""
        return self.stage in self.prod_stages

    @property
    def topics(self) -> Scheme:
        """The stage's MQTT topic scheme (watershed.topics)."""
        return Scheme(self.mqtt_topic_prefix)

    @property
    def prefix(self) -> str:
        """Prefix for the few physical names AWS needs (IoT, Glue, Athena): one stack per stage."""
        return f"watershed-{self.stage}"

    @classmethod
    def from_context(cls, node: Node) -> Settings:
        """Settings from the context keys of the same name in camelCase (cdk.json `context`)."""
        values: dict[str, Any] = {}
        for item in fields(cls):
            key = _camel(item.name)
            raw = node.try_get_context(key)
            if raw is None:
                continue
            default = getattr(cls, item.name)
            values[item.name] = _coerce(raw, default)
        return cls(**values)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _coerce(raw: Any, default: Any) -> Any:
    """Context from `-c key=value` arrives as a string; cdk.json gives JSON types."""
    if isinstance(default, bool):
        return raw if isinstance(raw, bool) else str(raw).lower() in {"1", "true", "yes"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, tuple):
        return tuple(raw) if isinstance(raw, list) else tuple(s.strip() for s in str(raw).split(","))
    return str(raw)
