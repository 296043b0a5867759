"""Fixtures for the scim plugin's tests: an application with the real ``scim`` entry point and a SCIM
token (helpers in ``scim_helpers.py``)."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_asyncio
from scim_helpers import TOKEN, ScimEnv


@pytest_asyncio.fixture
async def scim(make_app: Any) -> ScimEnv:
    app = await make_app(config={"plugins": {"scim": {"token": TOKEN}}}, load_plugins=["scim"])
    return ScimEnv(app, app.test_client())


@pytest.fixture
def make_scim(make_app: Any):
    """``await make_scim(config, plugins=[...])`` for tests that need other settings or plugins."""

    async def factory(config: dict[str, Any] | None = None, plugins: Any = ()) -> ScimEnv:
        merged = {"plugins": {"scim": {"token": TOKEN, **(config or {})}}}
        app = await make_app(config=merged, load_plugins=["scim"], plugins=plugins)
        return ScimEnv(app, app.test_client())

    return factory
