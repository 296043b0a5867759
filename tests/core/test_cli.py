"""The ``colonnade`` command line: config check, plugins, migrate, makemigrations, plugin commands.

Most tests run ``colonnade.cli.main(argv)`` in-process (exit status returned, output through
``capsys``); test plugins are handed to it the way ``create_app(plugins=...)`` takes them. The last
tests run the installed ``colonnade`` script as a real subprocess, with a third-party plugin installed as
a real distribution (a ``*.dist-info`` on ``PYTHONPATH``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import tomllib
import uuid
from pathlib import Path

import click
import pytest
from pydantic import BaseModel

from colonnade import hookimpl
from colonnade.cli import main
from colonnade.config_output import to_toml

COLONNADE = Path(sys.executable).parent / "colonnade"


class ProbeConfig(BaseModel):
    base_url: str = "http://127.0.0.1:9"
    api_key: str = ""
    greeting: str = "hello"


class Probe:
    """A test plugin with a config section and a command reading it."""

    __name__ = "probe"

    @hookimpl
    def register_config_models(self):
        return {"probe": ProbeConfig}

    @hookimpl
    def register_commands(self, cli):
        @cli.command("probe-greet")
        @click.argument("who")
        @click.pass_obj
        def greet(state, who):
            """Greet someone with the configured greeting."""
            click.echo(f"{state.settings().plugins['probe']['greeting']}, {who}")


class UserCounter:
    """A plugin command that needs the database: it starts the application around its work."""

    __name__ = "user_counter"

    @hookimpl
    def register_commands(self, cli):
        @cli.command("count-users")
        @click.pass_obj
        def count_users(state):
            async def count():
                from colonnade.auth.models import User

                async with state.started_app() as app:
                    assert app.extensions["colonnade"].db is not None
                    return await User.all().count()

            click.echo(f"{asyncio.run(count())} users")


class Clash:
    __name__ = "clash"

    @hookimpl
    def register_commands(self, cli):
        @cli.command("migrate")
        def migrate():
            click.echo("not the real one")


def write_config(tmp_path: Path, config: dict) -> Path:
    base = {"server": {"data_dir": str(tmp_path / "data")}, "host": {"load_plugins": []}}
    for section, values in config.items():
        base.setdefault(section, {}).update(values)
    path = tmp_path / "colonnade.toml"
    path.write_text(to_toml(base))
    return path


def run(capsys, argv, plugins=()):
    status = main(argv, plugins=plugins)
    out, err = capsys.readouterr()
    return status, out, err


def test_config_check_prints_the_effective_config_with_secrets_redacted(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PROBE_TEST_KEY", "sk-from-the-environment")
    config = write_config(
        tmp_path,
        {
            "auth": {"secret_key": "a-signing-secret-of-some-length", "admin_password": "hunter2hunter2"},
            "database": {"url": "postgres://colonnade:db-password@db.internal:5432/colonnade"},
            "plugins": {"probe": {"api_key": {"$env": "PROBE_TEST_KEY"}, "greeting": "hi"}},
        },
    )

    status, out, err = run(capsys, ["config", "check", "--config", str(config)], plugins=[Probe()])

    assert status == 0, err
    for secret in (
        "a-signing-secret-of-some-length",
        "hunter2hunter2",
        "db-password",
        "sk-from-the-environment",
    ):
        assert secret not in out
    effective = tomllib.loads(out)
    assert effective["auth"]["secret_key"] == "***"
    assert effective["auth"]["admin_password"] == "***"
    assert effective["database"]["url"] == "postgres://colonnade:***@db.internal:5432/colonnade"
    # The plugin section as its model validated it: defaults filled in, the secret resolved then hidden.
    assert effective["plugins"]["probe"] == {
        "base_url": "http://127.0.0.1:9",
        "api_key": "***",
        "greeting": "hi",
    }
    assert effective["server"]["port"] == 8080  # defaults are shown too


def test_config_check_json_gives_the_resolved_default_database(tmp_path, capsys):
    config = write_config(tmp_path, {})

    status, out, _ = run(capsys, ["--config", str(config), "config", "check", "--json"])

    assert status == 0
    effective = json.loads(out)
    assert effective["database"]["url"] == f"sqlite://{(tmp_path / 'data' / 'colonnade.db').resolve()}"
    assert effective["host"]["load_plugins"] == []


def test_config_check_names_the_bad_key_and_exits_2(tmp_path, capsys):
    config = write_config(tmp_path, {"server": {"prot": 8081}})

    status, out, err = run(capsys, ["config", "check", "--config", str(config)])

    assert status == 2
    assert out == ""
    assert err == "colonnade: invalid configuration: server.prot: unknown key\n"


def test_config_check_validates_plugin_sections(tmp_path, capsys):
    bad_value = write_config(tmp_path, {"plugins": {"probe": {"greeting": ["not", "a", "string"]}}})
    status, _, err = run(capsys, ["config", "check", "--config", str(bad_value)], plugins=[Probe()])
    assert status == 2
    assert err.startswith("colonnade: invalid configuration: plugins.probe.greeting: ")

    typo = write_config(tmp_path, {"plugins": {"prob": {"greeting": "hi"}}})
    status, _, err = run(capsys, ["config", "check", "--config", str(typo)], plugins=[Probe()])
    assert status == 2
    assert "unknown plugin 'prob'" in err and "did you mean 'probe'?" in err


def test_a_missing_config_file_is_one_line(tmp_path, capsys):
    status, _, err = run(capsys, ["config", "check", "--config", str(tmp_path / "nowhere.toml")])
    assert status == 2
    assert err.count("\n") == 1 and "nowhere.toml does not exist" in err


def test_plugins_lists_name_version_source_and_hooks(tmp_path, capsys):
    config = write_config(tmp_path, {})

    status, out, _ = run(capsys, ["plugins", "--json", "--config", str(config)], plugins=[Probe()])

    assert status == 0
    plugins = {row["name"]: row for row in json.loads(out)}
    assert {"auth", "system", "introspection", "probe"} <= set(plugins)
    assert plugins["auth"]["source"] == "core"
    assert plugins["probe"]["source"] == "test"
    assert plugins["probe"]["hooks"] == ["register_commands", "register_config_models"]

    status, out, _ = run(capsys, ["plugins", "--config", str(config)], plugins=[Probe()])
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "VERSION", "SOURCE", "HOOKS"]
    probe = next(row for row in rows if row.startswith("probe "))
    assert probe.split(None, 3) == ["probe", "-", "test", "register_commands, register_config_models"]


@pytest.fixture
def backend_config(tmp_path, base_config):
    """A config file on this test's storage backend (SQLite, or a fresh PostgreSQL schema)."""
    from colonnade import db
    from colonnade.settings import Settings

    path = tmp_path / "backend.toml"
    path.write_text(to_toml(base_config))
    yield path
    settings = Settings.from_dict(base_config)
    if settings.database.schema_name:
        asyncio.run(db.drop_postgres_schema(settings))


