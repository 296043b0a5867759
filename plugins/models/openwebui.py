"""Open WebUI's workspace model routes at ``/api/v1/models`` (API.md 3.12.3), as thin adapters.

Open WebUI puts the id in the query string (``/model?id=``) or the body (``/model/update``,
``/model/delete``) and creates at ``/create``; the rules are the same service the spec routes use.
``GET /api/v1/models`` itself is the runtime model list and belongs to the completions plugin.
Differences from Open WebUI: a missing or unreadable model is 404 (not 401), a taken id 409, a
permission refusal 403.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, jsonify, request
from quart_schema import validate_querystring, validate_request

from colonnade.actors import Actor
from colonnade.errors import ApiError
from colonnade.permissions import require
from colonnade.plugins.models.access import Viewer, grants_by_model
from colonnade.plugins.models.models import WorkspaceModel
from colonnade.plugins.models.schemas import (
    AccessUpdateForm,
    IdQuery,
    ModelForm,
    ModelUpdateForm,
    SearchQuery,
)
from colonnade.plugins.models.service import model_json
from colonnade.plugins.models.views import json_body, service

bp = Blueprint("models_v1", __name__)


@bp.get("/list")
@require("models.read")
@validate_querystring(SearchQuery)
async def list_models(query_args: SearchQuery, actor: Actor) -> dict[str, Any]:
    """``{items, total}``, 30 a page; like Open WebUI, only models with a base model."""
    return await service().search(await Viewer.load(actor), query_args, presets_only=True)


@bp.get("/all")
@require("models.manage")
async def all_models(actor: Actor):
    models = await WorkspaceModel.all().select_related("user").order_by("-updated_at", "id")
    grants = await grants_by_model([model.id for model in models])
    return jsonify([model_json(model, grants[model.id], True) for model in models])


@bp.get("/tags")
@require("models.read")
async def model_tags(actor: Actor):
    return jsonify(await service().tags(await Viewer.load(actor)))


@bp.post("/create")
@require("models.create")
@validate_request(ModelForm)
async def create_model(data: ModelForm, actor: Actor):
    return await service().create(await Viewer.load(actor), data)


@bp.get("/model")
@require("models.read")
@validate_querystring(IdQuery)
async def read_model(query_args: IdQuery, actor: Actor) -> dict[str, Any]:
    return await service().render(await Viewer.load(actor), query_args.id)


def missing_id() -> ApiError:
    """The same 422 a body without ``id`` gets from schema validation."""
    errors = [{"loc": ["id"], "msg": "Field required", "type": "missing"}]
    return ApiError(422, "Invalid request: id: Field required", extra={"errors": errors})


def _id_from(data: Any) -> str:
    """The model id from ``?id=`` (older clients) or the body's ``id`` (Open WebUI 0.12)."""
    model_id = request.args.get("id") or getattr(data, "id", None)
    if not model_id:
        raise missing_id()
    return model_id


@bp.post("/model/update")
@require("models.read")
@validate_request(ModelUpdateForm)
async def update_model(data: ModelUpdateForm, actor: Actor) -> dict[str, Any]:
    return await service().update(await Viewer.load(actor), _id_from(data), data)


@bp.post("/model/toggle")
@require("models.read")
@validate_querystring(IdQuery)
async def toggle_model(query_args: IdQuery, actor: Actor) -> dict[str, Any]:
    return await service().toggle(await Viewer.load(actor), query_args.id)


@bp.post("/model/access/update")
@require("models.read")
@validate_request(AccessUpdateForm)
async def update_access(data: AccessUpdateForm, actor: Actor) -> dict[str, Any]:
    values, fields_set = data.model_dump(), set(data.model_fields_set)
    if "access_control" not in fields_set and values["access_grants"] is None:
        # This route replaces the whole list: no access_grants (Open WebUI 0.12's field) means private.
        values["access_grants"] = []
        fields_set.add("access_grants")
    return await service().set_access(await Viewer.load(actor), data.id, values, fields_set)


@bp.post("/model/delete")
@bp.delete("/model/delete")
@require("models.read")
async def delete_model(actor: Actor):
    """``POST`` with ``{"id"}`` (Open WebUI 0.12) or ``DELETE ?id=`` (older clients); returns ``true``."""
    body = await json_body(required=False)
    model_id = request.args.get("id") or (body.get("id") if isinstance(body, dict) else None)
    if not isinstance(model_id, str) or not model_id:
        raise missing_id()
    await service().delete(await Viewer.load(actor), model_id)
    return jsonify(True)


@bp.delete("/delete/all")
@require("models.manage")
async def delete_all_models(actor: Actor):
    await service().delete_all(await Viewer.load(actor))
    return jsonify(True)
