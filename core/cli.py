"""The ``colonnade`` command line: serve, migrate, makemigrations, plugins, config check.

Plugins add subcommands through the ``register_commands(cli)`` hook. Loading them means importing
every plugin the settings enable, so it happens only when a command name is not a built-in one (or
for ``--help``): ``colonnade serve`` never pays for it twice.

A :class:`~colonnade.errors.StartupError` from any command — a bad configuration key, a broken
plugin — prints one line, ``colonnade: <what is wrong>``, and exits with status 2; never a traceback.

Plugin commands reach the configuration and the application through the context object::

    @hookimpl
    def register_commands(cli):
        @cli.command()
        @click.pass_obj
        def purge(state):
            async def run():
                async with state.started_app() as app:   # database open, startup hooks run
                    host = app.extensions["colonnade"]
                    ...
            asyncio.run(run())
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import click

from colonnade.errors import StartupError

if TYPE_CHECKING:
    from quart import Quart

    from colonnade.plugin_manager import ColonnadePluginManager
    from colonnade.settings import Settings


class CliState:
    """What every command shares: the config file chosen and extra plugin objects (tests, embedding).

    :param plugins: Plugin objects registered after the entry-point ones, as ``create_app(plugins=...)``.
    """

    def __init__(self, plugins: Iterable[Any] = ()) -> None:
        self.plugins = tuple(plugins)
        self.config_path: str | None = None
        self._settings: Settings | None = None

    def use_config(self, path: str | None) -> None:
        if path:
            self.config_path, self._settings = path, None

    def settings(self, environ: dict[str, str] | None = None) -> Settings:
        """The settings from ``--config`` (else ``COLONNADE_CONFIG``, else ``./colonnade.toml``)."""
        from colonnade.settings import load_settings

        if environ is not None:
            return load_settings(self.config_path, environ)
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    def plugin_manager(self) -> ColonnadePluginManager:
        from colonnade.plugin_manager import make_plugin_manager

        return make_plugin_manager(self.settings(), extra=self.plugins)

    def create_app(self, settings: Settings | None = None) -> Quart:
        from colonnade.app import create_app

        return create_app(settings or self.settings(), plugins=self.plugins)

    @asynccontextmanager
    async def started_app(self) -> AsyncIterator[Quart]:
        """An application with its database open and ``startup`` hooks run, shut down on exit."""
        app = self.create_app()
        await app.startup()
        try:
            yield app
        finally:
            await app.shutdown()


class ColonnadeGroup(click.Group):
    """A click group that adds the commands plugins register, naming the plugin on a clash."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plugin_commands_loaded = False
        self._registering: str | None = None
        #: ``{command name: plugin name}`` for the commands plugins added.
        self.command_sources: dict[str, str] = {}

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if self._registering is not None:
            if name in self.commands:
                owner = self.command_sources.get(name, "colonnade")
                raise StartupError(
                    f"plugin {self._registering!r} adds the command {name!r}, which {owner!r} already "
                    f"provides; block one of them"
                )
            self.command_sources[name] = self._registering
        super().add_command(cmd, name)

    def load_plugin_commands(self, ctx: click.Context) -> None:
        """Call every ``register_commands`` implementation once, with this group.

        Each implementation gets only the arguments it declares, as pluggy would give them.
        """
        from colonnade.hookcalls import call_impl, call_order

        if self._plugin_commands_loaded:
            return
        self._plugin_commands_loaded = True
        state = ctx.ensure_object(CliState)
        state.use_config(ctx.params.get("config"))
        pm = state.plugin_manager()
        for impl in call_order(pm.hook.register_commands):
            self._registering = impl.plugin_name
            try:
                call_impl(pm, impl, cli=self)
            except StartupError:
                raise
            except Exception as error:
                raise StartupError(
                    f"plugin {impl.plugin_name!r} failed to register its commands: {error}"
                ) from error
            finally:
                self._registering = None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            self.load_plugin_commands(ctx)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        try:
            self.load_plugin_commands(ctx)
        except StartupError as error:
            click.echo(f"colonnade: plugin commands are not listed: {error}", err=True)
        return super().list_commands(ctx)


def config_option(function: Any) -> Any:
    return click.option(
        "--config",
        "config",
        metavar="PATH",
        default=None,
        help="Configuration file (default: $COLONNADE_CONFIG, else ./colonnade.toml).",
    )(function)


# -- serve ---------------------------------------------------------------------------------------


@click.command()
@config_option
@click.option("--host", default=None, help="Address to listen on (server.host; default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (server.port; default 8080).")
@click.option(
    "--workers", type=click.IntRange(1, 64), default=None, help="Worker processes (server.workers)."
)
@click.pass_obj
def serve(
    state: CliState, config: str | None, host: str | None, port: int | None, workers: int | None
) -> None:
    """Serve the application with hypercorn until SIGTERM or SIGINT.

    Pending migrations are applied first (unless database.migrate_on_start is false).
    """
    from colonnade import serving

    state.use_config(config)
    overrides = {
        f"COLONNADE_SERVER_{key.upper()}": str(value)
        for key, value in (("host", host), ("port", port), ("workers", workers))
        if value is not None
    }
    # Overrides travel as environment variables so that spawned workers rebuild the same settings.
    settings = state.settings({**os.environ, **overrides})
    serving.configure_logging(settings.server.log_level)
    if settings.server.workers == 1:
        serving.serve_in_process(state.create_app(settings), settings)
        return
    if state.plugins:
        raise click.UsageError(
            "plugin objects cannot be handed to spawned workers; serve them with --workers 1"
        )
    environment = dict(overrides)
    if settings.source:
        environment["COLONNADE_CONFIG"] = str(Path(settings.source).resolve())
    # The app built here is started and stopped once before the workers spawn: a bad key, a broken
    # plugin or an unreachable database stops the start in one line, and migrations run only once.
    sys.exit(serving.serve_workers(state.create_app(settings), settings, environment))


