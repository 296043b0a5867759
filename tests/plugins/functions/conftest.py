"""Fixtures for the functions tests: an app with completions and functions, signed-in users, and the
app served by hypercorn on loopback for the real ``openai`` client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio


@dataclass
class FunctionsEnv:
    """A started app with the ``completions`` and ``functions`` plugins, its client, an admin and a user."""

    app: Any
    client: Any
    admin: dict[str, str]
    user: dict[str, str]

    @property
    def host(self) -> Any:
        return self.app.extensions["colonnade"]

    @property
    def registry(self) -> Any:
        return self.host.state("functions").registry


@pytest_asyncio.fixture
async def functions_env(make_app: Any, auth_headers: Any):
    """``await functions_env(config={...}, load_plugins=[...], plugins=[...], completions={...})`` ->
    :class:`FunctionsEnv` (``config`` is ``[plugins.functions]``, ``completions`` adds to
    ``[plugins.completions]``)."""

    async def factory(
        config: dict | None = None,
        load_plugins: list[str] = (),
        plugins: list[Any] = (),
        completions: dict | None = None,
    ) -> FunctionsEnv:
        completions = {"models_cache_ttl": 0, **(completions or {})}
        app = await make_app(
            config={"plugins": {"functions": config or {}, "completions": completions}},
            load_plugins=["completions", "functions", *load_plugins],
            plugins=list(plugins),
        )
        admin = await auth_headers(app, role="admin")
        user = await auth_headers(app, role="user")
        return FunctionsEnv(app, app.test_client(), admin, user)

    return factory


@pytest.fixture
def serve(serve_app: Any) -> Any:
    """``await serve(app)`` -> base URL: ``colonnade.testing``'s ``serve_app``, by the name these tests use."""
    return serve_app
