"""Users, groups, API keys and revoked tokens (tables prefixed ``auth_``)."""

from __future__ import annotations

import secrets
import time
import uuid

from tortoise import fields
from tortoise.models import Model

#: Length of every id column; a longer id cannot exist, and Tortoise refuses to even look it up.
ID_LENGTH = 36


def new_id() -> str:
    return str(uuid.uuid4())


def plausible_id(value: str) -> bool:
    """Whether ``value`` fits an id column (so looking it up cannot fail with a validation error)."""
    return 0 < len(value) <= ID_LENGTH


def now() -> int:
    return int(time.time())


def new_session_stamp() -> str:
    return secrets.token_hex(16)


class User(Model):
    id = fields.CharField(max_length=ID_LENGTH, primary_key=True, default=new_id)
    email = fields.CharField(max_length=255, unique=True)
    name = fields.CharField(max_length=255)
    username = fields.CharField(max_length=50, null=True)
    role = fields.CharField(max_length=16, default="pending")
    profile_image_url = fields.TextField(default="")
    # argon2id hash; ``None`` for accounts that cannot sign in with a password (SCIM-provisioned).
    password_hash = fields.TextField(null=True)
    # ``False`` disables sign-in and every credential of the user.
    active = fields.BooleanField(default=True)
    # Rotated to revoke every token of the user at once (password change, deactivation).
    session_stamp = fields.CharField(max_length=64, default=new_session_stamp)
    # 1 for the first account (the primary admin), ``NULL`` for every other; unique, so two
    # concurrent first sign-ups cannot both become it.
    primary_marker = fields.SmallIntField(null=True, unique=True)
    bio = fields.TextField(null=True)
    timezone = fields.CharField(max_length=64, null=True)
    info = fields.JSONField(null=True)
    settings = fields.JSONField(null=True)
    oauth = fields.JSONField(null=True)
    scim = fields.JSONField(null=True)
    last_active_at = fields.BigIntField(default=now)
    created_at = fields.BigIntField(default=now, db_index=True)
    updated_at = fields.BigIntField(default=now)

    groups: fields.ManyToManyRelation[Group]

    class Meta:
        table = "auth_user"

    @property
    def is_primary_admin(self) -> bool:
        return self.primary_marker == 1


class Group(Model):
    id = fields.CharField(max_length=ID_LENGTH, primary_key=True, default=new_id)
    name = fields.CharField(max_length=255, unique=True)
    description = fields.TextField(default="")
    # A partial Open WebUI permission tree granted to members.
    permissions = fields.JSONField(null=True)
    data = fields.JSONField(null=True)
    meta = fields.JSONField(null=True)
    created_by = fields.CharField(max_length=36, null=True)
    created_at = fields.BigIntField(default=now)
    updated_at = fields.BigIntField(default=now)
    members: fields.ManyToManyRelation[User] = fields.ManyToManyField(
        "auth.User",
        related_name="groups",
        through="auth_group_member",
        forward_key="user_id",
        backward_key="group_id",
    )

    class Meta:
        table = "auth_group"


class ApiKey(Model):
    id = fields.CharField(max_length=ID_LENGTH, primary_key=True, default=new_id)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "auth.User", related_name="api_keys", on_delete=fields.CASCADE
    )
    # SHA-256 of the key: keys are random 128-bit values, so a fast hash is enough and keeps the
    # per-request lookup cheap; the key itself is shown once, at creation.
    key_hash = fields.CharField(max_length=64, unique=True)
    # The first characters of the key, to recognise it in listings (``sk-1a2b…``).
    prefix = fields.CharField(max_length=16)
    name = fields.CharField(max_length=255, default="")
    expires_at = fields.BigIntField(null=True)
    last_used_at = fields.BigIntField(null=True)
    created_at = fields.BigIntField(default=now)

    class Meta:
        table = "auth_api_key"


class RevokedToken(Model):
    jti = fields.CharField(max_length=64, primary_key=True)
    # When the token would have expired anyway; the row can be dropped after that.
    expires_at = fields.BigIntField(db_index=True)

    class Meta:
        table = "auth_revoked_token"
