"""Memories: short facts a user keeps for the model to recall (table ``memory_memory``).

A memory's text is also embedded into the caller's vector collection ``user-memory-<user id>``
(through the ``rag`` plugin), under the memory's id, so it can be searched by meaning. The row is
the source of truth: a search only ever returns memories whose row belongs to the caller.
"""

from __future__ import annotations

import time
import uuid

from tortoise import fields
from tortoise.models import Model


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> int:
    return int(time.time())


# One memory of one user (Open WebUI: memory). No docstring: Tortoise turns it into an SQL comment.
class Memory(Model):
    id = fields.CharField(max_length=36, primary_key=True, default=new_id)
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "auth.User", related_name="memories", on_delete=fields.CASCADE
    )
    #: user (a fact the user asked to keep) or context (learnt from conversations, the default).
    type = fields.CharField(max_length=16, default="context")
    #: A hierarchical label such as preferences/food, or nothing.
    path = fields.CharField(max_length=1024, null=True)
    content = fields.TextField()
    #: Free-form: created_by, chat_id, message_id, model.
    meta = fields.JSONField(null=True)
    created_at = fields.BigIntField(default=now)
    updated_at = fields.BigIntField(default=now)

    class Meta:
        table = "memory_memory"
        # The list query: one user's memories, oldest first.
        indexes = (("user_id", "created_at"),)
