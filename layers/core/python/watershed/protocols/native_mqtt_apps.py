"""Native API v1 operations for application MQTT clients (`app:<identity>`, services.mqtt.apps)."""

from __future__ import annotations

from watershed.api.request import Reply, Request
from watershed.protocols.native import listing
from watershed.services.mqtt import apps


def create_app(request: Request) -> Reply:
    """`{id, name, clientId, username, password, pools, created, topics}`; the password this once."""
    return Reply(201, apps.create_app(request.principal, request.json()))


def list_apps(request: Request) -> Reply:
    return Reply(200, listing(request, apps.list_apps(request.principal), None))


def get_app(request: Request) -> Reply:
    return Reply(200, apps.get_app(request.principal, request.id))


def delete_app(request: Request) -> Reply:
    apps.delete_app(request.principal, request.id)
    return Reply(204)
