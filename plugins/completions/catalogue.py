"""The merged model list: every provider's models, cached briefly per provider, filtered per user.

Workspace models (the ``models`` provider) play two parts, as in Open WebUI:

- a row with a ``base_model_id`` is a model of its own (a preset), listed beside the base models;
- a row without one, whose id is a provider model's id, decorates that base model: the merged entry keeps
  the base model's fields and takes the row's ``name`` and full record as ``info``.

Who sees what: admins see every model. A user sees the workspace models they may read (the ``models``
provider lists only those) and, unless ``bypass_model_access_control`` is set, no undecorated base model.
Without the ``models`` plugin there are no rows to grant access, so users see every model.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from colonnade.actors import Actor
    from colonnade.host import Host

log = logging.getLogger("colonnade.completions")

#: The name of the provider that serves workspace models (registered when the ``models`` plugin is loaded).
WORKSPACE = "models"

#: Cached lists kept before the expired ones are dropped (per-user lists make one per active user).
MAX_CACHED_LISTS = 1024


@dataclass
class Listed:
    """One model of the merged list and the provider that answers it."""

    provider: str
    entry: dict[str, Any]


class Catalogue:
    """Per-provider model lists with a short time-to-live, merged on demand.

    :param host: The application host (providers are read from ``host.state("completions")``).
    :param ttl: Seconds a list is reused.
    :param timeout: Seconds a provider gets to answer.
    :param bypass: ``bypass_model_access_control``.
    """

    def __init__(self, host: Host, ttl: float, timeout: float, bypass: bool) -> None:
        self.host = host
        self.ttl = ttl
        self.timeout = timeout
        self.bypass = bypass
        self._cache: dict[tuple[str, str | None], tuple[float, list[dict[str, Any]]]] = {}
        self._pending: dict[tuple[str, str | None], asyncio.Task[list[dict[str, Any]]]] = {}

    @property
    def providers(self) -> Any:
        return self.host.state("completions").providers

    def clear(self) -> None:
        self._cache.clear()

    async def models_of(self, provider: Any, actor: Actor | None) -> list[dict[str, Any]]:
        """One provider's list, from the cache when fresh; a failing provider lists nothing (logged).

        Lists are shared between users unless the provider sets ``actor_specific_models = True``
        (the workspace provider does: what it lists depends on who asks).
        """
        key = self._key(provider, actor)
        cached = self._fresh(key)
        if cached is not None:
            return cached
        per_actor = key[1] is not None
        # Concurrent requests for the same list share one upstream call.
        task = self._pending.get(key)
        if task is None:
            task = asyncio.ensure_future(self._fetch(provider, actor if per_actor else None, key))
            self._pending[key] = task
            task.add_done_callback(lambda _: self._pending.pop(key, None))
        return await asyncio.shield(task)

    @staticmethod
    def _key(provider: Any, actor: Actor | None) -> tuple[str, str | None]:
        """What ``provider``'s list for ``actor`` is cached under."""
        per_actor = getattr(provider, "actor_specific_models", False)
        return (provider.name, actor.id if per_actor and actor is not None else None)

    def _fresh(self, key: tuple[str, str | None]) -> list[dict[str, Any]] | None:
        """The list cached under ``key``, if it has not expired."""
        cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        return None

    async def _fetch(
        self, provider: Any, actor: Actor | None, key: tuple[str, str | None]
    ) -> list[dict[str, Any]]:
        try:
            listed = await asyncio.wait_for(provider.list_models(actor), self.timeout)
        except Exception as error:  # noqa: BLE001 - one provider failing must not empty the whole list
            reason = "timed out" if isinstance(error, TimeoutError) else str(error) or type(error).__name__
            log.warning("LLM provider %r could not list its models: %s", provider.name, reason)
            return []
        models = [
            entry for entry in listed or () if isinstance(entry, dict) and isinstance(entry.get("id"), str)
        ]
        if self.ttl > 0:
            now = time.monotonic()
            if len(self._cache) >= MAX_CACHED_LISTS:  # per-user lists would otherwise pile up
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            self._cache[key] = (now + self.ttl, models)
        return models

    async def merged(self, actor: Actor | None) -> dict[str, Listed]:
        """Every model ``actor`` may use, by id (``actor`` ``None``: every model, for the host itself)."""
        providers = list(self.providers.values())
        lists = [self._fresh(self._key(provider, actor)) for provider in providers]
        missing = [index for index, models in enumerate(lists) if models is None]
        if missing:
            # Only lists to fetch go through tasks: ``gather`` starts one per coroutine, and each
            # starts a turn of the event loop later, which at 16 concurrent streams costs milliseconds.
            fetched = await asyncio.gather(*(self.models_of(providers[index], actor) for index in missing))
            for index, models in zip(missing, fetched):
                lists[index] = models
        base: dict[str, Listed] = {}
        workspace: list[dict[str, Any]] = []
        for provider, models in zip(providers, lists):
            if provider.name == WORKSPACE:
                workspace = models
                continue
            for entry in models:
                base[entry["id"]] = Listed(provider.name, entry)  # duplicate ids: the last provider wins
        everything = actor is None or actor.is_admin or self.bypass or WORKSPACE not in self.providers
        merged: dict[str, Listed] = dict(base) if everything else {}
        for entry in workspace:
            info = entry.get("info") or {}
            if info.get("is_active") is False:
                # An inactive row hides its preset, and the base model it decorates, from everyone.
                merged.pop(entry["id"], None)
                continue
            if info.get("base_model_id"):
                under = base.get(info["base_model_id"])
                inherited = {"owned_by": under.entry.get("owned_by")} if under else {}
                if under and "connection_type" in under.entry:
                    inherited["connection_type"] = under.entry["connection_type"]
                merged[entry["id"]] = Listed(WORKSPACE, {**entry, **inherited})
            elif entry["id"] in base:
                # The row decorates a base model; the workspace provider applies its params and
                # hands the request on to the base model's provider.
                under = base[entry["id"]].entry
                decorated = {**under, "name": entry.get("name") or under.get("name"), "info": info}
                merged[entry["id"]] = Listed(WORKSPACE, decorated)
        return merged

    async def base_provider(self, model_id: str) -> str | None:
        """The provider (other than the workspace one) that lists ``model_id``."""
        found = None
        for provider in self.providers.values():
            if provider.name == WORKSPACE:
                continue
            if any(entry["id"] == model_id for entry in await self.models_of(provider, None)):
                found = provider.name
        return found


def listing(merged: dict[str, Listed]) -> list[dict[str, Any]]:
    """The ``data`` of ``GET /api/models``: entries in provider order, then by name."""
    return [listed.entry for listed in merged.values()]
