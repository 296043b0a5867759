"""What SCIM knows beyond the core account and group (tables prefixed ``scim_``).

A ``ScimUser`` row marks a core user as provisioned (SCIM lists and changes only those) and holds the
attributes the core has no column for; each filterable attribute is a real column, so that filters
become SQL. Emails and phone numbers are rows of ``ScimUserValue``. A ``ScimGroup`` row marks a core
group as provisioned and holds its externalId.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class ScimUser(Model):
    """The SCIM side of one provisioned core user."""

    id = fields.BigIntField(primary_key=True)
    user = fields.OneToOneField("auth.User", related_name="scim_account", on_delete=fields.CASCADE)
    external_id = fields.CharField(max_length=255, null=True, db_index=True)
    # userName as the client sent it, and lower-cased: unique, and the index behind userName eq
    user_name = fields.CharField(max_length=255)
    user_name_key = fields.CharField(max_length=255, unique=True)
    formatted_name = fields.CharField(max_length=255, null=True)
    family_name = fields.CharField(max_length=255, null=True)
    given_name = fields.CharField(max_length=255, null=True)
    middle_name = fields.CharField(max_length=255, null=True)
    honorific_prefix = fields.CharField(max_length=255, null=True)
    honorific_suffix = fields.CharField(max_length=255, null=True)
    nick_name = fields.CharField(max_length=255, null=True)
    title = fields.CharField(max_length=255, null=True)
    user_type = fields.CharField(max_length=255, null=True)
    preferred_language = fields.CharField(max_length=255, null=True)
    locale = fields.CharField(max_length=255, null=True)
    # A list of address objects, kept as sent (not filterable)
    addresses = fields.JSONField(null=True)
    employee_number = fields.CharField(max_length=255, null=True)
    cost_center = fields.CharField(max_length=255, null=True)
    organization = fields.CharField(max_length=255, null=True)
    division = fields.CharField(max_length=255, null=True)
    department = fields.CharField(max_length=255, null=True)
    manager_id = fields.CharField(max_length=255, null=True)

    class Meta:
        table = "scim_user"


class ScimUserValue(Model):
    """One email address or phone number of a provisioned user."""

    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("auth.User", related_name="scim_values", on_delete=fields.CASCADE)
    # emails or phoneNumbers
    attribute = fields.CharField(max_length=32)
    value = fields.CharField(max_length=255)
    display = fields.CharField(max_length=255, null=True)
    type = fields.CharField(max_length=64, null=True)
    primary = fields.BooleanField(default=False)
    # Order within the attribute, as the client sent the list
    position = fields.SmallIntField(default=0)

    class Meta:
        table = "scim_user_value"
        indexes = [Index(fields=["attribute", "value"]), Index(fields=["user_id", "attribute"])]


class ScimGroup(Model):
    """The SCIM side of one provisioned core group."""

    id = fields.BigIntField(primary_key=True)
    group = fields.OneToOneField("auth.Group", related_name="scim_group", on_delete=fields.CASCADE)
    external_id = fields.CharField(max_length=255, null=True, db_index=True)

    class Meta:
        table = "scim_group"
