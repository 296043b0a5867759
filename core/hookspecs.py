"""Core hook specifications.

Feature plugins add their own specifications through ``add_hookspecs``; this module holds only the ones
the host itself calls. The full contract of each hook, with examples, is in ``docs/plugin_hooks.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click
    from pydantic import BaseModel
    from quart import Blueprint, Request, Response

    from colonnade.actors import Action, Actor
    from colonnade.events import Event
    from colonnade.host import Host

hookspec = pluggy.HookspecMarker("colonnade")
hookimpl = pluggy.HookimplMarker("colonnade")


@hookspec(historic=True)
def add_hookspecs(pm: pluggy.PluginManager) -> None:
    """Add the hook specifications a feature plugin owns.

    Called once for every plugin as it is registered, including those registered after the call.

    :param pm: The application's plugin manager; call ``pm.add_hookspecs(module)``.

    Historic. Implemented by: feature plugins that own hooks (``completions``, ``images``, ``audio``, ...).
    """


@hookspec
def register_config_models() -> dict[str, type[BaseModel]]:
    """Declare the configuration model of each ``[plugins.<name>]`` section this plugin reads.

    Called once while the application is built, before any other hook that receives the host.

    :return: ``{plugin_name: PydanticModel}``. Core validates the section against it and hands the
        validated, immutable model out through ``host.plugin_config(name)``.

    Collect, sync. A section naming no installed plugin is a start-up error with a did-you-mean; a
    plugin with no model gets no section. Implemented by: ``chats`` and most feature plugins.
    """


@hookspec
def register_db_models() -> dict[str, list[str]]:
    """Declare Tortoise model modules, one Tortoise app per plugin.

    Called once at start-up, before the database is opened; pending migrations are then applied.

    :return: ``{app_label: ["package.models", ...]}``; the label is the plugin name, and a
        ``migrations`` package next to the models module holds the app's migrations. Two plugins
        using one label is a start-up error; so is a models module without migrations (except in
        tests, where ``make_app`` creates such tables directly).

    Collect, sync. Implemented by: ``auth``, ``chats``, ``files``, ``models``.
    """


@hookspec
def register_blueprints(host: Host) -> list[Blueprint]:
    """Return the Quart blueprints this plugin serves.

    Called once while the application is built (blueprints cannot be added once serving has begun).

    :param host: The application host.
    :return: A list of blueprints, or ``(blueprint, options)`` pairs whose options (``url_prefix``,
        ``name``) go to ``app.register_blueprint`` so one blueprint can serve two prefixes. Each is
        tagged in the OpenAPI document with the plugin's name. Two plugins claiming the same method and
        path is a start-up error naming both.

    Collect, sync; called one plugin at a time in start-up order. Implemented by: ``auth``,
    ``system``, ``introspection`` and every feature plugin that serves routes.
    """


@hookspec
def register_actions(host: Host) -> list[Action]:
    """Declare the permission actions this plugin checks.

    Called once at start-up. Duplicate action names are a start-up error.

    :param host: The application host.
    :return: A list of :class:`colonnade.Action`.

    Collect, sync. Implemented by: ``auth``, ``introspection``.
    """


@hookspec
def register_events() -> list[type[Event]]:
    """Declare the event classes this plugin may emit with ``host.emit``.

    Called once at start-up. Emitting an undeclared class is an error.

    :return: A list of :class:`colonnade.Event` subclasses.

    Collect, sync. Implemented by: ``auth``.
    """


@hookspec
def startup(host: Host) -> Any:
    """Run start-up work once the configuration is validated, the database is ready and the
    registries are built, before the first request is served.

    :param host: The application host.
    :return: ``None`` or an awaitable, which is awaited.

    Collect, awaitable. Run one plugin at a time in start-up order: the core plugins first, then
    entry-point plugins with each after the plugins it ``requires``, then plugins passed to
    ``create_app(plugins=...)``; ``tryfirst``/``trylast`` move an implementation to the front/back.
    A failure stops the start with the plugin named. Implemented by: ``auth``.
    """


@hookspec
def shutdown(host: Host) -> Any:
    """Release what ``startup`` acquired, once serving has stopped.

    :param host: The application host.
    :return: ``None`` or an awaitable, which is awaited.

    Collect, awaitable. Run in the reverse of start-up order. A failure is logged and the other
    implementations still run; the host then closes pooled HTTP clients, Redis and the database.
    """


@hookspec
def actor_from_request(host: Host, request: Request) -> Actor | None:
    """Authenticate a request.

    Called at most once per request, the first time a view needs to know who is calling.

    :param host: The application host.
    :param request: The Quart request.
    :return: An :class:`colonnade.Actor`, ``None`` to decline, or an awaitable resolving to either.

    Collect, awaitable: every result is awaited, the first non-``None`` one in call order wins
    (later-registered plugins are called first, so a third-party scheme is tried before the core's).
    Implemented by: ``auth`` (JWT bearer header or ``token`` cookie, API keys).
    """


@hookspec
def permission_allowed(host: Host, actor: Actor, action: str, resource: Any) -> bool | None:
    """Decide whether ``actor`` may perform ``action`` on ``resource``.

    Called by ``host.check_permission`` and the ``@require`` view decorator.

    :param host: The application host.
    :param actor: The caller.
    :param action: A registered action name such as ``"users.manage"``.
    :param resource: What the action applies to, or ``None``.
    :return: ``False`` to deny, ``True`` to allow, ``None`` to abstain; or an awaitable of those.

    Collect, awaitable: any ``False`` denies, else any ``True`` allows, else the action's
    ``default_role`` decides. Implemented by: ``auth`` (admins may do everything).
    """


@hookspec
def on_event(host: Host, event: Event) -> Any:
    """Observe an event emitted with ``host.emit``.

    :param host: The application host.
    :param event: The event.
    :return: ``None`` or an awaitable, which is awaited.

    Collect, awaitable. Each implementation is called on its own, so a failing observer is logged
    and the emitter and the other observers carry on. Implemented by: none in the core (``realtime``
    fans events out to websockets).
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``colonnade`` command line.

    :param cli: The root ``click`` group; call ``@cli.command()`` on it.

    Collect, sync. Called once by ``colonnade.cli`` when it is given a command it does not have
    built in (or ``--help``); a command name that is already taken is a start-up error.
    """


@hookspec
def handle_exception(host: Host, request: Request, exception: Exception) -> Response | None:
    """Render an exception that no view handled.

    :param host: The application host.
    :param request: The request being served.
    :param exception: The exception raised.
    :return: A Quart response, ``None`` to decline, or an awaitable of those.

    Called only for exceptions the core does not render itself (``ApiError``, HTTP errors and
    request validation errors always become ``{"detail": "..."}`` with their status).

    Collect, awaitable: every result is awaited, the first response wins. When every
    implementation declines, the core logs the exception and answers 500
    ``{"detail": "Internal server error"}``, never a traceback.
    """
