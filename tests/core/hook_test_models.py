"""A Tortoise models module for the test plugin of ``test_hook_register_db_models``.

It ships no migrations on purpose: with ``testing=True`` (what ``make_app`` passes) the host creates the
tables of such apps directly, so a test plugin needs no migrations package.
"""

from tortoise import fields
from tortoise.models import Model


class Note(Model):
    id = fields.IntField(primary_key=True)
    text = fields.CharField(max_length=200)

    class Meta:
        table = "notes_note"
