"""Stored functions and users' valves for them (tables prefixed ``functions_``).

A function row keeps the source verbatim; ``version`` goes up on every change (source, valves,
activation, global flag, metadata), which is how every worker notices a change made on another one.
"""

from __future__ import annotations

import time

from tortoise import fields
from tortoise.models import Model


def now() -> int:
    return int(time.time())


# An Open WebUI function: source in Pipe/Filter/Action form. No docstrings on models: Tortoise turns
# them into SQL comments.
class Function(Model):
    id = fields.CharField(max_length=128, primary_key=True)
    user_id = fields.CharField(max_length=36)
    name = fields.TextField()
    # pipe, filter or action, found from the code.
    type = fields.CharField(max_length=16)
    content = fields.TextField()
    # description, manifest (the frontmatter) and toggle (filters).
    meta = fields.JSONField(default=dict)
    # The admin valves as JSON text, or a Fernet token when a valves key is configured.
    valves = fields.TextField(null=True)
    is_active = fields.BooleanField(default=False)
    is_global = fields.BooleanField(default=False)
    version = fields.IntField(default=1)
    created_at = fields.BigIntField(default=now)
    updated_at = fields.BigIntField(default=now)

    class Meta:
        table = "functions_function"


# One user valves of one function, stored like the admin valves.
class UserValves(Model):
    id = fields.BigIntField(primary_key=True)
    function_id = fields.CharField(max_length=128, db_index=True)
    user_id = fields.CharField(max_length=36)
    valves = fields.TextField()
    updated_at = fields.BigIntField(default=now)

    class Meta:
        table = "functions_user_valves"
        unique_together = (("function_id", "user_id"),)
