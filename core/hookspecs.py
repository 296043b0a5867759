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

    Collect, sync. A section with no model is a start-up error.
    """


@hookspec
def register_db_models() -> dict[str, list[str]]:
    """Declare Tortoise model modules, one Tortoise app per plugin.

    Called once while the application is built.

    :return: ``{app_label: ["package.models", ...]}``; the label is the plugin name, and a
        ``migrations`` package next to the models module holds the app's migrations.

    Collect, sync. Implemented by: ``auth``.
    """


@hookspec
def register_blueprints(host: Host) -> list[Blueprint]:
    """Return the Quart blueprints this plugin serves.

    Called once while the application is built (blueprints cannot be added once serving has begun).

    :param host: The application host.
    :return: A list of blueprints. Each is tagged in the OpenAPI document with its name. Two plugins
        claiming the same method and path is a start-up error naming both.

    Collect, sync. Implemented by: ``auth``, ``system``, ``introspection``.
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

    Collect, awaitable. A failure stops the start with the plugin named.
    """


@hookspec
def shutdown(host: Host) -> Any:
    """Release what ``startup`` acquired, once serving has stopped.

    :param host: The application host.
    :return: ``None`` or an awaitable, which is awaited.

    Collect, awaitable. A failure is logged and the other implementations still run.
    """


@hookspec
def actor_from_request(host: Host, request: Request) -> Actor | None:
    """Authenticate a request.

    Called at most once per request, the first time a view needs to know who is calling.

    :param host: The application host.
    :param request: The Quart request.
    :return: An :class:`colonnade.Actor`, ``None`` to decline, or an awaitable resolving to either.

    Collect, awaitable: every result is awaited, the first non-``None`` one wins.
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

    Collect, awaitable. A failing observer is logged; the emitter and the other observers carry on.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``colonnade`` command line.

    :param cli: The root ``click`` group; call ``@cli.command()`` on it.

    Collect, sync.
    """


@hookspec
def handle_exception(host: Host, request: Request, exception: Exception) -> Response | None:
    """Render an exception that no view handled.

    :param host: The application host.
    :param request: The request being served.
    :param exception: The exception raised.
    :return: A Quart response, ``None`` to decline, or an awaitable of those.

    Collect, awaitable: the first response wins. The built-in ``trylast`` default renders
    ``{"detail": "..."}`` with the right status and never a traceback.
    """
