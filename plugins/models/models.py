"""Workspace models and their access grants and tags (tables prefixed ``models_``).

A workspace model is a named preset over a base model: a system prompt and parameters in ``params``,
presentation in ``meta``, sharing in ``models_grant`` rows. Grants and tags are kept in their own tables,
beside the JSON they come from, so that "what may this user read" and "which models carry this tag" are
indexed queries that work the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import time

from tortoise import fields
from tortoise.models import Model


def now() -> int:
    return int(time.time())


class WorkspaceModel(Model):
    # Free-form, as in Open WebUI: no whitespace, at most 256 characters (checked by the views).
    id = fields.CharField(max_length=256, primary_key=True)
    user = fields.ForeignKeyField("auth.User", related_name="workspace_models", on_delete=fields.CASCADE)
    # The model this one answers with, or NULL for an admin's row that decorates the base model of the
    # same id (name, meta, params and access for a provider model).
    base_model_id = fields.CharField(max_length=256, null=True, db_index=True)
    name = fields.CharField(max_length=255, db_index=True)
    # Inference parameters; the system prompt is params["system"].
    params = fields.JSONField(default=dict)
    # Presentation: description, profile_image_url, tags, capabilities, knowledge, ...
    meta = fields.JSONField(default=dict)
    is_active = fields.BooleanField(default=True)
    created_at = fields.BigIntField(default=now, db_index=True)
    updated_at = fields.BigIntField(default=now, db_index=True)

    grants: fields.ReverseRelation[ModelGrant]
    tags: fields.ReverseRelation[ModelTag]

    class Meta:
        table = "models_model"


class ModelGrant(Model):
    id = fields.IntField(primary_key=True)
    model = fields.ForeignKeyField("models.WorkspaceModel", related_name="grants", on_delete=fields.CASCADE)
    # "user" or "group"; principal_id "*" with type "user" means every user (a public model).
    principal_type = fields.CharField(max_length=8)
    principal_id = fields.CharField(max_length=64)
    # "read" or "write" (write includes read).
    permission = fields.CharField(max_length=8)
    created_at = fields.BigIntField(default=now)

    class Meta:
        table = "models_grant"
        unique_together = (("model", "principal_type", "principal_id", "permission"),)
        indexes = (("principal_type", "principal_id"),)


class ModelTag(Model):
    id = fields.IntField(primary_key=True)
    model = fields.ForeignKeyField("models.WorkspaceModel", related_name="tags", on_delete=fields.CASCADE)
    # Lower-cased tag name from meta.tags, so tag search ignores case.
    name = fields.CharField(max_length=255, db_index=True)

    class Meta:
        table = "models_tag"
        unique_together = (("model", "name"),)
