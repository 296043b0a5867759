"""Reading and writing one chat's rows in ``chats_message``.

Every write here touches only the message rows that change, plus the chat's small columns
(``updated_at``, ``current_message_id``); the chat's JSON document is never rewritten for a message.
Callers run these inside a transaction when they combine several writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from colonnade.errors import ApiError
from colonnade.plugins.chats import tree
from colonnade.plugins.chats.models import Chat, Message, now
from colonnade.plugins.chats.tree import MessageRecord

MESSAGE_NOT_FOUND = "We could not find that message in this chat"
ROW_FIELDS = ("message_id", "parent_id", "role", "content", "data")


@dataclass
class Conversation:
    """A chat's messages as stored: ``rows`` in storage order, indexed by message id."""

    rows: list[tuple[str, str | None, str, str, dict[str, Any]]]

    @property
    def parent_of(self) -> dict[str, str | None]:
        return {row[0]: row[1] for row in self.rows}

    @property
    def children(self) -> dict[str | None, list[str]]:
        return tree.children_map((row[0], row[1]) for row in self.rows)

    def messages(self) -> dict[str, dict[str, Any]]:
        """``history.messages``: ``{id: message}`` with ``childrenIds`` derived from the parents."""
        children = self.children
        return {
            message_id: tree.message_json(
                message_id, parent_id, children.get(message_id, []), role, content, data
            )
            for message_id, parent_id, role, content, data in self.rows
        }


async def load(chat_id: str) -> Conversation:
    rows = await Message.filter(chat_id=chat_id).order_by("id").values_list(*ROW_FIELDS)
    return Conversation([tuple(row) for row in rows])  # type: ignore[misc]


def new_row(chat_id: str, record: MessageRecord, stamp: int) -> Message:
    return Message(
        chat_id=chat_id,
        message_id=record.message_id,
        parent_id=record.parent_id,
        role=record.role,
        content=record.content,
        data=record.data,
        user_id=record.user_id,
        done=record.done,
        digest=record.digest,
        created_at=stamp,
        updated_at=stamp,
    )


def record_columns(record: MessageRecord, stamp: int) -> dict[str, Any]:
    return {
        "parent_id": record.parent_id,
        "role": record.role,
        "content": record.content,
        "data": record.data,
        "user_id": record.user_id,
        "done": record.done,
        "digest": record.digest,
        "updated_at": stamp,
    }


async def insert_all(rows: list[Message]) -> None:
    """Insert a new chat's messages (parents first, as ``tree.records_from_history`` orders them)."""
    if rows:
        await Message.bulk_create(rows, batch_size=500)


async def sync(
    chat: Chat, actor: Any, records: list[MessageRecord], current_id: str | None, stamp: int
) -> str | None:
    """Merge a posted history into the stored one, as Open WebUI does, and return the new ``currentId``.

    Messages missing from the post are kept; an unchanged message (same hash and parent) is not
    written; an assistant message still generating, or a message another user wrote, keeps its stored
    version. Only new rows are inserted and only changed rows updated.
    """
    existing = (
        await Message.filter(chat_id=chat.id)
        .order_by("id")
        .values_list("id", "message_id", "parent_id", "digest", "role", "done", "user_id")
    )
    stored = {row[1]: row for row in existing}
    parent_of = {row[1]: row[2] for row in existing}
    created: list[MessageRecord] = []
    changed: list[tuple[int, MessageRecord]] = []
    for record in records:
        old = stored.get(record.message_id)
        if old is None:
            created.append(record)
        elif old[3] == record.digest and old[2] == record.parent_id:
            continue  # unchanged
        elif old[4] == "assistant" and not old[5]:
            continue  # still generating: the server's copy wins
        elif old[6] and old[6] != actor.id:
            continue  # another author's message
        else:
            changed.append((old[0], record))
        parent_of[record.message_id] = record.parent_id
    tree.check_tree(parent_of)
    order = [(row[1], parent_of[row[1]]) for row in existing] + [(r.message_id, r.parent_id) for r in created]
    if current_id is None and created:
        current_id = created[-1].message_id
    current = tree.repair_current(current_id or chat.current_message_id, parent_of, tree.children_map(order))
    await insert_all([new_row(chat.id, record, stamp) for record in created])
    await update_all(changed, stamp)
    return current


