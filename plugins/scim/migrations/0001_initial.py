from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('auth', '0001_initial')]

    initial = True

    operations = [
        ops.CreateModel(
            name='ScimGroup',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('group', fields.OneToOneField('auth.Group', source_field='group_id', db_constraint=True, to_field='id', related_name='scim_group', on_delete=OnDelete.CASCADE)),
                ('external_id', fields.CharField(null=True, db_index=True, max_length=255)),
            ],
            options={'table': 'scim_group', 'app': 'scim', 'pk_attr': 'id', 'table_description': 'The SCIM side of one provisioned core group.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ScimUser',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.OneToOneField('auth.User', source_field='user_id', db_constraint=True, to_field='id', related_name='scim_account', on_delete=OnDelete.CASCADE)),
                ('external_id', fields.CharField(null=True, db_index=True, max_length=255)),
                ('user_name', fields.CharField(max_length=255)),
                ('user_name_key', fields.CharField(unique=True, max_length=255)),
                ('formatted_name', fields.CharField(null=True, max_length=255)),
                ('family_name', fields.CharField(null=True, max_length=255)),
                ('given_name', fields.CharField(null=True, max_length=255)),
                ('middle_name', fields.CharField(null=True, max_length=255)),
                ('honorific_prefix', fields.CharField(null=True, max_length=255)),
                ('honorific_suffix', fields.CharField(null=True, max_length=255)),
                ('nick_name', fields.CharField(null=True, max_length=255)),
                ('title', fields.CharField(null=True, max_length=255)),
                ('user_type', fields.CharField(null=True, max_length=255)),
                ('preferred_language', fields.CharField(null=True, max_length=255)),
                ('locale', fields.CharField(null=True, max_length=255)),
                ('addresses', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('employee_number', fields.CharField(null=True, max_length=255)),
                ('cost_center', fields.CharField(null=True, max_length=255)),
                ('organization', fields.CharField(null=True, max_length=255)),
                ('division', fields.CharField(null=True, max_length=255)),
                ('department', fields.CharField(null=True, max_length=255)),
                ('manager_id', fields.CharField(null=True, max_length=255)),
            ],
            options={'table': 'scim_user', 'app': 'scim', 'pk_attr': 'id', 'table_description': 'The SCIM side of one provisioned core user.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ScimUserValue',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('auth.User', source_field='user_id', db_constraint=True, to_field='id', related_name='scim_values', on_delete=OnDelete.CASCADE)),
                ('attribute', fields.CharField(max_length=32)),
                ('value', fields.CharField(max_length=255)),
                ('display', fields.CharField(null=True, max_length=255)),
                ('type', fields.CharField(null=True, max_length=64)),
                ('primary', fields.BooleanField(default=False)),
                ('position', fields.SmallIntField(default=0)),
            ],
            options={'table': 'scim_user_value', 'app': 'scim', 'indexes': [Index(fields=['attribute', 'value']), Index(fields=['user_id', 'attribute'])], 'pk_attr': 'id', 'table_description': 'One email address or phone number of a provisioned user.'},
            bases=['Model'],
        ),
    ]
