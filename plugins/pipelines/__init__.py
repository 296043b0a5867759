"""Pipelines: Open WebUI Pipelines-format modules hosted in worker processes, and remote Pipelines servers.

A stored pipeline is a Python module defining ``class Pipeline`` (``type`` pipe, filter or manifold).
Active ones run in a worker process each, off the host's event loop; their pipe and manifold models
are served by the ``pipelines`` LLM provider and their filters run as completion inlets and outlets
around the models they target, by priority. Remote Open WebUI Pipelines servers configured under
``[plugins.pipelines] servers`` take part the same way. Routes: ``/api/pipelines`` (the spec) and Open
WebUI's admin routes at ``/api/v1/pipelines``. Details: ``docs/pipelines.md``, ``docs/api/pipelines.md``.

Implements: register_config_models, register_db_models, register_actions, register_blueprints,
startup, shutdown, register_llm_providers, completion_route_model, completion_inlet,
completion_outlet (the completion hooks are optional: the plugin loads without ``completions``).
Config: ``[plugins.pipelines]`` (``colonnade.plugins.pipelines.config.PipelinesConfig``).
State: ``host.state("pipelines").service`` (:class:`~colonnade.plugins.pipelines.service.PipelineService`).
"""

from __future__ import annotations

from typing import Any

from colonnade.actors import Action
from colonnade.hookspecs import hookimpl


@hookimpl
def register_config_models() -> dict[str, Any]:
    from colonnade.plugins.pipelines.config import PipelinesConfig

    return {"pipelines": PipelinesConfig}


@hookimpl
def register_db_models() -> dict[str, list[str]]:
    return {"pipelines": ["colonnade.plugins.pipelines.models"]}


@hookimpl
def register_actions(host: Any) -> list[Action]:
    return [
        Action(
            "pipelines.manage",
            "Create, change, run and remove pipelines (their code runs on this host)",
            default_role="admin",
        )
    ]


@hookimpl
def register_blueprints(host: Any) -> list[Any]:
    from colonnade.plugins.pipelines import openwebui, views

    return [
        (views.bp, {"url_prefix": "/api/pipelines", "name": "pipelines"}),
        (openwebui.bp, {"url_prefix": "/api/v1/pipelines", "name": "pipelines_v1"}),
    ]


def _state(host: Any) -> Any:
    """The plugin's state, with its service and remote servers made on first use (no I/O)."""
    state = host.state("pipelines")
    if getattr(state, "service", None) is None:
        from colonnade.plugins.pipelines.remote import RemoteServers
        from colonnade.plugins.pipelines.service import PipelineService

        config = host.plugin_config("pipelines")
        state.service = PipelineService(host, config)
        state.remotes = RemoteServers(config, host.http_client)
    return state


@hookimpl
async def startup(host: Any) -> None:
    await _state(host).service.start()


@hookimpl
async def shutdown(host: Any) -> None:
    service = getattr(host.state("pipelines"), "service", None)
    if service is not None:
        await service.close()


@hookimpl(optionalhook=True)
def register_llm_providers(host: Any) -> list[Any]:
    from colonnade.plugins.pipelines.provider import PipelinesProvider

    state = _state(host)
    return [PipelinesProvider(state.service, state.remotes)]


@hookimpl(optionalhook=True)
def completion_route_model(host: Any, model_id: str, actor: Any) -> str | None:
    # Hosted pipe and manifold models are claimed at once (no list to wait for), for those who may
    # see every model; for others the merged list (with its workspace-model grants) decides.
    service = getattr(host.state("pipelines"), "service", None)
    if service is None or service.resolve(model_id) is None:
        return None
    completions = host.state("completions")
    providers = getattr(completions, "providers", {})
    if "pipelines" not in providers:
        return None
    catalogue = getattr(completions, "catalogue", None)
    sees_everything = actor.is_admin or getattr(catalogue, "bypass", False) or "models" not in providers
    return "pipelines" if sees_everything else None


@hookimpl(optionalhook=True)
async def completion_inlet(host: Any, ctx: Any) -> None:
    from colonnade.plugins.pipelines.provider import run_inlets

    state = _state(host)
    await run_inlets(state.service, state.remotes, ctx)


@hookimpl(optionalhook=True)
async def completion_outlet(host: Any, ctx: Any, response: dict) -> None:
    from colonnade.plugins.pipelines.provider import run_outlets

    state = _state(host)
    await run_outlets(state.service, state.remotes, ctx, response)
