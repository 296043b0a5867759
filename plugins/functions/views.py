"""Function routes, mounted at ``/api/functions`` (the spec) and ``/api/v1/functions`` (Open WebUI).

Admins (``functions.manage``) create, read, change, delete and toggle functions and see their source
and valves; signed-in users (``functions.use``) list their metadata and keep their own user valves.
The spec paths (``POST /``, ``GET|PUT|DELETE /:id``, ``POST /:id/toggle``, ``POST /:id/execute``) and
Open WebUI's (``/create``, ``/id/:id/...``) serve the same views. Details: ``docs/api/functions.md``.
"""

from __future__ import annotations

import json
from typing import Any

from quart import Blueprint, current_app, jsonify, request
from quart_schema import validate_request

from colonnade.actors import Actor
from colonnade.errors import ApiError
from colonnade.permissions import require
from colonnade.plugins.functions import runtime, store, valves
from colonnade.plugins.functions.events import FunctionChanged
from colonnade.plugins.functions.models import Function, UserValves, now
from colonnade.plugins.functions.store import FunctionForm

bp = Blueprint("functions", __name__)

PREFIXES = {"functions": "/api/functions", "functions_v1": "/api/v1/functions"}


def host() -> Any:
    return current_app.extensions["colonnade"]


async def changed(row: Function, change: str, actor: Actor) -> None:
    the_host = host()
    await the_host.state("functions").registry.sync()
    await the_host.emit(FunctionChanged(actor=actor, function_id=row.id, change=change))


async def json_object() -> dict[str, Any]:
    raw = await request.get_data()
    try:
        value = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ApiError(400, "The request body must be a JSON object")
    return value


@bp.before_app_request
async def current_functions() -> None:
    """Bring this worker's functions in step with the database before a request that may run one."""
    if request.path.startswith(runtime.SYNC_PATHS):
        registry = getattr(host().state("functions"), "registry", None)
        if registry is not None:
            await registry.sync()


# -- listing and reading ---------------------------------------------------------------------------


@bp.get("")
@bp.get("/")
@require("functions.use")
async def list_functions(actor: Actor) -> Any:
    """Every function's metadata, without source."""
    rows = await Function.all().order_by("-updated_at", "id")
    return jsonify([store.public(row, content=False) for row in rows])


@bp.get("/list")
@require("functions.manage")
async def list_with_users(actor: Actor) -> Any:
    """Every function's metadata with its author (``FunctionUserResponse``)."""
    from colonnade.auth.models import User

    rows = await Function.all().order_by("-updated_at", "id")
    users = {user.id: user for user in await User.filter(id__in={row.user_id for row in rows})}
    listed = []
    for row in rows:
        user = users.get(row.user_id)
        author = {"id": user.id, "name": user.name, "email": user.email, "role": user.role} if user else None
        listed.append({**store.public(row, content=False), "user": author})
    return jsonify(listed)


@bp.get("/export")
@require("functions.manage")
async def export(actor: Actor) -> Any:
    """Every function with its source (and its valves with ``include_valves=true``)."""
    include = request.args.get("include_valves", "").lower() in ("1", "true", "yes")
    codec = host().state("functions").codec
    rows = await Function.all().order_by("id")
    exported = []
    for row in rows:
        data = store.public(row)
        if include:
            data["valves"] = codec.decode(row.valves)
        exported.append(data)
    return jsonify(exported)


@bp.get("/<function_id>")
@bp.get("/id/<function_id>")
@require("functions.manage")
async def read(function_id: str, actor: Actor) -> Any:
    return jsonify(store.public(await store.get_or_404(function_id)))


# -- writing ---------------------------------------------------------------------------------------


@bp.post("")
@bp.post("/")
@bp.post("/create")
@require("functions.manage")
@validate_request(FunctionForm)
async def create(data: FunctionForm, actor: Actor) -> Any:
    """Store a new function (inactive) after checking that it loads; 400 naming the line otherwise."""
    row = await store.create(host(), data, actor)
    await changed(row, "created", actor)
    return jsonify(store.public(row, content=False))


@bp.put("/<function_id>")
@bp.post("/<function_id>")
@bp.post("/id/<function_id>/update")
@require("functions.manage")
@validate_request(FunctionForm)
async def update(function_id: str, data: FunctionForm, actor: Actor) -> Any:
    row = await store.get_or_404(function_id)
    await store.update(host(), row, data)
    await changed(row, "updated", actor)
    return jsonify(store.public(row))


@bp.delete("/<function_id>")
@bp.delete("/id/<function_id>/delete")
@require("functions.manage")
async def delete(function_id: str, actor: Actor) -> Any:
    row = await store.get_or_404(function_id)
    await store.delete(row)
    await changed(row, "deleted", actor)
    return jsonify(True)


