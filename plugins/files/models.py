"""The uploaded-file record (table ``files_file``).

A record is created only after its bytes are safely in the store, and deleted before them, so no record
ever points at missing bytes (at worst a crash leaves bytes without a record, which nobody can reach).
"""

from __future__ import annotations

import time
import uuid

from tortoise import fields
from tortoise.models import Model


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> int:
    return int(time.time())


class File(Model):
    id = fields.CharField(max_length=36, primary_key=True, default=new_id)
    # The owner. Not a foreign key: when a user is deleted the plugin removes their files itself,
    # bytes included, on the auth.user_deleted event (a cascade would drop rows and orphan the bytes).
    user_id = fields.CharField(max_length=36, db_index=True)
    # The sanitised original name, shown to people and offered on download.
    filename = fields.CharField(max_length=255)
    # Which registered store holds the bytes, and under which generated key.
    store = fields.CharField(max_length=64)
    storage_key = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=255)
    size = fields.BigIntField()
    # Hex SHA-256 of the stored bytes (Open WebUI's meta.file_hash).
    sha256 = fields.CharField(max_length=64)
    # Open WebUI's hash of the extracted text, set by a processing plugin.
    hash = fields.CharField(max_length=64, null=True)
    # Open WebUI's data: processing status and extracted content.
    data = fields.JSONField(null=True)
    # The client's metadata form part (Open WebUI's meta.data).
    client_meta = fields.JSONField(null=True)
    created_at = fields.BigIntField(default=now, db_index=True)
    updated_at = fields.BigIntField(default=now)

    class Meta:
        table = "files_file"
