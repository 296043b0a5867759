"""Loading, blocking and validating plugins (DESIGN.md C3), through real entry points.

Third-party plugins are real distributions: ``fake_distribution`` writes a ``*.dist-info`` with
``METADATA`` and ``entry_points.txt`` beside the plugin module in ``tmp_path`` and puts that directory on
``sys.path``, so discovery goes through ``importlib.metadata`` and stevedore exactly as for a plugin
installed with pip.
"""

from __future__ import annotations

import importlib
import logging
import sys
import textwrap

import pytest
from quart import Blueprint

from colonnade import StartupError, hookimpl, hookspec
from colonnade.plugin_manager import ESSENTIAL_PLUGINS

HELLO = '''
# docs-start: hello-plugin
"""Hello: the smallest colonnade plugin, serving one route."""
from quart import Blueprint

from colonnade import hookimpl

bp = Blueprint("hello", __name__)


@bp.get("/api/hello")
async def hello():
    return {"hello": "world"}


@hookimpl
def register_blueprints(host):
    return [bp]
# docs-end: hello-plugin
'''

BROKEN = '''
"""A plugin whose import fails, as one with a missing dependency would."""
import colonnade_dependency_that_is_not_installed  # noqa: F401
'''


@pytest.fixture
def fake_distribution(tmp_path, monkeypatch):
    """``fake_distribution("colonnade-hello", {"hello": HELLO})`` installs a distribution on ``sys.path``.

    Each plugin ``name`` becomes the module ``colonnade_<name>`` (a package when its source is a
    ``{file name: source}`` dict) and the entry point ``name`` in the group
    ``colonnade.plugins``. Modules it imported and ``importlib``'s caches are cleared at teardown, so no
    test sees another test's distributions.
    """
    from stevedore import _cache

    # stevedore writes one cache file per distinct sys.path under ~/.cache; temporary paths would
    # leave one behind per test.
    monkeypatch.setattr(_cache._c, "_disable_caching", True)
    modules: list[str] = []

    def install(distribution: str, plugins: dict[str, str], version: str = "0.3") -> None:
        root = tmp_path / distribution
        info = root / f"{distribution.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
        lines = ["[colonnade.plugins]"]
        for name, source in plugins.items():
            module = f"colonnade_{name}"
            if isinstance(source, dict):  # a package: {file name: source}
                (root / module).mkdir()
                for file_name, text in source.items():
                    (root / module / file_name).write_text(textwrap.dedent(text))
            else:
                (root / f"{module}.py").write_text(textwrap.dedent(source))
            lines.append(f"{name} = {module}")
            modules.append(module)
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        monkeypatch.syspath_prepend(str(root))  # also invalidates importlib's caches

    yield install

    for module in modules:
        sys.modules.pop(module, None)
    monkeypatch.undo()
    importlib.invalidate_caches()


def host_of(app):
    return app.extensions["colonnade"]


# -- enabling ----------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_load_all_installed_plugins(make_app, fake_distribution):
    from importlib.metadata import entry_points

    fake_distribution("colonnade-hello", {"hello": HELLO})
    app = await make_app(load_plugins=["*"])
    infos = host_of(app).pm.infos
    installed = {entry_point.name for entry_point in entry_points(group="colonnade.plugins")}
    assert "hello" in installed
    assert installed | set(ESSENTIAL_PLUGINS) == set(infos)
    assert (infos["hello"].source, infos["hello"].version) == ("colonnade-hello", "0.3")
    # Other third-party plugins may be installed (make test installs examples/): each names its distribution.
    dists = {entry_point.name: entry_point.dist.name for entry_point in entry_points(group="colonnade.plugins")}
    for name in installed - {"hello"}:
        assert infos[name].source == ("built-in" if dists[name] == "colonnade" else dists[name])
    assert {infos[name].source for name in ESSENTIAL_PLUGINS} == {"core"}
    assert (await app.test_client().get("/api/hello")).status_code == 200


@pytest.mark.asyncio
async def test_load_a_named_list(make_app, fake_distribution):
    fake_distribution("colonnade-hello", {"hello": HELLO, "other": '"""Another plugin."""\n'})
    app = await make_app(load_plugins=["hello"])
    assert set(host_of(app).pm.infos) == {*ESSENTIAL_PLUGINS, "hello"}


