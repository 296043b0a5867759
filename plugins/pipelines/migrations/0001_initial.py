from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from colonnade.plugins.pipelines.models import now
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Pipeline',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=128)),
                ('user_id', fields.CharField(null=True, max_length=36)),
                ('name', fields.CharField(max_length=255)),
                ('type', fields.CharField(default='pipe', max_length=16)),
                ('content', fields.TextField(unique=False)),
                ('info', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('valves', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('is_active', fields.BooleanField(default=False)),
                ('created_at', fields.BigIntField(default=now)),
                ('updated_at', fields.BigIntField(default=now)),
                ('version', fields.IntField(default=1)),
            ],
            options={'table': 'pipelines_pipeline', 'app': 'pipelines', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
