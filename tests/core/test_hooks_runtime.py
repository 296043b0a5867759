"""``test_hook_<name>`` for the hooks called while serving requests, and for ``register_commands``.

Like ``test_hooks.py``, every test builds a real application around a small test plugin.
"""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner
from quart import Blueprint, Response, jsonify

from colonnade import Actor, hookimpl, require


def host_of(app):
    return app.extensions["colonnade"]


# -- actor_from_request ------------------------------------------------------------------------------


# docs-start: trusted-header
class TrustedHeader:
    """Authenticates ``X-Trusted-User``, as a reverse proxy in front of the host would set it."""

    __name__ = "trusted_header"

    @hookimpl
    async def actor_from_request(self, request):
        name = request.headers.get("X-Trusted-User")
        return Actor(id=name, role="user", credential="trusted_header") if name else None

    @hookimpl
    def register_blueprints(self, host):
        bp = Blueprint("trusted_header", __name__)

        @bp.get("/api/whoami")
        @require()
        async def whoami(actor):
            return {"id": actor.id, "credential": actor.credential}

        return [bp]


@pytest.mark.asyncio
async def test_hook_actor_from_request(make_app, auth_headers):
    app = await make_app(plugins=[TrustedHeader()])
    client = app.test_client()
    response = await client.get("/api/whoami", headers={"X-Trusted-User": "grace"})
    assert await response.get_json() == {"id": "grace", "credential": "trusted_header"}
    # The core's own implementation still answers for a bearer token.
    headers = await auth_headers(app, role="user")
    response = await client.get("/api/whoami", headers=headers)
    assert (await response.get_json())["credential"] == "session"
    assert (await client.get("/api/whoami")).status_code == 401
# docs-end: trusted-header


# -- permission_allowed ------------------------------------------------------------------------------


class Policy:
    """Denies listing plugins to everyone (even admins) and lets ``ops@`` users manage users."""

    __name__ = "policy"

    @hookimpl
    async def permission_allowed(self, actor, action):
        if action == "introspection.view":
            return False
        if action == "users.manage" and actor.email.startswith("ops@"):
            return True
        return None


@pytest.mark.asyncio
async def test_hook_permission_allowed(make_app, auth_headers):
    app = await make_app(plugins=[Policy()])
    client = app.test_client()
    admin = await auth_headers(app, role="admin")
    assert (await client.get("/api/plugins", headers=admin)).status_code == 403  # any False denies
    assert (await client.get("/api/users", headers=admin)).status_code == 200
    ops = await auth_headers(app, role="user", email="ops@example.test")
    assert (await client.get("/api/users", headers=ops)).status_code == 200  # a True allows
    someone = await auth_headers(app, role="user")
    assert (await client.get("/api/users", headers=someone)).status_code == 403  # default_role decides


# -- register_commands -------------------------------------------------------------------------------


class Commands:
    __name__ = "commands"

    @hookimpl
    def register_commands(self, cli):
        @cli.command()
        @click.option("--name", default="world")
        def greet(name):
            """Print a greeting."""
            click.echo(f"hello {name}")


@pytest.mark.asyncio
async def test_hook_register_commands(make_app):
    # The contract: the hook gets a click group and adds commands to it.
    app = await make_app(plugins=[Commands()])
    cli = click.Group("colonnade")
    host_of(app).pm.hook.register_commands(cli=cli)
    result = CliRunner().invoke(cli, ["greet", "--name", "Ada"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello Ada\n"


def test_hook_register_commands_through_the_colonnade_cli(tmp_path):
    from colonnade.cli import CliState, make_cli

    config = tmp_path / "colonnade.toml"
    config.write_text(f'[server]\ndata_dir = "{tmp_path / "data"}"\n\n[host]\nload_plugins = []\n')
    result = CliRunner().invoke(
        make_cli(), ["--config", str(config), "greet", "--name", "Ada"], obj=CliState([Commands()])
    )
    assert result.exit_code == 0, result.output
    assert result.output == "hello Ada\n"


# -- handle_exception --------------------------------------------------------------------------------


class TeapotError(Exception):
    pass


class Teapot:
    __name__ = "teapot"

    @hookimpl
    def register_blueprints(self, host):
        bp = Blueprint("teapot", __name__)

        @bp.get("/api/teapot")
        async def teapot():
            raise TeapotError("short and stout")

        @bp.get("/api/boom")
        async def boom():
            return 1 / 0

        return [bp]

    @hookimpl
    async def handle_exception(self, request, exception):
        if isinstance(exception, TeapotError):
            response = jsonify({"detail": f"{request.path}: {exception}"})
            response.status_code = 418
            return response
        return None


@pytest.mark.asyncio
async def test_hook_handle_exception(make_app):
    app = await make_app(plugins=[Teapot()])
    client = app.test_client()
    response = await client.get("/api/teapot")
    assert response.status_code == 418
    assert await response.get_json() == {"detail": "/api/teapot: short and stout"}
    # Declined: the default renders JSON without a traceback.
    response = await client.get("/api/boom")
    assert response.status_code == 500
    body = await response.get_json()
    assert body == {"detail": "Internal server error"}
    assert isinstance(response, Response)