@pytest.mark.asyncio
async def test_unknown_name_in_load_plugins_suggests_the_closest(make_app, fake_distribution):
    fake_distribution("colonnade-hello", {"hello": HELLO})
    with pytest.raises(StartupError, match="plugin 'helo' named in \\[host\\] load_plugins is not installed"
                       " — did you mean 'hello'\\?"):
        await make_app(load_plugins=["helo"])


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["Bad-Name", "server"])
async def test_plugin_names_follow_the_naming_rule(make_app, fake_distribution, name):
    fake_distribution("colonnade-oddly-named", {name: '"""A plugin with a name that cannot work."""\n'})
    with pytest.raises(StartupError, match=f"plugin name '{name}' is (invalid|reserved)"):
        await make_app(load_plugins=[name])


@pytest.mark.asyncio
async def test_two_distributions_declaring_one_plugin_name_are_named(make_app, fake_distribution):
    fake_distribution("colonnade-hello", {"hello": HELLO})
    fake_distribution("colonnade-hello-fork", {"hello_fork": HELLO}, version="9.9")
    # The fork declares its module under the name the original uses.
    info = next((p for p in sys.path if p.endswith("colonnade-hello-fork")))
    entry_points = f"{info}/colonnade_hello_fork-9.9.dist-info/entry_points.txt"
    with open(entry_points, "w") as file:
        file.write("[colonnade.plugins]\nhello = colonnade_hello_fork\n")
    importlib.invalidate_caches()
    with pytest.raises(StartupError, match="two installed distributions declare the plugin 'hello': "
                       "colonnade-hello(-fork)? [0-9.]+ and colonnade-hello(-fork)? [0-9.]+; uninstall one"):
        await make_app(load_plugins=["hello"])
    await make_app(load_plugins=["*"], block_plugins=["hello"])  # a clash in a blocked plugin is no matter


# -- blocking ----------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_blocking_a_plugin_removes_its_routes(make_app, fake_distribution):
    fake_distribution("colonnade-hello", {"hello": HELLO})
    app = await make_app(load_plugins=["hello"], block_plugins=["hello"])
    response = await app.test_client().get("/api/hello")
    assert response.status_code == 404
    assert await response.get_json() == {"detail": "Not found"}
    assert "hello" not in host_of(app).pm.infos


@pytest.mark.asyncio
async def test_blocking_wins_over_load_all(make_app, fake_distribution):
    fake_distribution("colonnade-hello", {"hello": HELLO})
    app = await make_app(load_plugins=["*"], block_plugins=["hello"])
    assert (await app.test_client().get("/api/hello")).status_code == 404


@pytest.mark.asyncio
@pytest.mark.parametrize("name", sorted(ESSENTIAL_PLUGINS))
async def test_essential_plugins_cannot_be_blocked(make_app, name):
    with pytest.raises(StartupError, match=f"plugin '{name}' cannot be blocked: it is an essential part"):
        await make_app(block_plugins=[name])


# -- plugins at fault --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_plugin_that_fails_to_import_is_named_with_the_fix(make_app, fake_distribution):
    fake_distribution("colonnade-broken", {"broken": BROKEN})
    with pytest.raises(StartupError) as caught:
        await make_app(load_plugins=["*"])
    message = str(caught.value)
    assert message.startswith("plugin 'broken' (colonnade_broken) failed to load: ModuleNotFoundError")
    assert "Fix or uninstall it, or add it to [host] block_plugins" in message


@pytest.mark.asyncio
async def test_a_broken_plugin_can_be_blocked(make_app, fake_distribution):
    fake_distribution("colonnade-broken", {"broken": BROKEN})
    app = await make_app(load_plugins=["*"], block_plugins=["broken"])  # never imported
    assert (await app.test_client().get("/health")).status_code == 200


class NeedsImages:
    __name__ = "needs_images"
    requires = ("images_feature_not_loaded",)

    @hookimpl
    def startup(self):
        pass


@pytest.mark.asyncio
async def test_a_missing_requirement_is_reported(make_app):
    with pytest.raises(StartupError, match="plugin 'needs_images' requires plugin 'images_feature_not_loaded',"
                       " which is not loaded; enable 'images_feature_not_loaded' or block 'needs_images'"):
        await make_app(plugins=[NeedsImages()])


