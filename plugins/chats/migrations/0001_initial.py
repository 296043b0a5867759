from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from colonnade.plugins.chats.models import new_id, now
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('auth', '0001_initial')]

    initial = True

    operations = [
        ops.CreateModel(
            name='Chat',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_id, unique=True, db_index=True, max_length=36)),
                ('user', fields.ForeignKeyField('auth.User', source_field='user_id', db_constraint=True, to_field='id', related_name='chats', on_delete=OnDelete.CASCADE)),
                ('title', fields.TextField(default='New Chat', unique=False)),
                ('chat', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('meta', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('variables', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('folder_id', fields.CharField(null=True, db_index=True, max_length=64)),
                ('share_id', fields.CharField(null=True, unique=True, max_length=64)),
                ('archived', fields.BooleanField(default=False)),
                ('pinned', fields.BooleanField(default=False)),
                ('tasks', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('summary', fields.TextField(null=True, unique=False)),
                ('current_message_id', fields.CharField(null=True, max_length=255)),
                ('created_at', fields.BigIntField(default=now)),
                ('updated_at', fields.BigIntField(default=now)),
                ('last_read_at', fields.BigIntField(null=True)),
            ],
            options={'table': 'chats_chat', 'app': 'chats', 'indexes': [Index(fields=['user_id', 'archived', 'updated_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ChatTag',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('chat', fields.ForeignKeyField('chats.Chat', source_field='chat_id', db_constraint=True, to_field='id', related_name='tag_links', on_delete=OnDelete.CASCADE)),
                ('tag_id', fields.CharField(db_index=True, max_length=255)),
            ],
            options={'table': 'chats_chat_tag', 'app': 'chats', 'unique_together': (('chat', 'tag_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Message',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('chat', fields.ForeignKeyField('chats.Chat', source_field='chat_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('message_id', fields.CharField(max_length=255)),
                ('parent_id', fields.CharField(null=True, max_length=255)),
                ('role', fields.CharField(default='user', max_length=32)),
                ('content', fields.TextField(default='', unique=False)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('user_id', fields.CharField(null=True, max_length=36)),
                ('done', fields.BooleanField(default=True)),
                ('digest', fields.CharField(max_length=64)),
                ('created_at', fields.BigIntField(default=now)),
                ('updated_at', fields.BigIntField(default=now)),
            ],
            options={'table': 'chats_message', 'app': 'chats', 'unique_together': (('chat', 'message_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Tag',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('auth.User', source_field='user_id', db_constraint=True, to_field='id', related_name='chat_tags', on_delete=OnDelete.CASCADE)),
                ('tag_id', fields.CharField(max_length=255)),
                ('name', fields.CharField(max_length=255)),
                ('meta', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.BigIntField(default=now)),
            ],
            options={'table': 'chats_tag', 'app': 'chats', 'unique_together': (('user', 'tag_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
