from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from colonnade.plugins.functions.models import now
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Function',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=128)),
                ('user_id', fields.CharField(max_length=36)),
                ('name', fields.TextField(unique=False)),
                ('type', fields.CharField(max_length=16)),
                ('content', fields.TextField(unique=False)),
                ('meta', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('valves', fields.TextField(null=True, unique=False)),
                ('is_active', fields.BooleanField(default=False)),
                ('is_global', fields.BooleanField(default=False)),
                ('version', fields.IntField(default=1)),
                ('created_at', fields.BigIntField(default=now)),
                ('updated_at', fields.BigIntField(default=now)),
            ],
            options={'table': 'functions_function', 'app': 'functions', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UserValves',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('function_id', fields.CharField(db_index=True, max_length=128)),
                ('user_id', fields.CharField(max_length=36)),
                ('valves', fields.TextField(unique=False)),
                ('updated_at', fields.BigIntField(default=now)),
            ],
            options={'table': 'functions_user_valves', 'app': 'functions', 'unique_together': (('function_id', 'user_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
