"""Fixtures for the chats plugin's tests: an app with the real ``chats`` entry point and helpers to
create chats through the HTTP API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio


@dataclass
class ChatsEnv:
    """An application with the chats plugin, its test client and a signed-in user."""

    app: Any
    client: Any
    headers: dict[str, str]
    auth_headers: Any

    async def other_user(self, role: str = "user") -> dict[str, str]:
        return await self.auth_headers(self.app, role=role)

    async def create(self, headers: dict[str, str] | None = None, **chat: Any) -> dict[str, Any]:
        """Create a chat through ``POST /api/chats`` and return the response body."""
        body = {"chat": {"title": "A chat", **chat}}
        response = await self.client.post("/api/chats", json=body, headers=headers or self.headers)
        assert response.status_code == 201, await response.get_data()
        return await response.get_json()

    async def get(self, chat_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        response = await self.client.get(f"/api/chats/{chat_id}", headers=headers or self.headers)
        assert response.status_code == 200, await response.get_data()
        return await response.get_json()

    async def append(
        self, chat_id: str, headers: dict[str, str] | None = None, **message: Any
    ) -> dict[str, Any]:
        response = await self.client.post(
            f"/api/chats/{chat_id}/messages", json=message, headers=headers or self.headers
        )
        assert response.status_code == 201, await response.get_data()
        return await response.get_json()


def history(*messages: dict[str, Any], current: str | None = None) -> dict[str, Any]:
    """An Open WebUI ``history`` object from messages given as ``{id, parentId, ...}``, with
    ``childrenIds`` filled in the order the messages are given."""
    tree = {
        m["id"]: {"parentId": None, "role": "user", "content": "", **m, "childrenIds": []} for m in messages
    }
    for message in tree.values():
        if message["parentId"] is not None:
            tree[message["parentId"]]["childrenIds"].append(message["id"])
    return {"messages": tree, "currentId": current or (messages[-1]["id"] if messages else None)}


@pytest.fixture
def make_history():
    return history


@pytest_asyncio.fixture
async def chats(make_app: Any, auth_headers: Any) -> ChatsEnv:
    app = await make_app(load_plugins=["chats"])
    return ChatsEnv(app, app.test_client(), await auth_headers(app, role="user"), auth_headers)


@pytest.fixture
def make_chats_env(make_app: Any, auth_headers: Any):
    """``await make_chats_env(config)`` for tests that need ``[plugins.chats]`` settings."""

    async def factory(config: dict[str, Any] | None = None) -> ChatsEnv:
        app = await make_app(config=config, load_plugins=["chats"])
        return ChatsEnv(app, app.test_client(), await auth_headers(app, role="user"), auth_headers)

    return factory
