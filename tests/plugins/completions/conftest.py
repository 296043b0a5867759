"""Fixtures for the completions tests: a scripted in-test LLM provider and the app served over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_asyncio
from completions_helpers import Scripted


@pytest_asyncio.fixture
async def completions_app(make_app: Any):
    """``await completions_app(*providers, config=..., load_plugins=[...], plugins=[...])`` -> started app."""

    async def factory(
        *providers: Any, config: dict | None = None, load_plugins: list[str] = (), plugins: list[Any] = ()
    ) -> Any:
        return await make_app(
            config={"plugins": {"completions": config or {}}},
            load_plugins=["completions", *load_plugins],
            plugins=[Scripted(*providers), *plugins],
        )

    return factory


@pytest.fixture
def serve(serve_app: Any) -> Any:
    """``await serve(app)`` -> base URL: ``colonnade.testing``'s ``serve_app``, by the name these tests use."""
    return serve_app
