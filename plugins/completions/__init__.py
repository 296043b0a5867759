"""Completions: ``/api/chat/completions`` and the merged ``/api/models`` list over every LLM provider.

A request goes ``completion_route_model`` -> ``completion_inlet`` -> the provider's ``complete`` ->
``completion_stream_wrapper`` (streams) -> ``completion_outlet``; the provider protocol lives in
``providers.py`` and the hook specifications in ``hookspecs.py``.

Implements: add_hookspecs, register_blueprints, startup, completion_route_model (the ``trylast``
default: the provider whose model list has the id).
Owns: ``register_llm_providers``, ``completion_route_model``, ``completion_inlet``,
``completion_stream_wrapper``, ``completion_outlet``.
State: ``host.state("completions").providers`` (a ``NamedRegistry`` of providers).
"""

from __future__ import annotations

from typing import Any

from colonnade.hookspecs import hookimpl


@hookimpl
def add_hookspecs(pm: Any) -> None:
    from colonnade.plugins.completions import hookspecs

    pm.add_hookspecs(hookspecs)


@hookimpl
def startup(host: Any) -> None:
    from colonnade.calling import collect_named

    providers = collect_named(host.pm.hook.register_llm_providers(host=host), kind="LLM provider")
    host.state("completions").providers = providers
