"""Ollama upstreams: the ``/ollama`` proxy and an LLM provider for completions.

The proxy serves Ollama's own API (``/ollama/api/tags``, ``version``, ``chat``, ``generate``, ``embed``,
``embeddings``, ``show``, ``pull``) over every configured server, routing each request by its model;
streams are relayed line by line. The provider makes the same models usable through
``/api/chat/completions`` in OpenAI's format; its hook is optional, so this plugin loads without the
completions plugin.

Implements: register_config_models, register_actions, register_blueprints, register_llm_providers
(optional) and register_embedding_functions (optional: for the rag feature).
Config: ``[plugins.ollama]`` (see ``config.OllamaConfig``). Requires: nothing beyond the core.
"""

from __future__ import annotations

from typing import Any

from colonnade.actors import Action
from colonnade.hookspecs import hookimpl


@hookimpl
def register_config_models() -> dict[str, type]:
    from colonnade.plugins.ollama.config import OllamaConfig

    return {"ollama": OllamaConfig}


@hookimpl
def register_actions(host: Any) -> list[Action]:
    return [
        Action("ollama.use", "Use Ollama models through /ollama (the resource is the model id)"),
        Action("ollama.manage", "Pull models onto Ollama upstreams", default_role="admin"),
    ]


@hookimpl
def register_blueprints(host: Any) -> list[Any]:
    from colonnade.plugins.ollama import views

    return [(views.bp, {"url_prefix": "/ollama"})]


@hookimpl(optionalhook=True)
def register_llm_providers(host: Any) -> list[Any]:
    from colonnade.plugins.ollama.provider import OllamaProvider

    return [OllamaProvider(host)]


@hookimpl(optionalhook=True)
def register_embedding_functions(host: Any) -> list[Any]:
    from colonnade.plugins.ollama.embeddings import OllamaEmbeddings

    return [OllamaEmbeddings(host)]
