from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from colonnade_audit_log.models import now
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event', fields.CharField(db_index=True, max_length=100)),
                ('actor_id', fields.CharField(null=True, db_index=True, max_length=36)),
                ('user_id', fields.CharField(null=True, db_index=True, max_length=36)),
                ('address', fields.CharField(null=True, max_length=64)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.BigIntField(default=now, db_index=True)),
            ],
            options={'table': 'audit_log_entry', 'app': 'audit_log', 'pk_attr': 'id', 'table_description': 'One observed event, kept after the event object is gone.'},
            bases=['Model'],
        ),
    ]
