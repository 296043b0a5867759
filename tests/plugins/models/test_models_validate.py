"""``POST /api/models/validate``: every problem of a body at once, and whether the base model exists."""

from __future__ import annotations

import asyncio

import pytest

from colonnade.hookspecs import hookimpl, hookspec

pytestmark = pytest.mark.asyncio


async def validate(client, caller, body, mode=None):
    query = {"mode": mode} if mode else {}
    response = await client.post(
        "/api/models/validate", json=body, query_string=query, headers=caller.headers
    )
    assert response.status_code == 200, await response.get_data()
    return await response.get_json()


def problems(report):
    return sorted((".".join(map(str, error["loc"])), error["type"]) for error in report["errors"])


async def test_a_valid_body_without_providers_is_checked_against_workspace_models(
    client, creator, create_model, model_body
):
    await create_model(creator, "house-style")
    report = await validate(client, creator, model_body("new-one", base_model_id="house-style"))
    assert report["valid"] is True
    assert report["errors"] == []
    assert report["base_models"] == "workspace"
    assert "completions" in report["warnings"][0]

    report = await validate(client, creator, model_body("new-one", base_model_id="gpt-4o"))
    assert report["valid"] is False
    assert problems(report) == [("base_model_id", "unknown_base_model")]
    # Validation stores nothing.
    assert (await client.get("/api/models/new-one", headers=creator.headers)).status_code == 404


async def test_every_problem_is_reported_at_once(client, creator, create_model, model_body):
    await create_model(creator, "taken")
    body = model_body(
        "taken",
        name="",
        params={"temperature": 7, "max_tokens": -1},
        meta={"tags": "not-a-list"},
        base_model_id="nowhere",
        access_control={"read": {"group_ids": ["ghost-group"]}},
    )
    report = await validate(client, creator, body)
    assert report["valid"] is False
    assert problems(report) == [
        ("access_control", "unknown_group"),
        ("base_model_id", "unknown_base_model"),
        ("id", "id_taken"),
        ("meta.tags", "list_type"),
        ("name", "string_too_short"),
        ("params.max_tokens", "greater_than_equal"),
        ("params.temperature", "less_than_equal"),
    ]
    assert all(isinstance(error["msg"], str) and error["msg"] for error in report["errors"])


async def test_shape_problems_of_the_whole_body(client, creator):
    report = await validate(client, creator, ["not", "an", "object"])
    assert report["valid"] is False and len(report["errors"]) == 1
    report = await validate(client, creator, {})
    # A user's model needs a base model; only admins decorate a base model of the same id.
    assert problems(report) == [("base_model_id", "missing"), ("id", "missing"), ("name", "missing")]
    response = await client.post(
        "/api/models/validate", data="{oops", headers={**creator.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    response = await client.post("/api/models/validate", headers=creator.headers)
    assert response.status_code == 400
    response = await client.post(
        "/api/models/validate", json={}, query_string={"mode": "delete"}, headers=creator.headers
    )
    assert response.status_code == 422


async def test_update_mode_checks_the_model_named_by_id(client, creator, new_caller, create_model):
    await create_model(creator, "mine")
    report = await validate(client, creator, {"id": "mine", "name": "Renamed"}, mode="update")
    assert report["valid"] is True
    report = await validate(
        client, creator, {"id": "mine", "params": {"top_p": 3}, "name": ""}, mode="update"
    )
    assert problems(report) == [("name", "string_too_short"), ("params.top_p", "less_than_equal")]
    other = await new_caller("user")
    report = await validate(client, other, {"id": "mine", "name": "x"}, mode="update")
    assert problems(report) == [("id", "not_found")]
    report = await validate(client, creator, {"name": "x"}, mode="update")
    assert problems(report) == [("id", "missing")]


class FakeProvider:
    """An LLM provider as the completions plugin registers them: a name and ``list_models(actor)``."""

    def __init__(self, name, models=None, error=None, hang=False):
        self.name = name
        self.models = models or []
        self.error = error
        self.hang = hang

    async def list_models(self, actor):
        if self.hang:
            await asyncio.Event().wait()
        if self.error:
            raise self.error
        return self.models


class FakeCompletionsSpecs:
    @hookspec
    def register_llm_providers(self, host):
        """Stand-in for the completions plugin's hookspec."""


class FakeCompletions:
    """Defines ``register_llm_providers`` the way the completions plugin will (through add_hookspecs)
    and registers the given providers."""

    __name__ = "fake_completions"

    def __init__(self, *providers):
        self.providers = list(providers)

    @hookimpl
    def add_hookspecs(self, pm):
        pm.add_hookspecs(FakeCompletionsSpecs)

    @hookimpl
    def register_llm_providers(self, host):
        return self.providers


async def app_with(make_app, *providers, **config):
    settings = {"plugins": {"models": {"users_can_create": True, **config}}}
    return await make_app(load_plugins=["models"], plugins=[FakeCompletions(*providers)], config=settings)


async def test_base_models_come_from_the_loaded_providers(make_app, new_caller_for, model_body):
    app = await app_with(
        make_app,
        FakeProvider("openai", [{"id": "gpt-4o", "object": "model"}, "gpt-4o-mini"]),
        FakeProvider("ollama", [type("Entry", (), {"id": "llama3.1:8b"})()]),
        # The models plugin's own provider (issue 4) lists presets, not base models: ignored.
        FakeProvider("models", ["pretend-base"]),
    )
    client, user = app.test_client(), await new_caller_for(app, "user")
    for base in ("gpt-4o", "gpt-4o-mini", "llama3.1:8b"):
        report = await validate(client, user, model_body(base_model_id=base))
        assert report == {"valid": True, "errors": [], "warnings": [], "base_models": "providers"}, base
    report = await validate(client, user, model_body(base_model_id="pretend-base"))
    assert problems(report) == [("base_model_id", "unknown_base_model")]
    # A preset may not take a base model's id.
    report = await validate(client, user, model_body("gpt-4o", base_model_id="llama3.1:8b"))
    assert problems(report) == [("id", "id_taken")]


async def test_a_provider_that_fails_or_hangs_is_a_warning(make_app, new_caller_for, model_body):
    app = await app_with(
        make_app,
        FakeProvider("openai", ["gpt-4o"]),
        FakeProvider("broken", error=RuntimeError("connection refused")),
        FakeProvider("slow", hang=True),
        provider_timeout=0.05,
    )
    client, user = app.test_client(), await new_caller_for(app, "user")
    report = await validate(client, user, model_body(base_model_id="maybe-on-broken"))
    # The base model may live on the provider that did not answer: not an error, but said.
    assert report["valid"] is True
    warnings = " ".join(report["warnings"])
    assert "'broken'" in warnings and "'slow'" in warnings and "timed out" in warnings
    assert "maybe-on-broken" in warnings
    assert "connection refused" not in warnings


async def test_admins_decorating_a_base_model_must_name_an_existing_one(make_app, new_caller_for, model_body):
    app = await app_with(make_app, FakeProvider("openai", ["gpt-4o"]))
    client, admin = app.test_client(), await new_caller_for(app, "admin")
    report = await validate(client, admin, model_body("gpt-4o", base_model_id=None))
    assert report["valid"] is True
    report = await validate(client, admin, model_body("gpt-5", base_model_id=None))
    assert problems(report) == [("base_model_id", "unknown_base_model")]
