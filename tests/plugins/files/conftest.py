"""Fixtures for the files plugin's tests (helpers are in ``files_helpers``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest_asyncio

from files_helpers import Files


@pytest_asyncio.fixture
async def files_app(make_app: Any):
    """``await files_app(config={...}, plugins=[...])`` -> :class:`Files` for an app with ``files`` loaded."""

    async def factory(files_config: Mapping[str, Any] | None = None, *, plugins: list[Any] = ()) -> Files:
        config = {"plugins": {"files": dict(files_config or {})}}
        return Files(await make_app(config=config, load_plugins=["files"], plugins=plugins))

    return factory
