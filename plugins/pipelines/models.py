"""Hosted pipelines (table ``pipelines_pipeline``): the module source, its valves and whether it runs.

What the module declares (type, name, targets, priority, sub-pipes, valves schema) is read by loading
it in a worker process when it is saved, and kept in ``info`` so lists need no process.
"""

from __future__ import annotations

import time

from tortoise import fields
from tortoise.models import Model


def now() -> int:
    return int(time.time())


# A module in the Open WebUI Pipelines format, run by the host in a worker process.
class Pipeline(Model):
    id = fields.CharField(max_length=128, primary_key=True)
    user_id = fields.CharField(max_length=36, null=True)
    name = fields.CharField(max_length=255)
    # pipe, filter or manifold, as the module declares it
    type = fields.CharField(max_length=16, default="pipe")
    content = fields.TextField()
    # What loading the module found: name, type, targets, priority, sub-pipes, valves schema
    info = fields.JSONField(default=dict)
    # Stored valve values, validated against the Valves class of the module
    valves = fields.JSONField(default=dict)
    is_active = fields.BooleanField(default=False)
    created_at = fields.BigIntField(default=now)
    updated_at = fields.BigIntField(default=now)
    # Bumped on every change of source, valves or state, so other host processes notice it
    version = fields.IntField(default=1)

    class Meta:
        table = "pipelines_pipeline"