async def update_all(changed: list[tuple[int, MessageRecord]], stamp: int) -> None:
    """Rewrite changed rows: one parametrised UPDATE run for every row (``executemany``).

    Tortoise's ``bulk_update`` renders one CASE expression per row and column, which costs seconds of
    CPU for a few thousand rows; the driver's executemany sends one statement and many parameter sets.
    """
    if not changed:
        return
    columns = list(record_columns(changed[0][1], stamp))
    fields = Message._meta.fields_map
    db = Message._choose_db(True)
    if db.capabilities.dialect == "postgres":
        marks = [f"${index}" for index in range(1, len(columns) + 2)]
    else:
        marks = ["?"] * (len(columns) + 1)
    assignments = ", ".join(f'"{column}"={mark}' for column, mark in zip(columns, marks))
    sql = f'UPDATE "{Message._meta.db_table}" SET {assignments} WHERE "id"={marks[-1]}'
    values = [
        [fields[column].to_db_value(value, None) for column, value in record_columns(record, stamp).items()]
        + [row_id]
        for row_id, record in changed
    ]
    await db.execute_many(sql, values)


async def get(chat_id: str, message_id: str) -> Message:
    message = await Message.get_or_none(chat_id=chat_id, message_id=message_id)
    if message is None:
        raise ApiError(404, MESSAGE_NOT_FOUND)
    return message


async def children_of(chat_id: str, message_id: str) -> list[str]:
    return list(
        await Message.filter(chat_id=chat_id, parent_id=message_id)
        .order_by("id")
        .values_list("message_id", flat=True)
    )


async def as_json(message: Message) -> dict[str, Any]:
    children = await children_of(message.chat_id, message.message_id)
    return tree.message_json(
        message.message_id, message.parent_id, children, message.role, message.content, message.data
    )


async def append(chat: Chat, actor: Any, body: Mapping[str, Any]) -> dict[str, Any]:
    """Add one message: one row inserted, and the chat's ``updated_at``/``current_message_id`` set.

    The parent is ``parentId`` when the body names it (``null`` starts a new root), else the chat's
    current message, so posting a bare ``{role, content}`` continues the conversation.
    """
    message_id = tree.check_id(body.get("id") or str(uuid.uuid4()), "id")
    parent_id = body.get("parentId", chat.current_message_id)
    if parent_id is not None:
        tree.check_id(parent_id, "parentId")
        if not await Message.filter(chat_id=chat.id, message_id=parent_id).exists():
            raise ApiError(422, f"parentId: {parent_id!r} is not a message of this chat")
    if await Message.filter(chat_id=chat.id, message_id=message_id).exists():
        raise ApiError(409, f"message {message_id!r} already exists in this chat")
    stamp = now()
    # Open WebUI's messages always carry their time; a client that leaves it out gets the server's.
    message = {"timestamp": stamp, **body}
    record = tree.record_from_json(message_id, tree.stamp_author(message, actor), parent_id, where="message")
    try:
        async with in_transaction():
            await new_row(chat.id, record, stamp).save()
            await Chat.filter(id=chat.id).update(updated_at=stamp, current_message_id=message_id)
    except IntegrityError:
        raise ApiError(409, f"message {message_id!r} already exists in this chat") from None
    chat.updated_at, chat.current_message_id = stamp, message_id
    return tree.message_json(message_id, parent_id, [], record.role, record.content, record.data)


async def update(chat: Chat, message: Message, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Shallow-merge ``changes`` into one message; the row is written only if something changed."""
    merged = {"role": message.role, "content": message.content, **message.data, **changes}
    record = tree.record_from_json(message.message_id, merged, message.parent_id, where="message")
    if record.digest != message.digest:
        stamp = now()
        async with in_transaction():
            await Message.filter(id=message.id).update(**record_columns(record, stamp))
            await Chat.filter(id=chat.id).update(updated_at=stamp)
        chat.updated_at = stamp
        message.role, message.content, message.data = record.role, record.content, record.data
        message.digest = record.digest
    return await as_json(message)


async def delete(chat: Chat, message_id: str) -> tuple[list[str], str | None]:
    """Delete a message and its direct children (a user turn and its replies), as Open WebUI does.

    Grandchildren move up to the deleted message's parent; ``currentId`` moves to the newest leaf
    under that parent. Returns the deleted ids and the new ``currentId``.
    """
    conversation = await load(chat.id)
    parent_of = conversation.parent_of
    if message_id not in parent_of:
        raise ApiError(404, MESSAGE_NOT_FOUND)
    children = conversation.children
    parent = parent_of[message_id]
    doomed = [message_id, *children.get(message_id, [])]
    orphans = [grandchild for child in doomed[1:] for grandchild in children.get(child, [])]
    remaining = [
        (mid, parent if mid in orphans else pid) for mid, pid in parent_of.items() if mid not in doomed
    ]
    current = tree.newest_leaf(tree.children_map(remaining), parent)
    stamp = now()
    async with in_transaction():
        await Message.filter(chat_id=chat.id, message_id__in=doomed).delete()
        if orphans:
            await Message.filter(chat_id=chat.id, message_id__in=orphans).update(
                parent_id=parent, updated_at=stamp
            )
        await Chat.filter(id=chat.id).update(updated_at=stamp, current_message_id=current)
    chat.updated_at, chat.current_message_id = stamp, current
    return doomed, current
