"""Fixtures for the models plugin's tests: an app with the plugin loaded through its entry point, and
callers (admin, users, groups) created through the real auth plugin."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio


@dataclass
class Caller:
    id: str
    headers: dict[str, str]


@pytest_asyncio.fixture
async def models_app(make_app: Any) -> Any:
    """The models plugin as operators load it: by its entry-point name, with default configuration."""
    return await make_app(load_plugins=["models"])


@pytest.fixture
def client(models_app: Any) -> Any:
    return models_app.test_client()


@pytest.fixture
def new_caller(models_app: Any, auth_headers: Any) -> Any:
    """``await new_caller(role)`` -> a fresh account of that role with its id and headers."""

    async def make(role: str = "user") -> Caller:
        user_id = str(uuid.uuid4())
        return Caller(user_id, await auth_headers(models_app, role=role, user_id=user_id))

    return make


@pytest_asyncio.fixture
async def admin(new_caller: Any) -> Caller:
    return await new_caller("admin")


@pytest_asyncio.fixture
async def make_group(client: Any, admin: Caller) -> Any:
    """``await make_group(members, permissions=None)`` -> the new group's id (created by an admin)."""

    async def make(members: list[Caller], permissions: dict[str, Any] | None = None) -> str:
        response = await client.post(
            "/api/groups",
            json={
                "name": f"group-{uuid.uuid4().hex[:8]}",
                "user_ids": [member.id for member in members],
                "permissions": permissions,
            },
            headers=admin.headers,
        )
        assert response.status_code == 201, await response.get_data()
        return (await response.get_json())["id"]

    return make


@pytest_asyncio.fixture
async def creator(new_caller: Any, make_group: Any) -> Caller:
    """A plain user who may create models because a group grants Open WebUI's ``workspace.models``."""
    caller = await new_caller("user")
    await make_group([caller], {"workspace": {"models": True}})
    return caller


def _model_body(model_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A complete, valid create body."""
    body: dict[str, Any] = {
        "id": model_id or f"preset-{uuid.uuid4().hex[:8]}",
        "base_model_id": "llama3.1:8b",
        "name": "Support bot",
        "params": {"system": "You are a helpful support agent.", "temperature": 0.2},
        "meta": {
            "description": "Answers support questions",
            "profile_image_url": "/static/favicon.png",
            "tags": [{"name": "Support"}, {"name": "internal"}],
        },
    }
    body.update(overrides)
    return body


@pytest.fixture
def model_body() -> Any:
    """``model_body(model_id=None, **overrides)`` -> a complete, valid create body."""
    return _model_body


@pytest.fixture
def create_model(client: Any) -> Any:
    """``await create_model(caller, **body overrides)`` -> the created model's JSON (asserts 200)."""

    async def create(caller: Caller, model_id: str | None = None, **overrides: Any) -> dict[str, Any]:
        response = await client.post(
            "/api/models", json=_model_body(model_id, **overrides), headers=caller.headers
        )
        assert response.status_code == 200, await response.get_data()
        return await response.get_json()

    return create


@pytest.fixture
def new_caller_for(auth_headers: Any) -> Any:
    """``await new_caller_for(app, role)``: like ``new_caller`` for an app a test built itself."""

    async def make(app: Any, role: str = "user") -> Caller:
        user_id = str(uuid.uuid4())
        return Caller(user_id, await auth_headers(app, role=role, user_id=user_id))

    return make
