"""Native API v1 operations for devices: MQTT credentials and config groups."""

from __future__ import annotations

from watershed.api.request import Reply, Request
from watershed.protocols.native import listing
from watershed.services import configs
from watershed.services.mqtt import authorizer


def rotate_secret(request: Request) -> Reply:
    """A new MQTT secret, shown once: `{stationId, clientId, username, password, topics}`."""
    return Reply(201, authorizer.rotate_secret(request.principal, request.id))


def put_config(request: Request) -> Reply:
    group = request.path_params["group"]
    return Reply(200, configs.put_config(request.principal, request.id, group, request.json()))


def get_config(request: Request) -> Reply:
    return Reply(200, configs.get_config(request.principal, request.id, request.path_params["group"]))


def list_configs(request: Request) -> Reply:
    """All groups of a station (`?name=` keeps one, as ORing's list does); groups are few, so one page."""
    data = configs.list_configs(request.principal, request.id, request.query.get("name"))
    return Reply(200, listing(request, data, None))


def delete_config(request: Request) -> Reply:
    configs.delete_config(request.principal, request.id, request.path_params["group"])
    return Reply(204)
