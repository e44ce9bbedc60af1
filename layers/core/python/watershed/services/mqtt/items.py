"""What a data message holds once its wire format is read: the service's own item types.

The protocol module of a device format (protocols/oring_mqtt) turns a payload into these;
services/mqtt stores them and dead-letters the rejected, without knowing the format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DataItem:
    """One telemetry item of a data message, checked for shape (not yet against its stream)."""

    index: int
    alias: str
    value: Any
    timestamp: int | None


@dataclass(frozen=True)
class Rejected:
    """An item that cannot be stored, with the reason (it goes to the dead-letter queue)."""

    index: int
    item: Any
    reason: str
    field: str | None = None
