"""Helpers for the functions tests: the sample sources and creating functions through the HTTP API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).parent / "samples"

HELLO = [{"role": "user", "content": "Hello darn world"}]


def sample(name: str) -> str:
    """The source of ``samples/<name>.py``: a function in Open WebUI's format."""
    return (SAMPLES / f"{name}.py").read_text()


async def create(client: Any, headers: dict[str, str], function_id: str, source: str, *,
                 name: str | None = None, active: bool = True, is_global: bool = False) -> dict[str, Any]:
    """Create a function through ``POST /api/functions`` and optionally activate it and make it global."""
    body = {"id": function_id, "name": name or function_id.replace("_", " ").title(), "content": source,
            "meta": {"description": f"{function_id} for the tests"}}
    response = await client.post("/api/functions", json=body, headers=headers)
    assert response.status_code == 200, await response.get_data()
    created = await response.get_json()
    if active:
        response = await client.post(f"/api/functions/{function_id}/toggle", headers=headers)
        assert (await response.get_json())["is_active"] is True
    if is_global:
        response = await client.post(f"/api/v1/functions/id/{function_id}/toggle/global", headers=headers)
        assert (await response.get_json())["is_global"] is True
    return created
