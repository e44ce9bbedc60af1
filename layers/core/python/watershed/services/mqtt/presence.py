"""Reported configs and lifecycle (presence) events of MQTT stations."""

from __future__ import annotations

from typing import Any

from watershed import topics
from watershed.errors import WatershedError
from watershed.services import catalog as cat
from watershed.services import configs
from watershed.services.mqtt import dead_letters, events


def report_config(
    event: dict[str, Any], values: dict[str, Any], function: str | None = None
) -> dict[str, Any] | None:
    """Store the config a device reported on `things/<id>/config/reported/<group>` (its values
    already read from the payload by the device's protocol module)."""
    received_at = events.received_at(event)
    try:
        return configs.record_reported(str(event.get("station") or ""), str(event.get("configGroup") or ""),
                                       values, received_at)
    except WatershedError as error:
        dead_letters.send(dead_letters.letter(event, error.message, function))
        return None


def presence(event: dict[str, Any]) -> bool:
    """Apply a lifecycle event to its station's `isOnline`/`lastOnlineTime`; stale events are ignored.

    Lifecycle events may arrive out of order or twice, so an event older than the station's
    last recorded presence change does nothing. Returns whether the station changed.
    """
    station_id = topics.SCHEME.station_of_client(event.get("clientId"))
    event_type = event.get("eventType")
    timestamp = event.get("timestamp")
    if station_id is None or event_type not in ("connected", "disconnected"):
        return False
    if not isinstance(timestamp, int):
        return False
    station = cat.get_station_any(station_id)
    if station is None:
        return False
    last = station.get("lastOnlineTime")
    if isinstance(last, int) and timestamp < last:
        return False
    station["isOnline"] = event_type == "connected"
    station["lastOnlineTime"] = timestamp
    cat.save_station(station)
    return True
