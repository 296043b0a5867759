"""The seam between workspace models and the LLM providers: which base model ids exist.

The completions feature (a separate plugin) owns ``register_llm_providers``; this plugin must work
without it. So the catalogue of base models is built in one of two ways:

- when a plugin defines ``register_llm_providers`` (the completions plugin is loaded), every provider
  except this plugin's own is asked for its models (``await provider.list_models(None)``: ``None`` is
  the host asking for itself, so every model is listed; with a timeout);
- otherwise only workspace models the caller can read count as known base models, and the catalogue says
  so in its ``warnings`` so that ``POST /api/models/validate`` can tell the client.

The completions plugin publishes its provider registry at ``host.state("completions").providers`` (a
``NamedRegistry``); that registry is used instead of calling the registration hook again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from colonnade.host import Host

log = logging.getLogger("colonnade.models")

#: The name this plugin's own provider will carry; its models are presets, not base models.
OWN_PROVIDER = "models"

NO_PROVIDERS_WARNING = (
    "No LLM provider is loaded (the completions plugin is not enabled), so base_model_id was checked "
    "against workspace models only."
)


@dataclass
class Catalogue:
    """Base model ids known right now.

    :param provider_ids: Ids the providers listed (empty without providers).
    :param source: ``"providers"`` or ``"workspace"`` (no provider is loaded).
    :param complete: ``False`` when a provider failed to answer: an id missing from ``provider_ids``
        may still exist, so it is reported as a warning rather than an error.
    :param warnings: Human-readable notes for the client.
    """

    provider_ids: set[str] = field(default_factory=set)
    source: str = "workspace"
    complete: bool = True
    warnings: list[str] = field(default_factory=list)


def llm_providers(host: Host) -> list[Any] | None:
    """The loaded LLM providers except ours, or ``None`` when no plugin defines the providers hook."""
    registry = getattr(host.state("completions"), "providers", None)
    if registry is not None:
        providers = list(registry.values())
    else:
        hook = getattr(host.pm.hook, "register_llm_providers", None)
        if hook is None:
            return None
        providers = [provider for result in hook(host=host) for provider in result or ()]
    return [provider for provider in providers if getattr(provider, "name", None) != OWN_PROVIDER]


def model_id_of(entry: Any) -> str | None:
    """A provider's model entry may be an id, an OpenAI-style dict, or an object with ``id``."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        value = entry.get("id")
    else:
        value = getattr(entry, "id", None)
    return value if isinstance(value, str) else None


async def _list_ids(provider: Any, timeout: float) -> set[str]:
    listed = await asyncio.wait_for(provider.list_models(None), timeout)
    return {model_id for model_id in map(model_id_of, listed or ()) if model_id}


async def catalogue(host: Host, timeout: float) -> Catalogue:
    """Ask every provider for its models, concurrently; a failing provider becomes a warning."""
    providers = llm_providers(host)
    if providers is None:
        return Catalogue(source="workspace", warnings=[NO_PROVIDERS_WARNING])
    found = Catalogue(source="providers")
    results = await asyncio.gather(*(_list_ids(p, timeout) for p in providers), return_exceptions=True)
    for provider, result in zip(providers, results):
        if isinstance(result, BaseException):
            name = getattr(provider, "name", type(provider).__name__)
            log.warning("LLM provider %r could not list its models: %r", name, result)
            found.complete = False
            reason = "timed out" if isinstance(result, TimeoutError) else "failed"
            found.warnings.append(f"LLM provider {name!r} could not list its models ({reason}).")
        else:
            found.provider_ids |= result
    return found
