"""Workspace models as an LLM provider named ``models`` (registered by the completions plugin).

``list_models(actor)`` gives the workspace models ``actor`` may read (every one for the host itself,
``actor`` ``None``), each with its full record as ``info``; inactive rows are listed too, marked by
``info["is_active"]``, so that the merged list can hide the base model an inactive row decorates.
``complete`` applies the model's ``params`` (``system`` and the sampling parameters, the request's own
values winning) and hands the request to the provider of its base model. This module is imported only
when the completions plugin is loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from colonnade.plugins.completions.params import apply_params
from colonnade.plugins.completions.providers import ProviderError
from colonnade.plugins.models.access import Viewer, grants_by_model, keys_of
from colonnade.plugins.models.base_models import OWN_PROVIDER
from colonnade.plugins.models.models import ModelGrant, WorkspaceModel
from colonnade.plugins.models.service import model_json

if TYPE_CHECKING:
    from colonnade.actors import Actor
    from colonnade.host import Host

MODEL_NOT_FOUND = "Model not found"


def tags_of(meta: dict[str, Any]) -> list[dict[str, str]]:
    tags = []
    for tag in meta.get("tags") or ():
        name = tag.get("name") if isinstance(tag, dict) else tag
        if isinstance(name, str) and name:
            tags.append({"name": name})
    return tags


class WorkspaceProvider:
    """The ``models`` LLM provider.

    :param host: The application host; the completions plugin's state gives the other providers.
    """

    name = OWN_PROVIDER
    #: What is listed depends on who asks: the list is cached per user, not shared.
    actor_specific_models = True

    def __init__(self, host: Host) -> None:
        self.host = host

    async def list_models(self, actor: Actor | None) -> list[dict[str, Any]]:
        viewer = await Viewer.load(actor) if actor is not None else None
        query = WorkspaceModel.all()
        readable = viewer.readable() if viewer is not None else None
        if readable is not None:
            query = query.filter(readable)
        rows = await query.select_related("user").order_by("created_at", "id")
        grants = await grants_by_model([row.id for row in rows])
        listed = []
        for row in rows:
            write = viewer is None or viewer.can_write(row, keys_of(grants[row.id]))
            entry: dict[str, Any] = {
                "id": row.id,
                "name": row.name,
                "object": "model",
                "created": row.created_at,
                "owned_by": "openai",
                "info": model_json(row, grants[row.id], write),
                "tags": tags_of(row.meta or {}),
            }
            if row.base_model_id:
                entry["preset"] = True
            listed.append(entry)
        return listed

    async def complete(self, request: dict[str, Any], actor: Actor) -> Any:
        row = await WorkspaceModel.get_or_none(id=request.get("model"), is_active=True)
        if row is None:
            raise ProviderError(404, MODEL_NOT_FOUND, self.name)
        grants = await ModelGrant.filter(model_id=row.id)
        if not (await Viewer.load(actor)).can_read(row, keys_of(grants)):
            raise ProviderError(404, MODEL_NOT_FOUND, self.name)
        state = self.host.state("completions")
        base_id = row.base_model_id or row.id
        provider_name = await state.catalogue.base_provider(base_id)
        if provider_name is None:
            raise ProviderError(404, f"the base model {base_id!r} of {row.id!r} is not available", self.name)
        body = {**request, "model": base_id, "messages": list(request.get("messages") or ())}
        apply_params(body, row.params or {})
        return await state.providers[provider_name].complete(body, actor)