@pytest.mark.asyncio
async def test_a_requirement_that_is_blocked_is_reported_as_blocked(make_app, fake_distribution):
    fake_distribution("colonnade-hello", {"hello": HELLO, "engine": '"""Needs hello."""\nrequires = ("hello",)\n'})
    with pytest.raises(StartupError, match="plugin 'engine' requires plugin 'hello', which is blocked"):
        await make_app(load_plugins=["*"], block_plugins=["hello"])


ORDERED_FEATURE = '''
"""A feature that an engine depends on."""
from colonnade import hookimpl


@hookimpl
def startup(host):
    host.state("order").log = ["a_feature"]
'''

ORDERED_ENGINE = '''
"""An engine whose name sorts first but which needs the feature started."""
from colonnade import hookimpl

requires = ("z_feature",)


@hookimpl
def startup(host):
    host.state("order").log.append("a_engine")
'''


@pytest.mark.asyncio
async def test_required_plugins_start_first(make_app, fake_distribution):
    fake_distribution("colonnade-ordered", {"a_engine": ORDERED_ENGINE, "z_feature": ORDERED_FEATURE})
    app = await make_app(load_plugins=["a_engine", "z_feature"])
    assert host_of(app).state("order").log == ["a_feature", "a_engine"]


class ImageEngineWithoutImages:
    """Implements a feature hook while the feature that specifies it is not loaded."""

    __name__ = "orphan_engine"

    @hookimpl
    def register_image_engines(self, host):
        return []


class OptionalImageEngine:
    __name__ = "optional_engine"

    @hookimpl(optionalhook=True)
    def register_image_engines(self, host):
        return []


@pytest.mark.asyncio
async def test_a_hook_nobody_specifies_is_reported_by_check_pending(make_app):
    with pytest.raises(StartupError) as caught:
        await make_app(plugins=[ImageEngineWithoutImages()])
    assert str(caught.value) == (
        "plugin 'orphan_engine' implements register_image_engines, which no loaded plugin defines; "
        "enable the feature plugin that owns register_image_engines or block 'orphan_engine'"
    )


WIDGETS_FEATURE = {
    "__init__.py": 'raise RuntimeError("a plugin that is not loaded must never be imported")\n',
    "hookspecs.py": """
        from colonnade import hookspec


        @hookspec
        def register_widgets(host):
            \"\"\"Register widgets.\"\"\"
    """,
}


class WidgetMaker:
    __name__ = "widget_maker"

    @hookimpl
    def register_widgets(self, host):
        return []


@pytest.mark.asyncio
@pytest.mark.parametrize(("block", "state"), [([], "not loaded"), (["widgets"], "blocked")])
async def test_the_feature_owning_an_unspecified_hook_is_named(make_app, fake_distribution, block, state):
    fake_distribution("colonnade-widgets", {"widgets": WIDGETS_FEATURE})
    with pytest.raises(StartupError) as caught:
        await make_app(plugins=[WidgetMaker()], block_plugins=block)
    assert str(caught.value) == (
        f"plugin 'widget_maker' implements register_widgets, which belongs to plugin 'widgets' ({state}); "
        "enable 'widgets' or block 'widget_maker'"
    )


@pytest.mark.asyncio
async def test_an_optional_hook_without_its_feature_is_fine(make_app):
    app = await make_app(plugins=[OptionalImageEngine()])
    host_of(app).pm.check_pending()


class RoutingSpecs:
    @hookspec(firstresult=True)
    def route_widget(self, host, widget_id):
        """Claim a widget id."""


class RoutingFeature:
    __name__ = "routing"

    @hookimpl
    def add_hookspecs(self, pm):
        pm.add_hookspecs(RoutingSpecs)

    @hookimpl
    def route_widget(self, widget_id):
        return "default" if widget_id else None


class AsyncClaimer:
    __name__ = "async_claimer"

    @hookimpl
    async def route_widget(self, widget_id):
        return None


