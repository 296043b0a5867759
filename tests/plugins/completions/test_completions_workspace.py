"""Workspace models through the completions plugin: the ``models`` provider and who sees which model."""

from __future__ import annotations

import pytest
from completions_helpers import Provider

pytestmark = pytest.mark.asyncio

HELLO = [{"role": "user", "content": "Hi"}]


async def create(client, headers, model_id, **body):
    body = {"id": model_id, "name": model_id.title(), "params": {}, "meta": {}, **body}
    response = await client.post("/api/models", json=body, headers=headers)
    assert response.status_code == 200, await response.get_data()


async def workspace(completions_app, auth_headers, **config):
    """Base models gpt-a and gpt-b; presets 'helper' (public, on gpt-a) and 'secret' (private); a public
    row decorating gpt-b."""
    upstream = Provider("upstream", ["gpt-a", "gpt-b"])
    app = await completions_app(upstream, load_plugins=["models"], config=config)
    client, admin = app.test_client(), await auth_headers(app, role="admin")
    params = {"system": "Be kind.", "temperature": 0.3}
    await create(client, admin, "helper", base_model_id="gpt-a", params=params, access_control=None)
    await create(client, admin, "secret", base_model_id="gpt-a", access_control={})
    await create(client, admin, "gpt-b", base_model_id=None, name="GPT B!", access_control=None)
    return app, upstream, client, admin, await auth_headers(app)


async def listed(client, headers) -> dict:
    response = await client.get("/api/models", headers=headers)
    return {model["id"]: model for model in (await response.get_json())["data"]}


async def test_admins_see_every_model_users_only_what_is_shared(completions_app, auth_headers):
    _, _, client, admin, user = await workspace(completions_app, auth_headers)

    everything = await listed(client, admin)
    assert sorted(everything) == ["gpt-a", "gpt-b", "helper", "secret"]
    helper = everything["helper"]
    assert (helper["preset"], helper["owned_by"], helper["name"]) == (True, "openai", "Helper")
    assert helper["info"]["base_model_id"] == "gpt-a"
    assert helper["info"]["params"] == {"system": "Be kind.", "temperature": 0.3}
    assert everything["gpt-b"]["name"] == "GPT B!"
    assert everything["gpt-b"]["info"]["id"] == "gpt-b"
    assert "info" not in everything["gpt-a"]

    mine = await listed(client, user)
    assert sorted(mine) == ["gpt-b", "helper"]
    assert mine["helper"]["info"]["params"] == {}  # a reader does not see the system prompt


async def test_users_cannot_use_what_they_cannot_see(completions_app, auth_headers):
    _, upstream, client, admin, user = await workspace(completions_app, auth_headers)
    for model_id in ("gpt-a", "secret"):
        body = {"model": model_id, "messages": HELLO}
        response = await client.post("/api/chat/completions", json=body, headers=user)
        assert (response.status_code, await response.get_json()) == (404, {"detail": "Model not found"})
    assert upstream.requests == []
    response = await client.post(
        "/api/chat/completions", json={"model": "gpt-a", "messages": HELLO}, headers=admin
    )
    assert response.status_code == 200


async def test_a_preset_applies_its_params_and_answers_with_its_base_model(completions_app, auth_headers):
    _, upstream, client, _, user = await workspace(completions_app, auth_headers)
    body = {"model": "helper", "messages": HELLO, "stream": True}
    response = await client.post("/api/chat/completions", json=body, headers=user)
    assert response.status_code == 200
    assert b"Hello" in await response.get_data()
    assert upstream.requests == [
        {
            "model": "gpt-a",
            "messages": [{"role": "system", "content": "Be kind."}, *HELLO],
            "stream": True,
            "temperature": 0.3,
        }
    ]
    # The request's own parameters win over the preset's.
    body = {"model": "helper", "messages": HELLO, "temperature": 0.9}
    await client.post("/api/chat/completions", json=body, headers=user)
    assert upstream.requests[-1]["temperature"] == 0.9


async def test_a_decorated_base_model_is_usable_by_those_it_is_shared_with(completions_app, auth_headers):
    _, upstream, client, _, user = await workspace(completions_app, auth_headers)
    response = await client.post(
        "/api/chat/completions", json={"model": "gpt-b", "messages": HELLO}, headers=user
    )
    assert response.status_code == 200
    assert upstream.requests == [{"model": "gpt-b", "messages": HELLO}]


async def test_bypassing_access_control_shows_users_the_base_models(completions_app, auth_headers):
    _, _, client, _, user = await workspace(completions_app, auth_headers, bypass_model_access_control=True)
    assert sorted(await listed(client, user)) == ["gpt-a", "gpt-b", "helper"]


async def test_an_inactive_row_hides_its_model(completions_app, auth_headers):
    _, _, client, admin, user = await workspace(completions_app, auth_headers, models_cache_ttl=0)
    for model_id in ("helper", "gpt-b"):
        assert (await client.post(f"/api/models/{model_id}/toggle", headers=admin)).status_code == 200
    assert sorted(await listed(client, admin)) == ["gpt-a", "secret"]
    assert await listed(client, user) == {}
    response = await client.post(
        "/api/chat/completions", json={"model": "helper", "messages": HELLO}, headers=user
    )
    assert response.status_code == 404


async def test_the_models_plugin_sees_the_providers_base_models(completions_app, auth_headers):
    _, _, client, admin, _ = await workspace(completions_app, auth_headers)
    body = {"id": "x", "name": "X", "base_model_id": "gpt-a", "params": {}, "meta": {}}
    report = await (await client.post("/api/models/validate", json=body, headers=admin)).get_json()
    assert report["valid"] is True and report["base_models"] == "providers"
    report = await (
        await client.post("/api/models/validate", json={**body, "base_model_id": "nope"}, headers=admin)
    ).get_json()
    assert [(error["loc"], error["type"]) for error in report["errors"]] == [
        (["base_model_id"], "unknown_base_model")
    ]
