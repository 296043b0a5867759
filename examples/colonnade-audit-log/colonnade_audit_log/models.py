"""The audit log's one table, ``audit_log_entry`` (tables are prefixed with the plugin name).

Schema changes need a new migration in ``migrations/``: the app label is ``audit_log``.
"""

from __future__ import annotations

import time

from tortoise import fields
from tortoise.models import Model


def now() -> int:
    return int(time.time())


class AuditEntry(Model):
    """One observed event, kept after the event object is gone."""

    id = fields.BigIntField(primary_key=True)
    # The event's name, such as auth.signin (see the emitting plugin's register_events).
    event = fields.CharField(max_length=100, db_index=True)
    # Who caused the event, when anyone signed in did (an admin deleting a user, a user signing out).
    actor_id = fields.CharField(max_length=36, null=True, db_index=True)
    # The account the event is about (the user who signed in), when the event names one.
    user_id = fields.CharField(max_length=36, null=True, db_index=True)
    # The client address of the request during which the event was emitted, if there was a request.
    address = fields.CharField(max_length=64, null=True)
    # The event's other fields, as JSON.
    data = fields.JSONField(default=dict)
    created_at = fields.BigIntField(default=now, db_index=True)

    class Meta:
        table = "audit_log_entry"

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "event": self.event,
            "actor_id": self.actor_id,
            "user_id": self.user_id,
            "address": self.address,
            "data": self.data,
            "created_at": self.created_at,
        }
