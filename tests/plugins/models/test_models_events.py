"""Events the models plugin emits, and the configuration switches that widen who may do what."""

from __future__ import annotations

import pytest

from colonnade.hookspecs import hookimpl

pytestmark = pytest.mark.asyncio


class Recorder:
    """A test plugin that records every event it observes."""

    __name__ = "recorder"

    def __init__(self):
        self.events = []

    @hookimpl
    def on_event(self, event):
        if event.name.startswith("models."):
            self.events.append((event.name, event.model_id, getattr(event, "fields", None), event.actor.id))


async def test_writes_emit_events(make_app, new_caller_for, model_body):
    recorder = Recorder()
    app = await make_app(load_plugins=["models"], plugins=[recorder])
    client, admin = app.test_client(), await new_caller_for(app, "admin")
    await client.post("/api/models", json=model_body("evented"), headers=admin.headers)
    await client.post(
        "/api/models/evented", json={"name": "New", "access_control": {}}, headers=admin.headers
    )
    await client.post("/api/models/evented/toggle", headers=admin.headers)
    await client.delete("/api/models/evented", headers=admin.headers)
    # Refused writes emit nothing.
    await client.post("/api/models", json=model_body("bad", name=""), headers=admin.headers)
    assert recorder.events == [
        ("models.created", "evented", None, admin.id),
        ("models.updated", "evented", ("name", "access"), admin.id),
        ("models.updated", "evented", ("is_active",), admin.id),
        ("models.deleted", "evented", None, admin.id),
    ]


async def test_operators_can_let_every_user_share_publicly(make_app, new_caller_for, model_body):
    config = {"plugins": {"models": {"users_can_create": True, "users_can_share_publicly": True}}}
    app = await make_app(load_plugins=["models"], config=config)
    client, user = app.test_client(), await new_caller_for(app, "user")
    response = await client.post(
        "/api/models", json=model_body("open", access_control=None), headers=user.headers
    )
    assert response.status_code == 200
    assert (await response.get_json())["access_control"] is None


async def test_bad_configuration_is_a_startup_error(make_app):
    from colonnade.errors import StartupError

    with pytest.raises(StartupError, match="provider_timeout"):
        await make_app(load_plugins=["models"], config={"plugins": {"models": {"provider_timeout": 0}}})
