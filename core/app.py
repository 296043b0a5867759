"""The application factory: ``create_app(settings) -> Quart``.

It builds the plugin manager, validates every plugin's configuration, registers every plugin's
blueprints and wires start-up and shutdown; features themselves live in plugins.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from colonnade.calling import await_me_maybe, collect_named
from colonnade.db import install_model_comments
from colonnade.errors import StartupError, install_error_handlers
from colonnade.fastpaths import install_fast_paths
from colonnade.hookcalls import call_impl, items_by_plugin, plain_impls, results_by_plugin
from colonnade.host import Host
from colonnade.plugin_manager import make_plugin_manager
from colonnade.registry import did_you_mean
from colonnade.settings import Settings, format_validation_error, load_settings

log = logging.getLogger("colonnade")


def create_app(
    settings: Settings | None = None,
    *,
    plugins: Iterable[Any] = (),
    upstreams: Mapping[str, str] | None = None,
    testing: bool = False,
):
    """Build one Colonnade application.

    :param settings: The settings; read from ``colonnade.toml`` and the environment when omitted.
    :param plugins: Extra plugin objects to register (tests), after the entry-point plugins.
    :param upstreams: ``{upstream name: base URL}`` overrides, read by plugins through
        ``host.upstream_url(name)`` (tests point them at fake servers).
    :param testing: Create tables for test plugins that ship no migrations.
    :raises StartupError: When a plugin or a configuration key is at fault; the message names it.
    """
    from quart import Quart
    from quart_schema import QuartSchema

    settings = settings or load_settings()
    install_model_comments()
    pm = make_plugin_manager(settings, extra=tuple(plugins))

    app = Quart("colonnade")
    app.config["MAX_CONTENT_LENGTH"] = settings.server.max_body_size
    # None: no limit. Quart's default (60 s) would cut long completions streams and downloads.
    app.config["RESPONSE_TIMEOUT"] = settings.server.response_timeout or None
    app.config["TESTING"] = testing
    host = Host(app, pm, settings)
    host._upstreams = dict(upstreams or {})
    app.extensions["colonnade"] = host

    _validate_plugin_configs(host)
    QuartSchema(
        app,
        openapi_path="/openapi.json",
        swagger_ui_path="/docs",
        redoc_ui_path=None,
        scalar_ui_path=None,
        info={"title": settings.host.name, "version": _version()},
        security_schemes={"bearer": {"type": "http", "scheme": "bearer", "bearer_format": "JWT"}},
        security=[{"bearer": []}],
    )
    install_fast_paths(app)
    install_error_handlers(app, host)
    _register_blueprints(app, host)

    @app.before_serving
    async def start() -> None:
        try:
            await startup(host, testing=testing)
        except BaseException as error:
            # The ASGI lifespan reports only the message; keep the error so a test harness (and
            # ``colonnade serve``) can re-raise the StartupError itself.
            host.startup_error = error
            raise

    @app.after_serving
    async def stop() -> None:
        await shutdown(host)

    return app


def _version() -> str:
    from colonnade import __version__

    return __version__


def _validate_plugin_configs(host: Host) -> None:
    models: dict[str, Any] = {}
    owners: dict[str, str] = {}
    for plugin_name, result in results_by_plugin(host.pm, "register_config_models"):
        for name, model in (result or {}).items():
            if name in models:
                first, second = sorted((owners[name], plugin_name))
                raise StartupError(
                    f"plugins {first!r} and {second!r} both register a configuration model "
                    f"for [plugins.{name}]; block one of them"
                )
            models[name] = model
            owners[name] = plugin_name
    # A section for an installed plugin without a model (or a blocked one) is allowed: blocking a plugin
    # must not force the operator to delete its configuration.
    known = set(models) | set(host.pm.entry_points) | set(host.pm.infos) | set(host.settings.host.block_plugins)
    for name in host.settings.plugins:
        if name not in known:
            raise StartupError(
                f"unknown plugin {name!r} in [plugins.{name}]{did_you_mean(name, sorted(known))}"
            )
    from pydantic import ValidationError

    for name, model in models.items():
        section = host.settings.plugins.get(name, {})
        _refuse_unknown_keys(name, model, section)
        try:
            host._plugin_configs[name] = model(**section)
        except ValidationError as error:
            raise StartupError(format_validation_error(error, prefix=f"plugins.{name}")) from None


def _refuse_unknown_keys(name: str, model: Any, section: dict[str, Any]) -> None:
    """A misspelt key must stop the start, not be silently ignored (Pydantic's default for extras).

    Models that set ``extra="allow"`` (or ``"forbid"``, which Pydantic reports itself) decide alone.
    """
    if model.model_config.get("extra") not in (None, "ignore"):
        return
    known: set[str] = set()
    for field_name, field in model.model_fields.items():
        known.add(field_name)
        for alias in (field.alias, field.validation_alias):
            if isinstance(alias, str):
                known.add(alias)
    for key in section:
        if key not in known:
            raise StartupError(
                f"invalid configuration: plugins.{name}.{key}: unknown key{did_you_mean(key, sorted(known))}"
            )


def _register_blueprints(app: Any, host: Host) -> None:
    """Register every plugin's blueprints, refusing two plugins that claim the same method and path."""
    from quart_schema import tag_blueprint

    for plugin_name, items in items_by_plugin(host.pm, "register_blueprints", order="startup", host=host):
        for item in items:
            before = {rule.endpoint for rule in app.url_map.iter_rules()}
            try:
                blueprint, options = item if isinstance(item, tuple) else (item, {})
                if not hasattr(blueprint, "_colonnade_tagged"):
                    tag_blueprint(blueprint, [plugin_name])
                    blueprint._colonnade_tagged = True
                app.register_blueprint(blueprint, **options)
            except ValueError as error:  # two blueprints under one name
                raise StartupError(f"plugin {plugin_name!r} could not register its routes: {error}") from None
            except Exception as error:  # not a blueprint, or one whose own registration fails
                raise StartupError(
                    f"plugin {plugin_name!r} could not register its routes: {type(error).__name__}: {error}"
                ) from error
            for rule in app.url_map.iter_rules():
                if rule.endpoint not in before:
                    _claimed_routes(app).setdefault(rule.endpoint, plugin_name)
    _check_route_conflicts(app)


def _claimed_routes(app: Any) -> dict[str, str]:
    return app.extensions.setdefault("colonnade.route_owners", {})


def _check_route_conflicts(app: Any) -> None:
    owners = _claimed_routes(app)
    seen: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        for method in rule.methods or ():
            if method in ("HEAD", "OPTIONS"):
                continue
            key = (method, rule.rule)
            owner = owners.get(rule.endpoint, "core")
            if key in seen and seen[key] != owner:
                raise StartupError(
                    f"plugins {seen[key]!r} and {owner!r} both serve {method} {rule.rule}; block one of them"
                )
            seen[key] = owner


async def startup(host: Host, *, testing: bool = False) -> None:
    """Open storage, build the registries, then run every ``startup`` hook."""
    from colonnade import db

    apps = db.collect_db_models(host.pm)
    host.db = await db.open_database(
        host.settings,
        apps,
        migrate=host.settings.database.migrate_on_start or testing,
        generate_missing=testing,
    )
    try:
        await _start_plugins(host)
    except BaseException:
        # Without this the database's worker thread outlives a failed start and the process never exits.
        await shutdown(host)
        raise


async def _start_plugins(host: Host) -> None:
    actions = items_by_plugin(host.pm, "register_actions", host=host)
    host.actions = collect_named([items for _plugin, items in actions], kind="action")
    event_classes = [cls for _plugin, items in items_by_plugin(host.pm, "register_events") for cls in items]
    collect_named([event_classes], kind="event")  # duplicate names are a start-up error
    host.event_classes = tuple(event_classes)
    for impl in plain_impls(host.pm.hook.startup):
        try:
            await await_me_maybe(call_impl(host.pm, impl, host=host))
        except StartupError:
            raise
        except Exception as error:
            raise StartupError(f"plugin {impl.plugin_name!r} failed to start: {error}") from error


async def shutdown(host: Host) -> None:
    """Run every ``shutdown`` hook (a failure is logged, the rest still run), then release resources."""
    from colonnade import db

    for impl in plain_impls(host.pm.hook.shutdown, reverse=True):
        try:
            await await_me_maybe(call_impl(host.pm, impl, host=host))
        except Exception:
            log.exception("plugin %r failed to shut down", impl.plugin_name)
    await host.close_http_clients()
    await host.close_redis()
    await db.close_database(getattr(host, "db", None))
