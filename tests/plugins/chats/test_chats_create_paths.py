"""A new chat is written in one go (inline on SQLite, see ``colonnade.rawsql.insert_inline``) or, when
the database is busy or the chat is big, through the ORM: either way the same chat comes back."""

from __future__ import annotations

import sqlite3

import pytest

from colonnade import rawsql
from colonnade.plugins.chats import store
from colonnade.plugins.chats.models import Chat, Message

pytestmark = pytest.mark.asyncio


def conversation(make_history, size: int) -> dict:
    messages = [
        {
            "id": f"m{index}",
            "parentId": f"m{index - 1}" if index else None,
            "content": f"message {index}",
            "role": "user" if index % 2 == 0 else "assistant",
        }
        for index in range(size)
    ]
    return make_history(*messages)


async def created_and_read_back(chats, make_history, size: int) -> tuple[dict, dict]:
    created = await chats.create(title="paths", history=conversation(make_history, size))
    return created, await chats.get(created["id"])


async def test_a_small_and_a_big_chat_come_back_the_same_way(chats, make_history):
    small, small_read = await created_and_read_back(chats, make_history, 2)
    big, big_read = await created_and_read_back(chats, make_history, store.INLINE_MESSAGES + 1)

    for created, read, size in ((small, small_read, 2), (big, big_read, store.INLINE_MESSAGES + 1)):
        assert created["chat"]["history"] == read["chat"]["history"]
        assert len(read["chat"]["history"]["messages"]) == size
        assert read["chat"]["history"]["currentId"] == f"m{size - 1}"
        assert await Message.filter(chat_id=created["id"]).count() == size
    assert set(small) == set(big)


async def test_a_chat_created_while_another_connection_writes_is_stored(chats, make_history, monkeypatch):
    client = Chat._meta.db
    if client.capabilities.dialect != "sqlite":
        pytest.skip("the write lock is SQLite's")
    other = sqlite3.connect(client.filename, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    attempts = []
    real_insert_inline = rawsql.insert_inline

    async def attempt_then_release(*instances):
        attempts.append(await real_insert_inline(*instances))
        other.execute("ROLLBACK")  # the other writer finishes: the ORM's path gets the lock
        return attempts[-1]

    monkeypatch.setattr(rawsql, "insert_inline", attempt_then_release)
    try:
        created = await chats.create(title="waited", history=conversation(make_history, 2))
    finally:
        other.close()
    assert attempts == [False]
    assert (await chats.get(created["id"]))["title"] == "waited"
    assert await Message.filter(chat_id=created["id"]).count() == 2