@bp.post("/<function_id>/toggle")
@bp.post("/id/<function_id>/toggle")
@require("functions.manage")
async def toggle(function_id: str, actor: Actor) -> Any:
    """Flip ``is_active`` (or set it: the spec path accepts ``{"is_active": bool}``)."""
    row = await store.get_or_404(function_id)
    body = await json_object()
    wanted = body.get("is_active")
    if wanted is not None and not isinstance(wanted, bool):
        raise ApiError(400, "is_active: must be true or false")
    await store.bump(row, is_active=(not row.is_active) if wanted is None else wanted)
    await changed(row, "activated" if row.is_active else "deactivated", actor)
    return jsonify(store.public(row))


@bp.post("/<function_id>/toggle/global")
@bp.post("/id/<function_id>/toggle/global")
@require("functions.manage")
async def toggle_global(function_id: str, actor: Actor) -> Any:
    row = await store.get_or_404(function_id)
    await store.bump(row, is_global=not row.is_global)
    await changed(row, "global" if row.is_global else "not_global", actor)
    return jsonify(store.public(row))


# -- valves ----------------------------------------------------------------------------------------


async def loaded_of(row: Function) -> Any:
    """The function's loaded module: the live one when current, else loaded now (not registered)."""
    live = host().state("functions").registry.live.get(row.id)
    if live is not None and live.version == row.version:
        return live.loaded
    return await store.check_and_load(host(), row.id, row.content)


@bp.get("/<function_id>/valves")
@bp.get("/id/<function_id>/valves")
@require("functions.manage")
async def read_valves(function_id: str, actor: Actor) -> Any:
    row = await store.get_or_404(function_id)
    return jsonify(host().state("functions").codec.decode(row.valves))


@bp.get("/<function_id>/valves/spec")
@bp.get("/id/<function_id>/valves/spec")
@require("functions.manage")
async def valves_spec(function_id: str, actor: Actor) -> Any:
    loaded = await loaded_of(await store.get_or_404(function_id))
    return jsonify(valves.schema_of(loaded.valves_class))


@bp.post("/<function_id>/valves")
@bp.post("/<function_id>/valves/update")
@bp.post("/id/<function_id>/valves/update")
@require("functions.manage")
async def update_valves(function_id: str, actor: Actor) -> Any:
    """Validate against the function's ``Valves`` and store the keys given; 400 and no change otherwise."""
    row = await store.get_or_404(function_id)
    loaded = await loaded_of(row)
    checked = valves.validate(loaded.valves_class, await json_object())
    await store.bump(row, valves=host().state("functions").codec.encode(checked))
    await changed(row, "valves", actor)
    return jsonify(checked)


@bp.get("/<function_id>/valves/user")
@bp.get("/id/<function_id>/valves/user")
@require("functions.use")
async def read_user_valves(function_id: str, actor: Actor) -> Any:
    await store.get_or_404(function_id)
    stored = await UserValves.get_or_none(function_id=function_id, user_id=actor.id)
    return jsonify(host().state("functions").codec.decode(stored.valves) if stored else {})


@bp.get("/<function_id>/valves/user/spec")
@bp.get("/id/<function_id>/valves/user/spec")
@require("functions.use")
async def user_valves_spec(function_id: str, actor: Actor) -> Any:
    row = await store.get_or_404(function_id)
    registry = host().state("functions").registry
    await registry.sync()
    live = registry.live.get(row.id) if row.is_active else None
    return jsonify(valves.schema_of(live.loaded.user_valves_class) if live else None)


@bp.post("/<function_id>/valves/user")
@bp.post("/<function_id>/valves/user/update")
@bp.post("/id/<function_id>/valves/user/update")
@require("functions.use")
async def update_user_valves(function_id: str, actor: Actor) -> Any:
    row = await store.get_or_404(function_id)
    registry = host().state("functions").registry
    await registry.sync()
    live = registry.live.get(row.id) if row.is_active else None
    if live is None:
        raise ApiError(400, "Function is not active")
    checked = valves.validate(live.loaded.user_valves_class, await json_object())
    encoded = host().state("functions").codec.encode(checked)
    mine = UserValves.filter(function_id=row.id, user_id=actor.id)
    if not await mine.update(valves=encoded, updated_at=now()):
        from tortoise.exceptions import IntegrityError

        try:
            await UserValves.create(function_id=row.id, user_id=actor.id, valves=encoded)
        except IntegrityError:  # a concurrent first save: this one wins
            await mine.update(valves=encoded, updated_at=now())
    return jsonify(checked)
