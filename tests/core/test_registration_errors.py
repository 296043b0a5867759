"""A plugin whose registration hook raises stops the start with one line naming the plugin and the hook.

Without it, an exception in ``register_blueprints`` (or any hook the host calls while it builds and
starts an application) escaped as a raw traceback with nothing saying whose plugin it was.
"""

from __future__ import annotations

import pytest

from colonnade import StartupError, hookimpl
from colonnade.cli import main

#: Every hook the host calls while building or starting an application.
REGISTRATION_HOOKS = [
    "add_hookspecs",
    "register_config_models",
    "register_blueprints",
    "register_db_models",
    "register_actions",
    "register_events",
]


def failing_plugin(hook: str) -> object:
    """A plugin object named ``faulty`` whose ``hook`` implementation raises."""

    def fail(self):
        raise RuntimeError("the disk is on fire")

    return type("Faulty", (), {"__name__": "faulty", hook: hookimpl(fail)})()


@pytest.mark.asyncio
@pytest.mark.parametrize("hook", sorted(REGISTRATION_HOOKS))
async def test_a_failing_registration_hook_is_a_startup_error_naming_plugin_and_hook(make_app, hook):
    with pytest.raises(StartupError) as caught:
        await make_app(plugins=[failing_plugin(hook)])
    assert str(caught.value) == f"plugin 'faulty' failed in {hook}: RuntimeError: the disk is on fire"


class NotABlueprint:
    __name__ = "not_a_blueprint"

    @hookimpl
    def register_blueprints(self):
        return ["/api/oops"]


@pytest.mark.asyncio
async def test_a_plugin_returning_something_else_than_a_blueprint_is_named(make_app):
    with pytest.raises(StartupError, match="plugin 'not_a_blueprint' could not register its routes: "):
        await make_app(plugins=[NotABlueprint()])


class SecondAuthModels:
    __name__ = "second_auth"

    @hookimpl
    def register_db_models(self):
        return {"auth": ["tests.core.hook_test_models"]}


@pytest.mark.asyncio
async def test_two_plugins_claiming_one_app_label_are_both_named(make_app):
    with pytest.raises(StartupError, match="plugins 'auth' and 'second_auth' both register Tortoise models"):
        await make_app(plugins=[SecondAuthModels()])


@pytest.mark.parametrize(
    "hook", ["register_blueprints", "add_hookspecs", "register_config_models", "register_actions"]
)
def test_serve_prints_one_line_and_exits_2(tmp_path, capsys, hook):
    config = tmp_path / "colonnade.toml"
    config.write_text(f'[server]\ndata_dir = "{tmp_path / "data"}"\nport = 0\n[host]\nload_plugins = []\n')

    status = main(["serve", "--config", str(config)], plugins=[failing_plugin(hook)])

    out, err = capsys.readouterr()
    assert (status, out) == (2, "")
    assert err == f"colonnade: plugin 'faulty' failed in {hook}: RuntimeError: the disk is on fire\n"
