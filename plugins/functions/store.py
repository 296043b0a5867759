"""Saving functions: checking the source loads, deriving ``type`` and ``meta``, bumping ``version``.

Every write that changes what runs (source, valves, activation, the global flag) increases the row's
``version``, which is what every worker compares to notice it (see ``runtime.py``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from colonnade.errors import ApiError
from colonnade.plugins.functions import loader, runtime
from colonnade.plugins.functions.models import Function, UserValves, now

if TYPE_CHECKING:
    from colonnade.actors import Actor
    from colonnade.host import Host

ID_PATTERN = re.compile(r"^[A-Za-z0-9_]+$")
BAD_ID = "Only alphanumeric characters and underscores are allowed in the id"
ID_TAKEN = "Uh-oh! This id is already registered. Please choose another id string."
NOT_FOUND = "We could not find what you're looking for :/"
#: Ids that would collide with the fixed routes under /api/functions.
RESERVED_IDS = {"list", "export", "create", "id", "load", "sync", "valves"}


class FunctionMeta(BaseModel):
    model_config = ConfigDict(extra="allow")

    description: str | None = Field(default=None, max_length=10_000)
    manifest: dict[str, Any] | None = None


class FunctionForm(BaseModel):
    """Create and update: Open WebUI's ``FunctionForm``. On update ``id`` may be left out."""

    id: str | None = Field(default=None, max_length=128)
    name: str = Field(min_length=1, max_length=255)
    content: str = Field(min_length=1, max_length=2_000_000)
    meta: FunctionMeta = Field(default_factory=FunctionMeta)
    commit_message: str | None = Field(default=None, max_length=1000)


def public(row: Function, *, content: bool = True) -> dict[str, Any]:
    """Open WebUI's ``FunctionModel`` (``FunctionResponse`` without ``content``)."""
    data = {
        "id": row.id,
        "user_id": row.user_id,
        "name": row.name,
        "type": row.type,
        "meta": row.meta or {},
        "is_active": row.is_active,
        "is_global": row.is_global,
        "version": row.version,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
    if content:
        data["content"] = row.content
    return data


async def get_or_404(function_id: str) -> Function:
    row = await Function.get_or_none(id=function_id)
    if row is None:
        raise ApiError(404, NOT_FOUND)
    return row


async def check_and_load(host: Host, function_id: str, source: str) -> loader.Loaded:
    """Load the source as it would run; a 400 naming the line when it cannot."""
    try:
        return await runtime.load(host, function_id, source)
    except loader.LoadError as error:
        raise ApiError(400, error.detail) from None


def meta_for(form: FunctionForm, loaded: loader.Loaded) -> dict[str, Any]:
    meta = form.meta.model_dump(exclude_none=True)
    meta["manifest"] = {**loaded.manifest, **(meta.get("manifest") or {})}
    if not meta.get("description") and loaded.manifest.get("description"):
        meta["description"] = loaded.manifest["description"]
    if loaded.kind == "filter":
        meta["toggle"] = bool(getattr(loaded.instance, "toggle", False))
    return meta


async def create(host: Host, form: FunctionForm, actor: Actor) -> Function:
    function_id = (form.id or "").strip().lower()
    if not function_id or not ID_PATTERN.match(function_id):
        raise ApiError(400, BAD_ID)
    if function_id in RESERVED_IDS:
        raise ApiError(400, f"The id {function_id!r} is reserved; choose another")
    if await Function.exists(id=function_id):
        raise ApiError(400, ID_TAKEN)
    loaded = await check_and_load(host, function_id, form.content)
    from tortoise.exceptions import IntegrityError

    try:
        return await Function.create(
            id=function_id,
            user_id=actor.id,
            name=form.name,
            type=loaded.kind,
            content=form.content,
            meta=meta_for(form, loaded),
        )
    except IntegrityError:  # created meanwhile by a concurrent request
        raise ApiError(400, ID_TAKEN) from None


async def update(host: Host, row: Function, form: FunctionForm) -> Function:
    loaded = await check_and_load(host, row.id, form.content)
    row.name = form.name
    row.content = form.content
    row.type = loaded.kind
    row.meta = meta_for(form, loaded)
    await bump(row)
    return row


async def bump(row: Function, **changes: Any) -> Function:
    for key, value in changes.items():
        setattr(row, key, value)
    row.version += 1
    row.updated_at = now()
    await row.save()
    return row


async def delete(row: Function) -> None:
    await UserValves.filter(function_id=row.id).delete()
    await row.delete()
