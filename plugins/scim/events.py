"""Events the scim plugin emits."""

from __future__ import annotations

from dataclasses import dataclass

from colonnade.events import Event


@dataclass
class ScimResourceChanged(Event):
    """A User or Group was created, replaced, patched or deleted through SCIM (after the write)."""

    name = "scim.resource_changed"
    resource_type: str = ""
    resource_id: str = ""
    operation: str = ""


ALL_EVENTS = [ScimResourceChanged]
