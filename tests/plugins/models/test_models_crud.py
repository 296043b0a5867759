"""Create, read, update and delete workspace models through ``/api/models`` (the spec paths)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio


async def test_create_read_update_delete(client, creator, create_model):
    created = await create_model(creator, "support-bot")
    assert created["id"] == "support-bot"
    assert created["user_id"] == creator.id
    assert created["base_model_id"] == "llama3.1:8b"
    assert created["params"] == {"system": "You are a helpful support agent.", "temperature": 0.2}
    assert created["meta"]["tags"] == [{"name": "Support"}, {"name": "internal"}]
    assert created["access_control"] == {
        "read": {"group_ids": [], "user_ids": []},
        "write": {"group_ids": [], "user_ids": []},
    }
    assert created["access_grants"] == []
    assert created["is_active"] is True
    assert created["write_access"] is True
    assert created["user"]["id"] == creator.id
    assert created["created_at"] == created["updated_at"] > 0

    response = await client.get("/api/models/support-bot", headers=creator.headers)
    assert response.status_code == 200
    assert await response.get_json() == created

    response = await client.post(
        "/api/models/support-bot",
        json={"name": "Support bot v2", "params": {"system": "Be brief.", "top_p": 0.9, "num_ctx": 8192}},
        headers=creator.headers,
    )
    assert response.status_code == 200, await response.get_data()
    updated = await response.get_json()
    assert updated["name"] == "Support bot v2"
    # params are replaced whole; unknown keys (Ollama options) are kept as given.
    assert updated["params"] == {"system": "Be brief.", "top_p": 0.9, "num_ctx": 8192}
    assert updated["meta"] == created["meta"]
    assert updated["base_model_id"] == "llama3.1:8b"

    response = await client.delete("/api/models/support-bot", headers=creator.headers)
    assert response.status_code == 200
    assert await response.get_json() is True
    response = await client.get("/api/models/support-bot", headers=creator.headers)
    assert response.status_code == 404
    assert "detail" in await response.get_json()