@pytest.mark.asyncio
async def test_async_implementations_of_firstresult_hooks_are_refused(make_app):
    app = await make_app(plugins=[RoutingFeature()])
    assert host_of(app).pm.hook.route_widget(host=host_of(app), widget_id="w1") == "default"
    with pytest.raises(StartupError, match="plugin 'async_claimer' implements route_widget with async def"):
        await make_app(plugins=[RoutingFeature(), AsyncClaimer()])


def _route_plugin(name: str, path: str):
    class RoutePlugin:
        __name__ = name

        @hookimpl
        def register_blueprints(self, host):
            bp = Blueprint(name, __name__)
            bp.get(path)(lambda: {"from": name})
            return [bp]

    return RoutePlugin()


@pytest.mark.asyncio
async def test_two_plugins_serving_the_same_route_stop_the_start(make_app):
    with pytest.raises(StartupError, match="plugins 'first' and 'second' both serve GET /api/same; block one"):
        await make_app(plugins=[_route_plugin("first", "/api/same"), _route_plugin("second", "/api/same")])


@pytest.mark.asyncio
async def test_a_plugin_may_not_take_a_core_route(make_app):
    with pytest.raises(StartupError, match="plugins 'system' and 'squatter' both serve GET /health"):
        await make_app(plugins=[_route_plugin("squatter", "/health")])


# -- listing -----------------------------------------------------------------------------------------


class Listed:
    __name__ = "listed"

    @hookimpl
    def register_config_models(self):
        from pydantic import BaseModel

        class ListedConfig(BaseModel):
            api_key: str = ""
            colour: str = "blue"

        return {"listed": ListedConfig}

    @hookimpl
    def startup(self):
        pass


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/api/plugins", "/api/v1/plugins"])
async def test_plugins_are_listed_for_admins(make_app, auth_headers, path):
    app = await make_app(config={"plugins": {"listed": {"api_key": "sk-very-secret"}}}, plugins=[Listed()])
    client = app.test_client()
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers=await auth_headers(app, role="user"))).status_code == 403
    response = await client.get(path, headers=await auth_headers(app, role="admin"))
    assert response.status_code == 200
    body = await response.get_json()
    by_name = {plugin["name"]: plugin for plugin in body["plugins"]}
    assert set(by_name) == {*ESSENTIAL_PLUGINS, "listed"}
    assert by_name["listed"] == {
        "name": "listed",
        "version": None,
        "source": "test",
        "requires": [],
        "hooks": ["register_config_models", "startup"],
    }
    assert by_name["auth"]["source"] == "core"
    assert "actor_from_request" in by_name["auth"]["hooks"]
    assert body["config"]["listed"] == {"api_key": "***", "colour": "blue"}
    assert "sk-very-secret" not in await response.get_data(as_text=True)


# -- tracing -----------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_trace_hooks_setting_logs_hook_calls(make_app, caplog):
    with caplog.at_level(logging.WARNING, logger="colonnade.trace"):
        app = await make_app(config={"host": {"trace_hooks": True}}, plugins=[Listed()])
        await app.test_client().get("/api/config")
    assert "hook register_config_models() -> ['listed'" in caplog.text
    assert "hook startup(host) -> ['listed']" in caplog.text
    assert "hook actor_from_request(host, request) -> " in caplog.text
    assert "hook on_event(host, event) -> " not in caplog.text
    from colonnade.auth.events import ALL_EVENTS

    with caplog.at_level(logging.WARNING, logger="colonnade.trace"):
        await host_of(app).emit(ALL_EVENTS[0]())
    assert f"hook on_event(host, event) -> [] for {ALL_EVENTS[0].name}" in caplog.text


@pytest.mark.asyncio
async def test_trace_hooks_environment_variable(make_app, caplog, monkeypatch):
    monkeypatch.setenv("COLONNADE_TRACE_HOOKS", "1")
    with caplog.at_level(logging.WARNING, logger="colonnade.trace"):
        await make_app(plugins=[Listed()])
    assert "hook register_blueprints(host) -> " in caplog.text


@pytest.mark.asyncio
async def test_no_tracing_by_default(make_app, caplog):
    with caplog.at_level(logging.DEBUG, logger="colonnade.trace"):
        await make_app(plugins=[Listed()])
    assert caplog.records == [] or all(record.name != "colonnade.trace" for record in caplog.records)
