import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from colonnade.plugins.rag.models import now


class Migration(migrations.Migration):
    dependencies = [("rag", "0001_initial")]

    initial = False

    operations = [
        ops.CreateModel(
            name="RagSetting",
            fields=[
                ("id", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                (
                    "overrides",
                    fields.JSONField(
                        default=dict,
                        description="``RagConfig`` field name -> value.",
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                (
                    "version",
                    fields.IntField(
                        default=0,
                        description="Goes up on every change, and workers compare it to notice one.",
                    ),
                ),
                ("updated_at", fields.BigIntField(default=now)),
                (
                    "updated_by",
                    fields.CharField(
                        null=True, description="The admin who made the last change.", max_length=36
                    ),
                ),
            ],
            options={
                "table": "rag_setting",
                "app": "rag",
                "pk_attr": "id",
                "table_description": "Admin overrides of ``[plugins.rag]``, layered over the values of the file by every worker.",
            },
            bases=["Model"],
        ),
    ]
