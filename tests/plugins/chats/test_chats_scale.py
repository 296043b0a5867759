"""A long chat is not rewritten when it grows: appending to 5,000 messages writes one message row and
the chat's small columns, checked on the SQL the database connection actually ran."""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager

import pytest

from colonnade.plugins.chats.models import Chat, Message
from colonnade.plugins.chats.tree import MessageRecord

pytestmark = pytest.mark.asyncio

SIZE = 5_000


class QueryLog(logging.Handler):
    """Collects every statement Tortoise sends to the database (its ``tortoise.db_client`` log)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.statements.append(str(record.msg if not record.args else record.args[0]))

    def matching(self, verb: str, table: str) -> list[str]:
        return [s for s in self.statements if s.lstrip().upper().startswith(verb) and f'"{table}"' in s]


@contextmanager
def query_log():
    logger = logging.getLogger("tortoise.db_client")
    handler, level = QueryLog(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def long_chat(chats) -> dict:
    """A chat of SIZE messages in one thread, inserted in bulk through the model (not over HTTP)."""
    chat = await chats.create(title="long")
    me = await (await chats.client.get("/api/auth/me", headers=chats.headers)).get_json()
    rows = []
    parent = None
    for index in range(SIZE):
        role = "user" if index % 2 == 0 else "assistant"
        # Authorship as the server stamps it, so re-posting these messages unchanged changes nothing.
        data = {"timestamp": 1_700_000_000 + index, "user_id": me["id"]}
        if role == "user":
            data["user"] = {"id": me["id"], "name": me["name"]}
        record = MessageRecord(f"m{index}", parent, role, f"message number {index} " + "x" * 200, data)
        rows.append(
            Message(
                chat_id=chat["id"],
                message_id=record.message_id,
                parent_id=parent,
                role=record.role,
                content=record.content,
                data=record.data,
                digest=record.digest,
            )
        )
        parent = record.message_id
    await Message.bulk_create(rows, batch_size=1000)
    await Chat.filter(id=chat["id"]).update(current_message_id=parent, updated_at=1000)
    return chat


async def test_appending_to_a_long_chat_writes_one_row(chats):
    chat = await long_chat(chats)
    with query_log() as log:
        message = await chats.append(chat["id"], role="user", content="one more")
    assert message["parentId"] == f"m{SIZE - 1}"
    inserts = log.matching("INSERT", "chats_message")
    assert len(inserts) == 1
    assert log.matching("UPDATE", "chats_message") == []
    (chat_update,) = log.matching("UPDATE", "chats_chat")
    assert '"chat"' not in chat_update.split("WHERE")[0]  # the document column is not written
    assert log.matching("INSERT", "chats_chat") == []
    assert await Message.filter(chat_id=chat["id"]).count() == SIZE + 1
    stored = await Chat.get(id=chat["id"])
    assert stored.current_message_id == message["id"] and stored.updated_at > 1000
    assert len(json.dumps(stored.chat)) < 200  # the row holds no history


async def test_reposting_the_full_history_writes_only_the_new_message(chats):
    chat = await long_chat(chats)
    body = await chats.get(chat["id"])
    history = body["chat"]["history"]
    assert len(history["messages"]) == SIZE
    last = history["currentId"]
    history["messages"][last]["childrenIds"] = ["new"]
    history["messages"]["new"] = {
        "id": "new",
        "parentId": last,
        "childrenIds": [],
        "role": "assistant",
        "content": "appended Open WebUI's way",
    }
    history["currentId"] = "new"
    with query_log() as log:
        response = await chats.client.post(
            f"/api/v1/chats/{chat['id']}", json={"chat": {"history": history}}, headers=chats.headers
        )
    assert response.status_code == 200
    assert len(log.matching("INSERT", "chats_message")) == 1
    assert log.matching("UPDATE", "chats_message") == []
    history = (await response.get_json())["chat"]["history"]
    assert history["currentId"] == "new" and history["messages"][last]["childrenIds"] == ["new"]
    assert await Message.filter(chat_id=chat["id"]).count() == SIZE + 1


async def test_a_post_that_changes_many_messages_updates_them_in_batches(chats):
    chat = await long_chat(chats)
    history = (await chats.get(chat["id"]))["chat"]["history"]
    for message in history["messages"].values():
        message["content"] += " (edited)"
    with query_log() as log:
        response = await chats.client.post(
            f"/api/chats/{chat['id']}", json={"chat": {"history": history}}, headers=chats.headers
        )
    assert response.status_code == 200
    assert len(log.matching("UPDATE", "chats_message")) == 1  # one statement, run for every row
    assert await Message.filter(chat_id=chat["id"], content__endswith="(edited)").count() == SIZE
