"""Knowledge bases, who they are shared with, and the files in them (tables ``rag_*``).

A knowledge base's chunks live in the vector collection named by its id; its files' own chunks live in
``file-<file id>``. Owners are plain user ids, not foreign keys: when a user is deleted the plugin
removes their knowledge bases itself, vectors included (a cascade would orphan the vectors).
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


class Knowledge(Model):
    """A knowledge base: a named set of files searched together."""

    id = fields.CharField(max_length=36, primary_key=True, default=new_id)
    #: The owner.
    user_id = fields.CharField(max_length=36, db_index=True)
    name = fields.CharField(max_length=255)
    description = fields.TextField(default="")
    #: Open WebUI meta, free-form (for example the source of an external knowledge base).
    meta = fields.JSONField(null=True)
    created_at = fields.BigIntField(default=now, db_index=True)
    updated_at = fields.BigIntField(default=now, db_index=True)

    grants: fields.ReverseRelation[KnowledgeGrant]
    files: fields.ReverseRelation[KnowledgeFile]

    class Meta:
        table = "rag_knowledge"


class KnowledgeGrant(Model):
    """Who else may read or write a knowledge base (a user, a group, or every user)."""

    id = fields.IntField(primary_key=True)
    knowledge = fields.ForeignKeyField("rag.Knowledge", related_name="grants", on_delete=fields.CASCADE)
    #: user or group
    principal_type = fields.CharField(max_length=8)
    #: A user id, a group id, or * for every user.
    principal_id = fields.CharField(max_length=64, db_index=True)
    #: read or write
    permission = fields.CharField(max_length=8)
    created_at = fields.BigIntField(default=now)

    class Meta:
        table = "rag_knowledge_grant"


class KnowledgeFile(Model):
    """A file in a knowledge base (a file may be in several)."""

    id = fields.IntField(primary_key=True)
    knowledge = fields.ForeignKeyField("rag.Knowledge", related_name="files", on_delete=fields.CASCADE)
    #: The file id of the files plugin (no foreign key: another plugin owns that table).
    file_id = fields.CharField(max_length=36, db_index=True)
    #: Who added it.
    user_id = fields.CharField(max_length=36)
    created_at = fields.BigIntField(default=now)

    class Meta:
        table = "rag_knowledge_file"
        unique_together = (("knowledge", "file_id"),)


class RagSetting(Model):
    """Admin overrides of ``[plugins.rag]``, layered over the values of the file by every worker.

    One row, ``retrieval``, written by ``POST /api/v1/retrieval/config/update`` and ``/embedding/update``.
    """

    id = fields.CharField(max_length=32, primary_key=True)
    #: ``RagConfig`` field name -> value.
    overrides = fields.JSONField(default=dict)
    #: Goes up on every change, and workers compare it to notice one.
    version = fields.IntField(default=0)
    updated_at = fields.BigIntField(default=now)
    #: The admin who made the last change.
    updated_by = fields.CharField(max_length=36, null=True)

    class Meta:
        table = "rag_setting"