def test_migrate_applies_pending_migrations_once(capsys, backend_config):
    status, out, err = run(capsys, ["migrate", "--config", str(backend_config)])
    assert status == 0, err
    assert "applied auth.0001_initial" in out.splitlines()

    status, out, _ = run(capsys, ["migrate", "--config", str(backend_config)])
    assert status == 0
    assert out == "no pending migrations\n"


def test_migrate_creates_the_sqlite_tables(tmp_path, capsys):
    config = write_config(tmp_path, {})

    assert run(capsys, ["migrate", "--config", str(config)])[0] == 0

    with sqlite3.connect(tmp_path / "data" / "colonnade.db") as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"auth_user", "tortoise_migrations"} <= tables


def test_migrate_reports_an_unreachable_database_in_one_line(tmp_path, capsys):
    config = write_config(tmp_path, {"database": {"url": "postgres://nobody@127.0.0.1:1/none"}})

    status, _, err = run(capsys, ["migrate", "--config", str(config)])

    assert status == 2
    assert err.startswith("colonnade: migrations failed: ") and err.count("\n") == 1


@pytest.fixture
def models_plugin(tmp_path, monkeypatch):
    """A test plugin with one Tortoise model in its own importable package and no migrations yet."""
    package = f"cli_models_{uuid.uuid4().hex[:8]}"
    root = tmp_path / "src" / package
    root.mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "models.py").write_text(
        textwrap.dedent(
            f"""
            from tortoise import fields
            from tortoise.models import Model


            class Note(Model):
                id = fields.IntField(primary_key=True)
                text = fields.CharField(max_length=200)

                class Meta:
                    table = "{package}_note"
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path / "src"))

    class Notes:
        __name__ = package

        @hookimpl
        def register_db_models(self):
            return {package: [f"{package}.models"]}

    yield package, root, Notes()
    for name in [name for name in sys.modules if name.startswith(package)]:
        del sys.modules[name]


def test_makemigrations_writes_a_migration_that_migrate_applies(tmp_path, capsys, models_plugin):
    label, root, plugin = models_plugin
    config = write_config(tmp_path, {})

    status, out, err = run(
        capsys, ["makemigrations", "--check", "--config", str(config), label], plugins=[plugin]
    )
    assert status == 1, err
    assert out.startswith(f"missing {label}.0001_initial")
    assert not (root / "migrations").exists()

    status, out, err = run(capsys, ["makemigrations", "--config", str(config), label], plugins=[plugin])
    assert status == 0, err
    assert out.startswith(f"created {label}.0001_initial")
    assert (root / "migrations" / "0001_initial.py").exists()

    status, out, _ = run(capsys, ["makemigrations", "--config", str(config), label], plugins=[plugin])
    assert (status, out) == (0, "no changes detected\n")

    status, out, err = run(capsys, ["migrate", "--config", str(config)], plugins=[plugin])
    assert status == 0, err
    assert f"applied {label}.0001_initial" in out.splitlines()
    with sqlite3.connect(tmp_path / "data" / "colonnade.db") as connection:
        connection.execute(f"INSERT INTO {label}_note (text) VALUES ('written by the test')")


def test_every_built_in_plugin_ships_migrations_matching_its_models(tmp_path, capsys):
    """A model changed without ``colonnade makemigrations`` would leave databases behind its code."""
    config = write_config(tmp_path, {"host": {"load_plugins": ["*"]}})
    status, out, err = run(capsys, ["makemigrations", "--check", "--config", str(config)])
    assert status == 0, out + err
    assert "no changes detected" in out


def test_makemigrations_names_an_unknown_app(tmp_path, capsys):
    config = write_config(tmp_path, {})
    status, _, err = run(capsys, ["makemigrations", "--config", str(config), "auht"])
    assert status == 2
    assert "'auht'" in err and "did you mean 'auth'?" in err


def test_a_plugin_registers_a_command(tmp_path, capsys):
    config = write_config(tmp_path, {"plugins": {"probe": {"greeting": "ahoy"}}})

    status, out, err = run(capsys, ["--config", str(config), "probe-greet", "sailor"], plugins=[Probe()])
    assert (status, out) == (0, "ahoy, sailor\n"), err

    status, out, _ = run(capsys, ["--config", str(config), "--help"], plugins=[Probe()])
    assert status == 0
    assert "probe-greet" in out and "Greet someone with the configured greeting." in out


def test_a_plugin_command_uses_the_started_application(tmp_path, capsys):
    config = write_config(tmp_path, {})

    status, out, err = run(capsys, ["--config", str(config), "count-users"], plugins=[UserCounter()])

    assert (status, out) == (0, "0 users\n"), err
    assert (tmp_path / "data" / "colonnade.db").exists()  # started: migrations ran at start


def test_a_plugin_cannot_replace_a_builtin_command(tmp_path, capsys):
    config = write_config(tmp_path, {})
    status, _, err = run(capsys, ["--config", str(config), "anything"], plugins=[Clash()])
    assert status == 2
    assert err == (
        "colonnade: plugin 'clash' adds the command 'migrate', which 'colonnade' already provides; "
        "block one of them\n"
    )


class NoArguments:
    """A ``register_commands`` taking none of the spec's arguments, which pluggy allows."""

    __name__ = "no_arguments"

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def register_commands(self):
        self.calls += 1


def test_a_register_commands_taking_no_arguments_is_called_without_them(tmp_path, capsys):
    config = write_config(tmp_path, {})
    plugin = NoArguments()

    status, out, err = run(capsys, ["--config", str(config), "--help"], plugins=[plugin, Probe()])

    assert (status, err) == (0, "")
    assert plugin.calls == 1
    assert "probe-greet" in out


class FailingCommands:
    __name__ = "failing_commands"

    @hookimpl
    def register_commands(self, cli):
        raise RuntimeError("no commands today")


def test_a_failing_register_commands_is_one_line_naming_the_plugin(tmp_path, capsys):
    config = write_config(tmp_path, {})
    status, _, err = run(capsys, ["--config", str(config), "anything"], plugins=[FailingCommands()])
    assert status == 2
    assert err == "colonnade: plugin 'failing_commands' failed to register its commands: no commands today\n"


def test_an_unknown_command_is_a_usage_error(tmp_path, capsys):
    config = write_config(tmp_path, {})
    status, _, err = run(capsys, ["--config", str(config), "sevre"])
    assert status == 2
    assert "No such command 'sevre'" in err


# -- the installed script, as a real subprocess ---------------------------------------------------

GREETER = '''
"""A third-party plugin adding one command."""
import click

from colonnade import hookimpl


@hookimpl
def register_commands(cli):
    @cli.command("greet")
    @click.option("--name", default="world")
    def greet(name):
        """Say hello."""
        click.echo(f"hello {name}")
'''


@pytest.fixture
def installed_greeter(tmp_path):
    """A distribution ``colonnade-cli-greeter`` on a directory the subprocess gets as ``PYTHONPATH``."""
    root = tmp_path / "site"
    info = root / "colonnade_cli_greeter-0.2.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: colonnade-cli-greeter\nVersion: 0.2\n")
    (info / "entry_points.txt").write_text("[colonnade.plugins]\ncli_greeter = colonnade_cli_greeter\n")
    (root / "colonnade_cli_greeter.py").write_text(GREETER)
    return root


def colonnade(args, tmp_path, **env):
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("COLONNADE_")}
    # stevedore caches entry points per sys.path under XDG_CACHE_HOME: keep its files in tmp_path.
    environment = {**inherited, "XDG_CACHE_HOME": str(tmp_path / "cache"), **env}
    return subprocess.run(
        [str(COLONNADE), *args],
        check=False,
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=120,
    )


