"""Functions: Open WebUI functions (``Pipe``, ``Filter``, ``Action``) stored by admins, run as plugins.

Each active function is loaded once into its own module and registered into the application's plugin
manager: a filter as ``completion_inlet`` / ``completion_stream_wrapper`` / ``completion_outlet``
hookimpls (``filters.py``), a pipe or manifold as models of the ``functions`` LLM provider
(``pipes.py``), an action as a route (``execute.py``). Function code runs off the event loop with a
timeout (``running.py``); workers notice changes through a version stamp (``runtime.py``).
Details: ``docs/functions.md`` and ``docs/api/functions.md``.

Implements: register_config_models, register_db_models, register_actions, register_events,
register_blueprints, startup, shutdown, and (only with the ``completions`` plugin)
register_llm_providers, completion_inlet and completion_models (each model's ``actions`` and
``filters``, ``listing.py``). Config: ``[plugins.functions]`` (``timeout_seconds``, ``valves_key``).
State: ``host.state("functions").registry`` and ``.codec``.
"""

from __future__ import annotations

from typing import Any

from colonnade.actors import Action
from colonnade.hookspecs import hookimpl


@hookimpl
def register_config_models() -> dict[str, Any]:
    from colonnade.plugins.functions.config import FunctionsConfig

    return {"functions": FunctionsConfig}


@hookimpl
def register_db_models() -> dict[str, list[str]]:
    return {"functions": ["colonnade.plugins.functions.models"]}


@hookimpl
def register_actions(host: Any) -> list[Action]:
    return [
        Action(
            "functions.manage",
            "Create, change, run and delete functions (their code runs on the host)",
            default_role="admin",
        ),
        Action("functions.use", "List functions, keep one's user valves and run chat actions"),
    ]


@hookimpl
def register_events() -> list[type]:
    from colonnade.plugins.functions.events import ALL_EVENTS

    return ALL_EVENTS


@hookimpl
def register_blueprints(host: Any) -> list[Any]:
    from colonnade.plugins.functions import execute, transfer, views

    mounted = [(views.bp, {"url_prefix": prefix, "name": name}) for name, prefix in views.PREFIXES.items()]
    mounted += [
        (transfer.bp, {"url_prefix": prefix, "name": name}) for name, prefix in transfer.PREFIXES.items()
    ]
    mounted += [
        (execute.bp, {"url_prefix": prefix, "name": name}) for name, prefix in execute.PREFIXES.items()
    ]
    mounted += [
        (execute.actions_bp, {"url_prefix": prefix, "name": name})
        for name, prefix in execute.ACTION_PREFIXES.items()
    ]
    return mounted


@hookimpl
async def startup(host: Any) -> None:
    from colonnade.plugins.functions.runtime import Registry
    from colonnade.plugins.functions.valves import ValvesCodec

    state = host.state("functions")
    state.codec = ValvesCodec(host.plugin_config("functions").valves_key)
    state.registry = Registry(host)
    await state.registry.sync()


@hookimpl
def shutdown(host: Any) -> None:
    registry = getattr(host.state("functions"), "registry", None)
    if registry is not None:
        registry.unregister_all()


@hookimpl(optionalhook=True)
def register_llm_providers(host: Any) -> list[Any]:
    from colonnade.plugins.functions.pipes import FunctionsProvider

    return [FunctionsProvider(host)]


@hookimpl(optionalhook=True, trylast=True)
def completion_inlet(host: Any, ctx: Any) -> None:
    # Runs in the request's task after the other inlets: the functions provider reads the context
    # (Open WebUI's metadata) from here.
    from colonnade.plugins.functions.pipes import CURRENT

    CURRENT.set(ctx)


@hookimpl(optionalhook=True)
def completion_models(host: Any, models: list) -> Any:
    from colonnade.plugins.functions.listing import decorate

    return lambda: decorate(host, models)
