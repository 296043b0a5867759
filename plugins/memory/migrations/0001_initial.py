from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from colonnade.plugins.memory.models import new_id, now
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('auth', '0001_initial')]

    initial = True

    operations = [
        ops.CreateModel(
            name='Memory',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_id, unique=True, db_index=True, max_length=36)),
                ('user', fields.ForeignKeyField('auth.User', source_field='user_id', db_constraint=True, to_field='id', related_name='memories', on_delete=OnDelete.CASCADE)),
                ('type', fields.CharField(default='context', description='user (a fact the user asked to keep) or context (learnt from conversations, the default).', max_length=16)),
                ('path', fields.CharField(null=True, description='A hierarchical label such as preferences/food, or nothing.', max_length=1024)),
                ('content', fields.TextField(unique=False)),
                ('meta', fields.JSONField(null=True, description='Free-form: created_by, chat_id, message_id, model.', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.BigIntField(default=now)),
                ('updated_at', fields.BigIntField(default=now)),
            ],
            options={'table': 'memory_memory', 'app': 'memory', 'indexes': [Index(fields=['user_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
