"""Chats and their messages (tables prefixed ``chats_``).

A chat row holds only the small parts of Open WebUI's conversation document (title, models, params,
...); the message tree lives in ``chats_message``, one row per message, so appending to a long chat
inserts one row and touches a few small columns of the chat instead of rewriting a large JSON value.
The ``history`` object clients see is assembled from the rows when a chat is read (see ``tree.py``).
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


class Chat(Model):
    id = fields.CharField(max_length=36, primary_key=True, default=new_id)
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "auth.User", related_name="chats", on_delete=fields.CASCADE
    )
    title = fields.TextField(default="New Chat")
    # The conversation document without its history: history is rebuilt from chats_message on read,
    # and a legacy flat "messages" list is stored as an empty list (a marker to rebuild it too).
    chat = fields.JSONField(default=dict)
    meta = fields.JSONField(default=dict)
    variables = fields.JSONField(default=dict)
    folder_id = fields.CharField(max_length=64, null=True, db_index=True)
    share_id = fields.CharField(max_length=64, null=True, unique=True)
    archived = fields.BooleanField(default=False)
    pinned = fields.BooleanField(default=False)
    tasks = fields.JSONField(null=True)
    summary = fields.TextField(null=True)
    # Mirrors history.currentId, the leaf message the conversation shows.
    current_message_id = fields.CharField(max_length=255, null=True)
    created_at = fields.BigIntField(default=now)
    updated_at = fields.BigIntField(default=now)
    last_read_at = fields.BigIntField(null=True)

    messages: fields.ReverseRelation[Message]

    class Meta:
        table = "chats_chat"
        # The list query: one user's chats, archived or not, newest first.
        indexes = (("user_id", "archived", "updated_at"),)


class Message(Model):
    # Rows are ordered by this auto-increment id: siblings under one parent appear in childrenIds in
    # the order they were stored, which is the order regenerations and edits happened.
    id = fields.BigIntField(primary_key=True)
    chat: fields.ForeignKeyRelation[Chat] = fields.ForeignKeyField(
        "chats.Chat", related_name="messages", on_delete=fields.CASCADE
    )
    # The client's message id (Open WebUI generates UUIDs); unique within a chat only, so a cloned
    # chat keeps its message ids.
    message_id = fields.CharField(max_length=255)
    parent_id = fields.CharField(max_length=255, null=True)
    role = fields.CharField(max_length=32, default="user")
    # Text content, kept in a column of its own so chats can be searched by what was said. Content
    # that is not a string (content blocks) stays in data and this column is empty.
    content = fields.TextField(default="")
    # Every other key of the message (timestamp, model, output, usage, sources, files, ...).
    data = fields.JSONField(default=dict)
    user_id = fields.CharField(max_length=36, null=True)
    done = fields.BooleanField(default=True)
    # Hash of role, content and data: a chat update that re-posts the whole history rewrites only
    # the rows whose hash (or parent) changed.
    digest = fields.CharField(max_length=64)
    created_at = fields.BigIntField(default=now)
    updated_at = fields.BigIntField(default=now)

    class Meta:
        table = "chats_message"
        unique_together = (("chat", "message_id"),)


# A user's tag (Open WebUI's tag row), keyed by the normalised name per user. No docstrings on models:
# Tortoise turns them into SQL comments, which its SQLite schema editor mangles.
class Tag(Model):
    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "auth.User", related_name="chat_tags", on_delete=fields.CASCADE
    )
    # Open WebUI's tag id: the name lower-cased with spaces turned into underscores.
    tag_id = fields.CharField(max_length=255)
    name = fields.CharField(max_length=255)
    meta = fields.JSONField(null=True)
    created_at = fields.BigIntField(default=now)

    class Meta:
        table = "chats_tag"
        unique_together = (("user", "tag_id"),)


# Which chat carries which tag. The chat's meta.tags mirrors it for Open WebUI clients.
class ChatTag(Model):
    id = fields.BigIntField(primary_key=True)
    chat: fields.ForeignKeyRelation[Chat] = fields.ForeignKeyField(
        "chats.Chat", related_name="tag_links", on_delete=fields.CASCADE
    )
    tag_id = fields.CharField(max_length=255, db_index=True)

    class Meta:
        table = "chats_chat_tag"
        unique_together = (("chat", "tag_id"),)