def test_the_script_runs_a_command_of_an_installed_plugin(tmp_path, installed_greeter):
    config = write_config(tmp_path, {"host": {"load_plugins": ["cli_greeter"]}})

    result = colonnade(
        ["greet", "--name", "operator"],
        tmp_path,
        COLONNADE_CONFIG=str(config),
        PYTHONPATH=str(installed_greeter),
    )
    assert (result.returncode, result.stdout) == (0, "hello operator\n"), result.stderr

    result = colonnade(
        ["plugins", "--json"], tmp_path, COLONNADE_CONFIG=str(config), PYTHONPATH=str(installed_greeter)
    )
    greeter = next(row for row in json.loads(result.stdout) if row["name"] == "cli_greeter")
    assert greeter == {
        "name": "cli_greeter",
        "version": "0.2",
        "source": "colonnade-cli-greeter",
        "requires": [],
        "hooks": ["register_commands"],
    }


def test_the_script_reads_colonnade_config_and_fails_in_one_line(tmp_path):
    config = write_config(tmp_path, {"auth": {"jwt_expires_in": "forever"}})

    result = colonnade(["config", "check"], tmp_path, COLONNADE_CONFIG=str(config))

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("colonnade: invalid configuration: auth.jwt_expires_in: ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_the_script_honours_environment_overrides(tmp_path):
    config = write_config(tmp_path, {})

    result = colonnade(
        ["config", "check", "--json"], tmp_path, COLONNADE_CONFIG=str(config), COLONNADE_SERVER_PORT="9099"
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["server"]["port"] == 9099
