"""OpenAI-compatible upstreams: the ``/openai`` proxy and an LLM provider for completions.

Several connections (OpenAI, Azure OpenAI, vLLM, llama.cpp, OpenRouter...), each with a key, an
optional model-id prefix and an optional fixed list of model ids, served through one pooled HTTP client
per connection. ``/openai/models`` merges their models; chat completions and embeddings are routed by
model id to the connection that lists it, streams relayed as they arrive (see ``views.py``).

Implements: register_config_models, register_actions, register_blueprints, startup, and (optional: the
plugin loads without those features) register_llm_providers, register_embedding_functions (``rag``),
register_tts_engines, register_stt_engines (``audio``) and register_image_engines (``images``); the
engines are in ``audio.py`` and ``images.py``, the shapes they take in ``engine_shapes.py``.
Config: ``[plugins.openai]`` (``colonnade.plugins.openai.config.OpenAIConfig``).
"""

from __future__ import annotations

from typing import Any

from colonnade.actors import Action
from colonnade.hookspecs import hookimpl


@hookimpl
def register_config_models() -> dict[str, Any]:
    from colonnade.plugins.openai.config import OpenAIConfig

    return {"openai": OpenAIConfig}


@hookimpl
def register_actions(host: Any) -> list[Action]:
    # ``resource`` is a public model id: a permission_allowed impl can hide single models from users.
    return [Action("openai.use", "Use models of the OpenAI-compatible connections (/openai routes)")]


@hookimpl
def register_blueprints(host: Any) -> list[Any]:
    from colonnade.plugins.openai import views

    return [views.bp]


@hookimpl
def startup(host: Any) -> None:
    _service(host)  # unless a feature (completions, rag) asked for it first


@hookimpl(optionalhook=True)
def register_llm_providers(host: Any) -> list[Any]:
    from colonnade.plugins.openai.provider import OpenAIProvider

    return [OpenAIProvider(_service(host))]


@hookimpl(optionalhook=True)
def register_embedding_functions(host: Any) -> list[Any]:
    from colonnade.plugins.openai.embeddings import OpenAIEmbeddings

    return [OpenAIEmbeddings(_service(host))]


@hookimpl(optionalhook=True)
def register_tts_engines(host: Any) -> list[Any]:
    from colonnade.plugins.openai.audio import OpenAITTSEngine

    return [OpenAITTSEngine(_service(host), host.plugin_config("openai").audio_connection)]


@hookimpl(optionalhook=True)
def register_stt_engines(host: Any) -> list[Any]:
    from colonnade.plugins.openai.audio import OpenAISTTEngine

    return [OpenAISTTEngine(_service(host), host.plugin_config("openai").audio_connection)]


@hookimpl(optionalhook=True)
def register_image_engines(host: Any) -> list[Any]:
    from colonnade.plugins.openai.images import OpenAIImageEngine

    return [OpenAIImageEngine(_service(host), host.plugin_config("openai").images_connection)]


def _service(host: Any) -> Any:
    """The application's :class:`OpenAIService`, made here when a feature asks before ``startup`` ran."""
    from colonnade.plugins.openai.service import OpenAIService

    state = host.state("openai")
    if getattr(state, "service", None) is None:
        state.service = OpenAIService(host, host.plugin_config("openai"))
    return state.service
