from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from colonnade.plugins.models.models import now
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


class Migration(migrations.Migration):
    dependencies = [("auth", "0001_initial")]

    initial = True

    operations = [
        ops.CreateModel(
            name="WorkspaceModel",
            fields=[
                ("id", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=256)),
                (
                    "user",
                    fields.ForeignKeyField(
                        "auth.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="workspace_models",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("base_model_id", fields.CharField(null=True, db_index=True, max_length=256)),
                ("name", fields.CharField(db_index=True, max_length=255)),
                (
                    "params",
                    fields.JSONField(
                        default=dict, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                (
                    "meta",
                    fields.JSONField(
                        default=dict, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("is_active", fields.BooleanField(default=True)),
                ("created_at", fields.BigIntField(default=now, db_index=True)),
                ("updated_at", fields.BigIntField(default=now, db_index=True)),
            ],
            options={"table": "models_model", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ModelGrant",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "model",
                    fields.ForeignKeyField(
                        "models.WorkspaceModel",
                        source_field="model_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="grants",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("principal_type", fields.CharField(max_length=8)),
                ("principal_id", fields.CharField(max_length=64)),
                ("permission", fields.CharField(max_length=8)),
                ("created_at", fields.BigIntField(default=now)),
            ],
            options={
                "table": "models_grant",
                "app": "models",
                "unique_together": (("model", "principal_type", "principal_id", "permission"),),
                "indexes": [Index(fields=["principal_type", "principal_id"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ModelTag",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "model",
                    fields.ForeignKeyField(
                        "models.WorkspaceModel",
                        source_field="model_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="tags",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("name", fields.CharField(db_index=True, max_length=255)),
            ],
            options={
                "table": "models_tag",
                "app": "models",
                "unique_together": (("model", "name"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
