"""Valves: validated against the function's classes, rebuilt before each call, encrypted at rest when
configured."""

from __future__ import annotations

import pytest
from functions_helpers import HELLO, create, sample

pytestmark = pytest.mark.asyncio


async def test_valves_spec_read_and_update(functions_env):
    env = await functions_env()
    await create(env.client, env.admin, "polite", sample("polite_filter"))
    assert (
        await (await env.client.get("/api/v1/functions/id/polite/valves", headers=env.admin)).get_json() == {}
    )
    spec = await (
        await env.client.get("/api/v1/functions/id/polite/valves/spec", headers=env.admin)
    ).get_json()
    assert spec["properties"]["max_messages"]["minimum"] == 1
    assert spec["properties"]["prefix"]["description"] == "System prompt added to every request"
    response = await env.client.post(
        "/api/v1/functions/id/polite/valves/update",
        json={"prefix": "Hi.", "priority": None},
        headers=env.admin,
    )
    assert await response.get_json() == {"prefix": "Hi."}
    assert await (await env.client.get("/api/functions/polite/valves", headers=env.admin)).get_json() == {
        "prefix": "Hi."
    }


@pytest.mark.parametrize(
    ("valves", "detail"),
    [
        ({"max_messages": 0}, "Invalid valves: max_messages: Input should be greater than or equal to 1"),
        (
            {"max_messages": "many"},
            (
                "Invalid valves: max_messages: Input should be a valid integer, "
                "unable to parse string as an integer"
            ),
        ),
        ([1], "The request body must be a JSON object"),
    ],
)
async def test_bad_valves_are_a_400_and_change_nothing(functions_env, valves, detail):
    env = await functions_env()
    await create(env.client, env.admin, "polite", sample("polite_filter"))
    await env.client.post(
        "/api/v1/functions/id/polite/valves/update", json={"prefix": "Kept."}, headers=env.admin
    )
    version = env.registry.live["polite"].version
    response = await env.client.post(
        "/api/v1/functions/id/polite/valves/update", json=valves, headers=env.admin
    )
    assert response.status_code == 400
    assert (await response.get_json())["detail"] == detail
    assert await (await env.client.get("/api/functions/polite/valves", headers=env.admin)).get_json() == {
        "prefix": "Kept."
    }
    assert env.registry.live["polite"].version == version


async def test_a_function_without_valves_has_no_spec_and_refuses_valves(functions_env):
    env = await functions_env()
    await create(
        env.client, env.admin, "plain", "class Action:\n    def action(self, body):\n        return 1\n"
    )
    assert (
        await (await env.client.get("/api/v1/functions/id/plain/valves/spec", headers=env.admin)).get_json()
        is None
    )
    response = await env.client.post(
        "/api/v1/functions/id/plain/valves/update", json={"a": 1}, headers=env.admin
    )
    assert response.status_code == 400
    assert (await response.get_json())["detail"] == "This function has no valves"
    assert (
        await (
            await env.client.get("/api/v1/functions/id/plain/valves/user/spec", headers=env.user)
        ).get_json()
        is None
    )


async def test_user_valves_need_an_active_function_and_are_validated(functions_env):
    env = await functions_env()
    await create(env.client, env.admin, "polite", sample("polite_filter"), active=False)
    response = await env.client.post(
        "/api/v1/functions/id/polite/valves/user/update", json={"signature": "x"}, headers=env.user
    )
    assert response.status_code == 400
    assert (await response.get_json())["detail"] == "Function is not active"
    assert (
        await (
            await env.client.get("/api/v1/functions/id/polite/valves/user/spec", headers=env.user)
        ).get_json()
        is None
    )
    await env.client.post("/api/functions/polite/toggle", headers=env.admin)
    response = await env.client.post(
        "/api/v1/functions/id/polite/valves/user/update", json={"signature": ["x"]}, headers=env.user
    )
    assert response.status_code == 400
    assert (await response.get_json())["detail"].startswith("Invalid valves: signature:")
    assert (
        await (await env.client.get("/api/v1/functions/id/polite/valves/user", headers=env.user)).get_json()
        == {}
    )
    response = await env.client.get("/api/v1/functions/id/nothing/valves/user", headers=env.user)
    assert response.status_code == 404


async def test_valves_are_encrypted_at_rest_with_a_configured_key(functions_env):
    from colonnade.plugins.functions.models import Function, UserValves

    env = await functions_env(config={"valves_key": "a long operator secret"})
    await create(env.client, env.admin, "polite", sample("polite_filter"), is_global=True)
    await env.client.post(
        "/api/v1/functions/id/polite/valves/update", json={"prefix": "Secret prefix."}, headers=env.admin
    )
    await env.client.post(
        "/api/v1/functions/id/polite/valves/user/update", json={"signature": "-- Bo"}, headers=env.user
    )
    stored = (await Function.get(id="polite")).valves
    assert stored.startswith("fernet:") and "Secret" not in stored
    assert (await UserValves.get(function_id="polite")).valves.startswith("fernet:")
    assert await (await env.client.get("/api/functions/polite/valves", headers=env.admin)).get_json() == {
        "prefix": "Secret prefix."
    }
    body = {"model": "polite", "messages": HELLO}
    ran = await (
        await env.client.post("/api/functions/polite/execute", json={"body": body}, headers=env.admin)
    ).get_json()
    assert ran["result"]["messages"][0]["content"].startswith("Secret prefix.")


async def test_stored_values_the_class_now_refuses_fall_back_to_the_defaults(functions_env):
    from colonnade.plugins.functions.models import Function

    env = await functions_env()
    await create(env.client, env.admin, "polite", sample("polite_filter"))
    row = await Function.get(id="polite")
    row.valves = '{"max_messages": -5, "prefix": "Still used."}'
    row.version += 1
    await row.save()
    body = {"body": {"messages": HELLO}}
    ran = await (
        await env.client.post("/api/functions/polite/execute", json=body, headers=env.admin)
    ).get_json()
    assert ran["result"]["messages"][0]["content"].startswith("Still used.")
