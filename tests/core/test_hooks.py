"""One ``test_hook_<name>`` per core hook, each through a real application: the hooks run while the
application is built and started (the request-time hooks and commands are in ``test_hooks_runtime.py``).

Every test builds an application with ``make_app(plugins=[...])`` around a small test plugin, so the hook
is called by the host exactly as it would be for an installed plugin. ``test_meta.py`` checks that every
hookspec has its test here (or, for feature hooks, under ``tests/plugins/``).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from pydantic import BaseModel
from quart import Blueprint

from colonnade import Action, Actor, Event, StartupError, hookimpl, hookspec, require
from colonnade.app import create_app


def host_of(app):
    return app.extensions["colonnade"]


@asynccontextmanager
async def running(settings, plugins):
    """Start and stop an application by hand, for tests that look at what happens after shutdown."""
    from colonnade import db

    app = create_app(settings, plugins=plugins, testing=True)
    try:
        async with app.test_app():
            yield app
    finally:
        if settings.database.schema_name:
            await db.drop_postgres_schema(settings)


# -- add_hookspecs -----------------------------------------------------------------------------------


class GreetingSpecs:
    """Hook specifications a feature plugin owns (a class works as well as a module)."""

    @hookspec
    def greeting_lines(self, host):
        """Return lines for the greeting feature."""


class GreetingFeature:
    __name__ = "greeting"

    @hookimpl
    def add_hookspecs(self, pm):
        pm.add_hookspecs(GreetingSpecs)

    @hookimpl
    def startup(self, host):
        host.state("greeting").lines = [line for lines in host.pm.hook.greeting_lines(host=host) for line in lines]


class GreetingContributor:
    __name__ = "contributor"

    @hookimpl
    def greeting_lines(self, host):
        return ["hello from a contributor"]


@pytest.mark.asyncio
async def test_hook_add_hookspecs(make_app):
    # The contributor registers before the feature that defines its hook: the call is historic, so the
    # feature still adds its specs and the earlier implementation is validated against them.
    app = await make_app(plugins=[GreetingContributor(), GreetingFeature()])
    host = host_of(app)
    assert host.state("greeting").lines == ["hello from a contributor"]
    assert host.pm.hook.greeting_lines.spec is not None
    assert "greeting_lines" in host.pm.hooks_of("contributor")


# -- register_config_models --------------------------------------------------------------------------


class GreeterConfig(BaseModel):
    greeting: str = "hello"
    repeat: int = 1


class Greeter:
    __name__ = "greeter"

    @hookimpl
    def register_config_models(self):
        return {"greeter": GreeterConfig}

    @hookimpl
    def register_blueprints(self, host):
        bp = Blueprint("greeter", __name__)

        @bp.get("/api/greeter")
        async def greet():
            config = host.plugin_config("greeter")
            return {"greeting": " ".join([config.greeting] * config.repeat)}

        return [bp]


@pytest.mark.asyncio
async def test_hook_register_config_models(make_app):
    app = await make_app(config={"plugins": {"greeter": {"greeting": "hi", "repeat": 2}}}, plugins=[Greeter()])
    response = await app.test_client().get("/api/greeter")
    assert await response.get_json() == {"greeting": "hi hi"}
    assert host_of(app).plugin_config("greeter") == GreeterConfig(greeting="hi", repeat=2)


@pytest.mark.asyncio
async def test_hook_register_config_models_defaults_without_a_section(make_app):
    app = await make_app(plugins=[Greeter()])
    assert host_of(app).plugin_config("greeter").greeting == "hello"


@pytest.mark.asyncio
async def test_hook_register_config_models_rejects_bad_values(make_app):
    with pytest.raises(StartupError, match=r"plugins\.greeter\.repeat: "):
        await make_app(config={"plugins": {"greeter": {"repeat": "many"}}}, plugins=[Greeter()])


# -- register_db_models ------------------------------------------------------------------------------


class Notes:
    __name__ = "notes"

    @hookimpl
    def register_db_models(self):
        return {"notes": ["hook_test_models"]}


@pytest.mark.asyncio
async def test_hook_register_db_models(make_app):
    from hook_test_models import Note

    await make_app(plugins=[Notes()])
    await Note.create(text="kept")
    assert [note.text for note in await Note.all()] == ["kept"]


@pytest.mark.asyncio
async def test_hook_register_db_models_needs_migrations_outside_tests(settings):
    from colonnade import db

    app = create_app(settings, plugins=[Notes()])  # testing=False: no tables made from models
    from quart.testing.app import LifespanError

    with pytest.raises(LifespanError):  # carries only the message; the host keeps the error itself
        async with app.test_app():
            pass
    error = host_of(app).startup_error
    assert isinstance(error, StartupError)
    assert "plugin 'notes' has database models but no migrations package" in str(error)
    if settings.database.schema_name:
        await db.drop_postgres_schema(settings)


# -- register_blueprints -----------------------------------------------------------------------------


class Hello:
    __name__ = "hello"

    @hookimpl
    def register_blueprints(self, host):
        bp = Blueprint("hello", __name__)
        bp.get("/api/hello")(self.hello)
        return [bp, (bp, {"url_prefix": "/api/v1", "name": "hello_v1"})]

    async def hello(self):
        return {"hello": "world"}


@pytest.mark.asyncio
async def test_hook_register_blueprints(make_app):
    app = await make_app(plugins=[Hello()])
    client = app.test_client()
    for path in ("/api/hello", "/api/v1/api/hello"):
        response = await client.get(path)
        assert response.status_code == 200
        assert await response.get_json() == {"hello": "world"}
    openapi = await (await client.get("/openapi.json")).get_json()
    assert openapi["paths"]["/api/hello"]["get"]["tags"] == ["hello"]


class RouteAudit:
    """Wraps ``register_blueprints`` to stamp a header on the routes of the ``hello`` plugin.

    (Only blueprints made per application can be changed this way: a module-level blueprint that an
    earlier application already registered refuses new ``after_request`` functions.)
    """

    __name__ = "route_audit"

    @hookimpl(wrapper=True)
    def register_blueprints(self, host):
        results = yield
        stamped = set()
        for items in results:
            for item in items:
                blueprint = item[0] if isinstance(item, tuple) else item
                if blueprint.name == "hello" and blueprint.name not in stamped:
                    stamped.add(blueprint.name)
                    blueprint.after_request(self.stamp)
        return results

    async def stamp(self, response):
        response.headers["X-Audited"] = "yes"
        return response


@pytest.mark.asyncio
async def test_hook_register_blueprints_can_be_wrapped(make_app):
    app = await make_app(plugins=[Hello(), RouteAudit()])
    client = app.test_client()
    assert (await client.get("/api/hello")).headers["X-Audited"] == "yes"
    assert (await client.get("/api/v1/api/hello")).headers["X-Audited"] == "yes"
    assert "X-Audited" not in (await client.get("/health")).headers
    assert "register_blueprints" in host_of(app).pm.hooks_of("route_audit")


# -- register_actions --------------------------------------------------------------------------------


class Publisher:
    __name__ = "publisher"

    @hookimpl
    def register_actions(self, host):
        return [Action("publisher.publish", "Publish things", default_role="admin")]

    @hookimpl
    def register_blueprints(self, host):
        bp = Blueprint("publisher", __name__)

        @bp.post("/api/publisher/publish")
        @require("publisher.publish")
        async def publish(actor):
            return {"published_by": actor.id}

        return [bp]


class SecondPublisher:
    __name__ = "second"

    @hookimpl
    def register_actions(self, host):
        return [Action("publisher.publish")]


@pytest.mark.asyncio
async def test_hook_register_actions(make_app, auth_headers):
    app = await make_app(plugins=[Publisher()])
    client = app.test_client()
    assert "publisher.publish" in host_of(app).actions
    user = await client.post("/api/publisher/publish", headers=await auth_headers(app, role="user"))
    assert user.status_code == 403
    admin = await client.post("/api/publisher/publish", headers=await auth_headers(app, role="admin"))
    assert admin.status_code == 200


@pytest.mark.asyncio
async def test_hook_register_actions_duplicates_stop_the_start(make_app):
    with pytest.raises(StartupError, match="duplicate action name: 'publisher.publish'"):
        await make_app(plugins=[Publisher(), SecondPublisher()])


# -- register_events and on_event --------------------------------------------------------------------


@dataclass
class NotePublished(Event):
    name = "notes.published"
    title: str = ""


@dataclass
class NeverRegistered(Event):
    name = "notes.never"


class Observed:
    """Declares an event and observes every event, one observer failing and one recording."""

    __name__ = "observed"

    def __init__(self):
        self.seen = []

    @hookimpl
    def register_events(self):
        return [NotePublished]

    @hookimpl
    async def on_event(self, event):
        self.seen.append(event)


class BrokenObserver:
    __name__ = "broken_observer"

    @hookimpl(tryfirst=True)
    def on_event(self, host, event):
        raise RuntimeError("observer down")


@pytest.mark.asyncio
async def test_hook_register_events(make_app):
    observed = Observed()
    app = await make_app(plugins=[observed])
    host = host_of(app)
    assert NotePublished in host.event_classes
    await host.emit(NotePublished(actor=Actor(id="u1", role="user"), title="first"))
    assert [event.title for event in observed.seen if isinstance(event, NotePublished)] == ["first"]
    with pytest.raises(TypeError, match="NeverRegistered is not registered"):
        await host.emit(NeverRegistered())


@pytest.mark.asyncio
async def test_hook_on_event(make_app, caplog):
    observed = Observed()
    app = await make_app(plugins=[observed, BrokenObserver()])
    event = NotePublished(title="second")
    with caplog.at_level(logging.ERROR, logger="colonnade"):
        await host_of(app).emit(event)  # the broken observer runs first and does not stop the others
    assert observed.seen[-1] is event
    assert "on_event observer 'broken_observer' failed for notes.published" in caplog.text


@pytest.mark.asyncio
async def test_hook_on_event_sees_core_events(make_app):
    observed = Observed()
    app = await make_app(plugins=[observed])
    client = app.test_client()
    response = await client.post(
        "/api/auth/signup", json={"name": "Ada", "email": "ada@example.test", "password": "a long password"}
    )
    assert response.status_code == 200
    assert any(event.name.startswith("auth.") for event in observed.seen)


# -- startup and shutdown ----------------------------------------------------------------------------


class Lifecycle:
    __name__ = "lifecycle"

    def __init__(self, log):
        self.log = log

    @hookimpl
    async def startup(self, host):
        # Core plugins start first, so auth's service is already there.
        self.log.append(("startup", hasattr(host.state("auth"), "service")))
        host.state("lifecycle").ready = True

    @hookimpl
    async def shutdown(self, host):
        self.log.append(("shutdown", host.state("lifecycle").ready))


class SyncLifecycle:
    __name__ = "sync_lifecycle"

    def __init__(self, log):
        self.log = log

    @hookimpl
    def startup(self):
        self.log.append(("sync startup", True))

    @hookimpl
    def shutdown(self):
        raise RuntimeError("could not close")


class FailingStart:
    __name__ = "failing_start"

    @hookimpl
    def startup(self, host):
        raise ConnectionError("upstream unreachable")


@pytest.mark.asyncio
async def test_hook_startup(make_app):
    log = []
    app = await make_app(plugins=[Lifecycle(log), SyncLifecycle(log)])
    assert log == [("startup", True), ("sync startup", True)]  # registration order
    assert host_of(app).state("lifecycle").ready is True


@pytest.mark.asyncio
async def test_hook_startup_failure_names_the_plugin(make_app):
    with pytest.raises(StartupError, match="plugin 'failing_start' failed to start: upstream unreachable"):
        await make_app(plugins=[FailingStart()])


@pytest.mark.asyncio
async def test_hook_shutdown(settings, caplog):
    log = []
    with caplog.at_level(logging.ERROR, logger="colonnade"):
        async with running(settings, [Lifecycle(log), SyncLifecycle(log)]):
            assert ("shutdown", True) not in log
    # Reverse order: sync_lifecycle stops first and fails; lifecycle still shuts down.
    assert log[-1] == ("shutdown", True)
    assert "plugin 'sync_lifecycle' failed to shut down" in caplog.text
