from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from colonnade.plugins.files.models import new_id, now
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='File',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_id, unique=True, db_index=True, max_length=36)),
                ('user_id', fields.CharField(db_index=True, max_length=36)),
                ('filename', fields.CharField(max_length=255)),
                ('store', fields.CharField(max_length=64)),
                ('storage_key', fields.CharField(max_length=255)),
                ('content_type', fields.CharField(max_length=255)),
                ('size', fields.BigIntField()),
                ('sha256', fields.CharField(max_length=64)),
                ('hash', fields.CharField(null=True, max_length=64)),
                ('data', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('client_meta', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.BigIntField(default=now, db_index=True)),
                ('updated_at', fields.BigIntField(default=now)),
            ],
            options={'table': 'files_file', 'app': 'files', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
