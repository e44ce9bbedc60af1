"""The Watershed stack: every concern's construct, assembled from the manifest and the models.

The function list is a parameter (default: functions/manifest.FUNCTIONS) so tests can build the
stack from a small synthetic manifest that exercises triggers the real one does not use yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from pynamodb.models import Model

from functions import manifest
from functions.manifest import Function
from infra.functions import Functions
from infra.iot import Iot
from infra.lake import Lake
from infra.layer import LAYER_BUILD, CoreLayer
from infra.nag import suppress
from infra.oauth import OAuth
from infra.observability import Observability
from infra.rest_api import RestApi
from infra.schedules import Schedules
from infra.settings import Settings
from infra.storage import Storage
from infra.streams import Streams
from watershed.store.tables import TABLES


class WatershedStack(Stack):
    """Tables, buckets, lake, functions and every trigger the manifest declares."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        functions: Sequence[Function] = manifest.FUNCTIONS,
        models: dict[str, type[Model]] | None = None,
        code_root: Path | None = None,
        layer_dir: Path = LAYER_BUILD,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        self.manifest = tuple(functions)
        names = [f.name for f in self.manifest]
        if len(names) != len(set(names)):
            raise ValueError(f"manifest names a function twice: {names}")

        self.storage = Storage(self, "Storage", settings=settings, models=models or TABLES)
        self.layer = CoreLayer(self, "Layer", build_dir=layer_dir)
        self.functions = Functions(
            self,
            "Functions",
            settings=settings,
            functions=self.manifest,
            storage=self.storage,
            layer=self.layer.layer,
            code_root=code_root,
        )
        handlers = self.functions.by_name
        has_routes = any(f.routes for f in self.manifest)
        self.rest_api = (
            RestApi(self, "RestApi", settings=settings, functions=self.manifest, handlers=handlers)
            if has_routes
            else None
        )
        self.oauth = OAuth(self, "OAuth", settings=settings, functions=self.manifest, handlers=handlers,
                           api=self.rest_api.api if self.rest_api else None)
        self.lake = Lake(
            self,
            "Lake",
            settings=settings,
            bucket=self.storage.buckets["lake"],
            functions=self.manifest,
            handlers=handlers,
        )
        self.iot = Iot(
            self,
            "Iot",
            settings=settings,
            functions=self.manifest,
            handlers=handlers,
            dead_letters=self.storage.queues["mqtt_dlq"],
        )
        self.schedules = Schedules(self, "Schedules", functions=self.manifest, handlers=handlers)
        self.streams = Streams(
            self,
            "Streams",
            functions=self.manifest,
            handlers=handlers,
            tables=self.storage.tables,
            stream_view_types={k: s.stream_view_type for k, s in self.storage.specs.items()},
            failures=self.storage.stream_failures,
        )
        queues: dict[str, sqs.IQueue] = dict(self.storage.queues)
        self.observability = Observability(
            self,
            "Observability",
            settings=settings,
            api=self.rest_api.api if self.rest_api else None,
            handlers=handlers,
            tables=self.storage.tables,
            queues=queues,
            lake_stream=self.lake.stream,
            functions=self.manifest,
            stream_failures=self.storage.stream_failures,
            lake_bucket=self.storage.buckets["lake"],
        )
        self._outputs()
        suppress(self)

    def _outputs(self) -> None:
        for key, table in self.storage.tables.items():
            CfnOutput(self, f"{key.title()}Table", value=table.table_name)
        for key, bucket in self.storage.buckets.items():
            CfnOutput(self, f"{key.title()}Bucket", value=bucket.bucket_name)
        if self.rest_api is not None:
            CfnOutput(self, "ApiUrl", value=self.rest_api.api.url)
        CfnOutput(self, "LakeStream", value=self.lake.stream.delivery_stream_name)
        CfnOutput(self, "GlueDatabase", value=self.lake.database_name)
        CfnOutput(self, "AthenaWorkGroup", value=self.settings.prefix)
        CfnOutput(self, "SigningSecretArn", value=self.functions.signing_secret.secret_arn)
        CfnOutput(self, "AlarmTopic", value=self.observability.topic.topic_arn)
        if self.iot.domain is not None:
            CfnOutput(self, "MqttDomainConfiguration", value=f"{self.settings.prefix}-mqtt")
        CfnOutput(self, "MqttDeadLetterQueue", value=self.storage.queues["mqtt_dlq"].queue_url)
        CfnOutput(self, "StreamFailuresBucket", value=self.storage.stream_failures.bucket_name)
