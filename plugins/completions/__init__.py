"""Completions: ``/api/chat/completions`` and the merged ``/api/models`` list over every LLM provider.

A request goes ``completion_route_model`` -> ``completion_inlet`` -> the provider's ``complete`` ->
``completion_stream_wrapper`` (streams) -> ``completion_outlet``; the provider protocol lives in
``providers.py`` and the hook specifications in ``hookspecs.py``. When the request names a chat of the
caller and the ``chats`` plugin is loaded, the turn is saved to it. Details: ``docs/api/completions.md``.

Implements: add_hookspecs, register_config_models, register_actions, register_blueprints, startup,
register_llm_providers (workspace models as the ``models`` provider, when the ``models`` plugin is
loaded), completion_route_model (the ``trylast`` default: the model's entry in the caller's merged list).
Owns: ``register_llm_providers``, ``completion_route_model``, ``completion_inlet``,
``completion_stream_wrapper``, ``completion_outlet``, ``completion_models``.
Config: ``[plugins.completions]`` (``models_cache_ttl``, ``list_timeout``, ``bypass_model_access_control``).
State: ``host.state("completions").providers`` (a ``NamedRegistry``) and ``.catalogue``.
"""

from __future__ import annotations

from typing import Any

from colonnade.actors import Action
from colonnade.hookspecs import hookimpl


@hookimpl
def add_hookspecs(pm: Any) -> None:
    from colonnade.plugins.completions import hookspecs

    pm.add_hookspecs(hookspecs)


@hookimpl
def register_config_models() -> dict[str, Any]:
    from colonnade.plugins.completions.config import CompletionsConfig

    return {"completions": CompletionsConfig}


@hookimpl
def register_actions(host: Any) -> list[Action]:
    return [Action("completions.use", "List the models one may use and ask them for completions")]


@hookimpl
def register_blueprints(host: Any) -> list[Any]:
    from colonnade.plugins.completions import views

    return [(views.bp, {"url_prefix": prefix, "name": name}) for name, prefix in views.PREFIXES.items()]


@hookimpl
def startup(host: Any) -> None:
    from colonnade.calling import collect_named
    from colonnade.plugins.completions.catalogue import Catalogue

    config = host.plugin_config("completions")
    state = host.state("completions")
    state.providers = collect_named(host.pm.hook.register_llm_providers(host=host), kind="LLM provider")
    state.catalogue = Catalogue(
        host, config.models_cache_ttl, config.list_timeout, config.bypass_model_access_control
    )


@hookimpl
def register_llm_providers(host: Any) -> list[Any]:
    if not host.pm.has_plugin("models"):
        return []
    from colonnade.plugins.models.provider import WorkspaceProvider

    return [WorkspaceProvider(host)]


@hookimpl(trylast=True)
def completion_route_model(host: Any, model_id: str, actor: Any) -> Any:
    async def from_the_list() -> str | None:
        listed = (await host.state("completions").catalogue.merged(actor)).get(model_id)
        return listed.provider if listed is not None else None

    return from_the_list
