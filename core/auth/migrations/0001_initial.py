from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from colonnade.auth.models import new_id, new_session_stamp, now
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='RevokedToken',
            fields=[
                ('jti', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('expires_at', fields.BigIntField(db_index=True)),
            ],
            options={'table': 'auth_revoked_token', 'app': 'auth', 'pk_attr': 'jti'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_id, unique=True, db_index=True, max_length=36)),
                ('email', fields.CharField(unique=True, max_length=255)),
                ('name', fields.CharField(max_length=255)),
                ('username', fields.CharField(null=True, max_length=50)),
                ('role', fields.CharField(default='pending', max_length=16)),
                ('profile_image_url', fields.TextField(default='', unique=False)),
                ('password_hash', fields.TextField(null=True, unique=False)),
                ('active', fields.BooleanField(default=True)),
                ('session_stamp', fields.CharField(default=new_session_stamp, max_length=64)),
                ('primary_marker', fields.SmallIntField(null=True, unique=True)),
                ('bio', fields.TextField(null=True, unique=False)),
                ('timezone', fields.CharField(null=True, max_length=64)),
                ('info', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('settings', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('oauth', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('scim', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('last_active_at', fields.BigIntField(default=now)),
                ('created_at', fields.BigIntField(default=now, db_index=True)),
                ('updated_at', fields.BigIntField(default=now)),
            ],
            options={'table': 'auth_user', 'app': 'auth', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiKey',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_id, unique=True, db_index=True, max_length=36)),
                ('user', fields.ForeignKeyField('auth.User', source_field='user_id', db_constraint=True, to_field='id', related_name='api_keys', on_delete=OnDelete.CASCADE)),
                ('key_hash', fields.CharField(unique=True, max_length=64)),
                ('prefix', fields.CharField(max_length=16)),
                ('name', fields.CharField(default='', max_length=255)),
                ('expires_at', fields.BigIntField(null=True)),
                ('last_used_at', fields.BigIntField(null=True)),
                ('created_at', fields.BigIntField(default=now)),
            ],
            options={'table': 'auth_api_key', 'app': 'auth', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Group',
            fields=[
                ('id', fields.CharField(primary_key=True, default=new_id, unique=True, db_index=True, max_length=36)),
                ('name', fields.CharField(unique=True, max_length=255)),
                ('description', fields.TextField(default='', unique=False)),
                ('permissions', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('data', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('meta', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_by', fields.CharField(null=True, max_length=36)),
                ('created_at', fields.BigIntField(default=now)),
                ('updated_at', fields.BigIntField(default=now)),
                ('members', fields.ManyToManyField('auth.User', unique=True, db_constraint=True, through='auth_group_member', forward_key='user_id', backward_key='group_id', related_name='groups', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'auth_group', 'app': 'auth', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
