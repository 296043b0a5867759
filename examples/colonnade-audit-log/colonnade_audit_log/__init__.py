"""Audit log: records colonnade events (sign-ups, sign-ins, sign-outs, account changes) in its own table.

Implements: register_config_models, register_db_models, register_actions, register_blueprints, on_event.
Config: ``[plugins.audit_log] events = ["auth.*"]``: shell-style patterns of the event names to record
(``["*"]`` records every event any plugin declares).
Storage: the Tortoise app ``audit_log`` with one table, ``audit_log_entry``, created by the migrations
in ``colonnade_audit_log.migrations`` (``colonnade migrate``, or ``serve`` at start).
Routes: ``GET /api/audit_log`` lists entries, newest first, for admins only (action ``audit_log.read``).
"""

from __future__ import annotations

import dataclasses
import json
from fnmatch import fnmatchcase
from typing import Any

from colonnade import Action, Event, hookimpl
from pydantic import BaseModel, Field

#: Event fields stored in their own columns rather than in ``data``.
COLUMN_FIELDS = ("actor", "created", "user_id")


class AuditLogConfig(BaseModel):
    """``[plugins.audit_log]``."""

    events: list[str] = Field(default_factory=lambda: ["auth.*"])


@hookimpl
def register_config_models() -> dict[str, type[BaseModel]]:
    return {"audit_log": AuditLogConfig}


@hookimpl
def register_db_models() -> dict[str, list[str]]:
    # The app label is the plugin name, and migrations/ beside models.py holds its migrations.
    return {"audit_log": ["colonnade_audit_log.models"]}


@hookimpl
def register_actions(host: Any) -> list[Action]:
    return [Action("audit_log.read", "Read the audit log", default_role="admin")]


@hookimpl
def register_blueprints(host: Any) -> list[Any]:
    from colonnade_audit_log.views import bp

    return [(bp, {"url_prefix": "/api/audit_log"})]


@hookimpl
def on_event(host: Any, event: Event) -> Any:
    # Decline synchronously for events nobody asked to record, so they cost no task and no query.
    patterns = host.plugin_config("audit_log").events
    if not any(fnmatchcase(event.name, pattern) for pattern in patterns):
        return None
    return record(event)


async def record(event: Event) -> None:
    """Store one event. A failure here is logged by the host and never fails the request that emitted it."""
    from colonnade_audit_log.models import AuditEntry

    await AuditEntry.create(
        event=event.name,
        actor_id=event.actor.id if event.actor is not None else None,
        user_id=getattr(event, "user_id", None) or None,
        address=_client_address(),
        data=event_data(event),
        created_at=int(event.created),
    )


def event_data(event: Event) -> dict[str, Any]:
    """The event's own fields as JSON values (tuples become lists, anything unusual its ``str``)."""
    fields = {
        field.name: getattr(event, field.name)
        for field in dataclasses.fields(event)
        if field.name not in COLUMN_FIELDS
    }
    return json.loads(json.dumps(fields, default=str))


def _client_address() -> str | None:
    # Events are usually emitted while a request is served, but a startup hook or a background task
    # may emit one too, with no request to take an address from.
    from quart import has_request_context, request

    return request.remote_addr if has_request_context() else None
