import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

from colonnade.plugins.rag.models import new_id, now


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="Knowledge",
            fields=[
                (
                    "id",
                    fields.CharField(
                        primary_key=True, default=new_id, unique=True, db_index=True, max_length=36
                    ),
                ),
                ("user_id", fields.CharField(db_index=True, description="The owner.", max_length=36)),
                ("name", fields.CharField(max_length=255)),
                ("description", fields.TextField(default="", unique=False)),
                (
                    "meta",
                    fields.JSONField(
                        null=True,
                        description="Open WebUI meta, free-form (for example the source of an external knowledge base).",
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("created_at", fields.BigIntField(default=now, db_index=True)),
                ("updated_at", fields.BigIntField(default=now, db_index=True)),
            ],
            options={
                "table": "rag_knowledge",
                "app": "rag",
                "pk_attr": "id",
                "table_description": "A knowledge base: a named set of files searched together.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="KnowledgeFile",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "knowledge",
                    fields.ForeignKeyField(
                        "rag.Knowledge",
                        source_field="knowledge_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="files",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "file_id",
                    fields.CharField(
                        db_index=True,
                        description="The file id of the files plugin (no foreign key: another plugin owns that table).",
                        max_length=36,
                    ),
                ),
                ("user_id", fields.CharField(description="Who added it.", max_length=36)),
                ("created_at", fields.BigIntField(default=now)),
            ],
            options={
                "table": "rag_knowledge_file",
                "app": "rag",
                "unique_together": (("knowledge", "file_id"),),
                "pk_attr": "id",
                "table_description": "A file in a knowledge base (a file may be in several).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="KnowledgeGrant",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "knowledge",
                    fields.ForeignKeyField(
                        "rag.Knowledge",
                        source_field="knowledge_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="grants",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("principal_type", fields.CharField(description="user or group", max_length=8)),
                (
                    "principal_id",
                    fields.CharField(
                        db_index=True,
                        description="A user id, a group id, or * for every user.",
                        max_length=64,
                    ),
                ),
                ("permission", fields.CharField(description="read or write", max_length=8)),
                ("created_at", fields.BigIntField(default=now)),
            ],
            options={
                "table": "rag_knowledge_grant",
                "app": "rag",
                "pk_attr": "id",
                "table_description": "Who else may read or write a knowledge base (a user, a group, or every user).",
            },
            bases=["Model"],
        ),
    ]
