"""Fixtures for the rag tests (helpers are in ``rag_helpers``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest_asyncio
from rag_helpers import RagTestPlugin, WordEmbeddings


@pytest_asyncio.fixture
async def rag_app(make_app: Any):
    """``await rag_app(config={...}, functions=[...], stores=[...], load_plugins=[...])`` -> a started app
    with ``rag`` loaded and, unless ``functions`` says otherwise, the ``words`` embedding function."""

    async def factory(
        config: Mapping[str, Any] | None = None,
        *,
        functions: list[Any] | None = None,
        stores: list[Any] = (),
        load_plugins: list[str] = (),
        plugins: list[Any] = (),
        upstreams: Mapping[str, str] | None = None,
        extra_config: Mapping[str, Any] | None = None,
    ) -> Any:
        functions = [WordEmbeddings()] if functions is None else functions
        rag = {"embedding_function": "words", "embedding_model": "bag-of-words", **dict(config or {})}
        return await make_app(
            config={"plugins": {"rag": rag, **dict(extra_config or {})}},
            load_plugins=["rag", *load_plugins],
            plugins=[RagTestPlugin(functions, stores), *plugins],
            upstreams=dict(upstreams or {}),
        )

    return factory
