"""Fixtures for the memory tests: an app with ``rag`` and ``memory``, embeddings from the fake OpenAI
upstream (content-aware, see ``memory_helpers``) and LanceDB under the test's data directory."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest_asyncio
from memory_helpers import word_vector


@pytest_asyncio.fixture
async def memory_app(make_app: Any, fake_upstream: Any, auth_headers: Any):
    """``await memory_app(memory={...}, rag={...}, completions=False)`` -> a namespace with ``app``,
    ``client``, ``fake`` (the OpenAI upstream, for embeddings and chat) and ``alice``/``bob`` (headers of
    two users)."""

    async def factory(
        memory: Mapping[str, Any] | None = None,
        *,
        rag: Mapping[str, Any] | None = None,
        completions: bool = False,
    ) -> SimpleNamespace:
        fake = await fake_upstream("openai")
        fake.app.control.embed = word_vector
        fake.app.control.models.append("text-embedding-3-large")  # to switch to in a test
        plugins = ["rag", "memory", "openai"]
        config: dict[str, Any] = {
            "rag": {
                "embedding_function": "openai",
                "embedding_model": "text-embedding-3-small",
                **dict(rag or {}),
            },
            "memory": dict(memory or {}),
            "openai": {"connections": [{"base_url": fake.base_url + "/v1", "api_key": "sk-upstream"}]},
        }
        if completions:
            plugins += ["completions", "models"]
            config["completions"] = {"bypass_model_access_control": True}
        app = await make_app(config={"plugins": config}, load_plugins=plugins)
        return SimpleNamespace(
            app=app,
            client=app.test_client(),
            fake=fake,
            alice=await auth_headers(app, role="user"),
            bob=await auth_headers(app, role="user"),
        )

    return factory