async def _apply_migrations(settings: Settings, pm: Any, report: Any) -> list[str]:
    from colonnade import migrating
    from colonnade.serving import log

    try:
        return await migrating.apply_pending(settings, pm, report)
    except StartupError:
        raise
    except Exception as error:
        # An unreachable database or a failing migration: one line, the traceback only in debug logs.
        log.debug("migrations failed", exc_info=True)
        raise StartupError(f"migrations failed: {type(error).__name__}: {error}") from error


# -- migrate / makemigrations --------------------------------------------------------------------


@click.command()
@config_option
@click.pass_obj
def migrate(state: CliState, config: str | None) -> None:
    """Apply the pending migrations of every loaded plugin."""
    state.use_config(config)
    settings = state.settings()
    applied = asyncio.run(
        _apply_migrations(settings, state.plugin_manager(), lambda label: click.echo(f"applied {label}"))
    )
    if not applied:
        click.echo("no pending migrations")


@click.command()
@config_option
@click.argument("app_labels", nargs=-1, metavar="[APP_LABEL]...")
@click.option("-n", "--name", default=None, help="Name the new migrations (instead of auto_<timestamp>).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when a migration is missing.")
@click.pass_obj
def makemigrations(
    state: CliState, config: str | None, app_labels: tuple[str, ...], name: str | None, check: bool
) -> None:
    """Generate migrations for model changes of the loaded plugins (every one, or the named ones)."""
    from colonnade import migrating

    state.use_config(config)
    created = asyncio.run(
        migrating.make_migrations(
            state.settings(), state.plugin_manager(), app_labels, name=name, write=not check
        )
    )
    if not created:
        click.echo("no changes detected")
        return
    for label, path in created:
        click.echo(f"{'missing' if check else 'created'} {label}  ({path})")
    if check:
        sys.exit(1)


# -- plugins -------------------------------------------------------------------------------------


@click.command("plugins")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def plugins_command(state: CliState, config: str | None, as_json: bool) -> None:
    """List the loaded plugins: name, version, source and the hooks each implements."""
    from colonnade.introspection import describe_plugins

    state.use_config(config)
    rows = describe_plugins(SimpleNamespace(pm=state.plugin_manager()))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = [("NAME", "VERSION", "SOURCE", "HOOKS")]
    table += [(row["name"], row["version"] or "-", row["source"], ", ".join(row["hooks"])) for row in rows]
    widths = [max(len(line[column]) for line in table) for column in range(3)]
    for line in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths)) + "  " + line[3])


# -- config check --------------------------------------------------------------------------------


@click.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of TOML.")
@click.pass_obj
def config_check(state: CliState, config: str | None, as_json: bool) -> None:
    """Validate the configuration (core keys and every plugin section) and print the effective one.

    Secrets are redacted. Exits with status 2 and the offending key when it is invalid.
    """
    from colonnade import config_output

    state.use_config(config)
    settings = state.settings()
    app = state.create_app(settings)  # loads the plugins and validates each [plugins.<name>] section
    effective = config_output.effective_config(settings, app.extensions["colonnade"])
    if as_json:
        click.echo(json.dumps(effective, indent=2))
    else:
        click.echo(
            f"# effective configuration ({settings.source or 'defaults and environment'}), secrets redacted"
        )
        click.echo(config_output.to_toml(effective), nl=False)


# -- entry point ---------------------------------------------------------------------------------


def make_cli() -> ColonnadeGroup:
    """A fresh command group: plugin commands are added to it, never to a module-level object."""

    @click.group(cls=ColonnadeGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @config_option
    @click.version_option(package_name="colonnade", prog_name="colonnade")
    @click.pass_context
    def cli(ctx: click.Context, config: str | None) -> None:
        """Colonnade: an Open WebUI-compatible AI backend built as a plugin host."""
        ctx.ensure_object(CliState).use_config(config)

    for command in (serve, migrate, makemigrations, plugins_command, config_group):
        cli.add_command(command)
    return cli  # type: ignore[return-value]


def main(argv: Sequence[str] | None = None, *, plugins: Iterable[Any] = ()) -> int:
    """Run the command line; return the exit status (the ``colonnade`` console script exits with it).

    :param argv: The arguments (default ``sys.argv[1:]``).
    :param plugins: Extra plugin objects, registered as ``create_app(plugins=...)`` does.
    """
    try:
        make_cli().main(
            args=list(argv) if argv is not None else None, prog_name="colonnade", obj=CliState(plugins)
        )
    except StartupError as error:
        click.echo(f"colonnade: {error}", err=True)
        return 2
    except KeyboardInterrupt:
        return 130
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            return exit_.code or 0
        click.echo(str(exit_.code), err=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
