"""Workspace model routes at the spec prefix ``/api/models``.

``GET /api/models`` itself (the merged list of runnable models) belongs to the completions plugin and is
deliberately not served here. Model ids may contain ``/`` (``org/model``), so the id routes use a path
converter; the literal ``search`` and ``validate`` win over it and are refused as ids.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, current_app, jsonify, request
from quart_schema import validate_querystring, validate_request

from colonnade.actors import Actor
from colonnade.errors import ApiError, describe_validation_error
from colonnade.permissions import require
from colonnade.plugins.models import checks
from colonnade.plugins.models.access import Viewer
from colonnade.plugins.models.base_models import catalogue
from colonnade.plugins.models.schemas import (
    DuplicateForm,
    ModelForm,
    ModelUpdateForm,
    SearchQuery,
    ValidateQuery,
)
from colonnade.plugins.models.service import ModelService

bp = Blueprint("models", __name__)


def service() -> ModelService:
    return current_app.extensions["colonnade"].state("models").service


async def json_body(*, required: bool) -> Any:
    """The request's JSON body; 400 when it is not JSON, ``None`` when absent and not required."""
    raw = await request.get_data()
    if not raw.strip():
        if required:
            raise ApiError(400, "Send a JSON body")
        return None
    body = await request.get_json(force=True, silent=True)
    if body is None:
        raise ApiError(400, "The request body is not valid JSON")
    return body


@bp.post("")
@bp.post("/")
@require("models.create")
@validate_request(ModelForm)
async def create_model(data: ModelForm, actor: Actor):
    """Create a workspace model owned by the caller (needs Open WebUI's ``workspace.models``)."""
    return await service().create(await Viewer.load(actor), data)


@bp.get("/search")
@require("models.read")
@validate_querystring(SearchQuery)
async def search_models(query_args: SearchQuery, actor: Actor) -> dict[str, Any]:
    """Readable models by ``query`` (name, id, base model, owner), ``id``, ``name`` or ``tag``; paginated
    with ``page`` (1-based) and ``limit`` (30 by default)."""
    return await service().search(await Viewer.load(actor), query_args)


@bp.post("/validate")
@require("models.read")
@validate_querystring(ValidateQuery)
async def validate_model(query_args: ValidateQuery, actor: Actor) -> dict[str, Any]:
    """Check a create (or, with ``?mode=update``, an update) body and report every problem at once.

    Always 200 for a JSON body: ``{"valid", "errors": [{"loc", "msg", "type"}], "warnings",
    "base_models"}`` where ``base_models`` says what ``base_model_id`` was checked against.
    """
    body = await json_body(required=True)
    viewer = await Viewer.load(actor)
    svc = service()
    form = ModelForm if query_args.mode == "create" else ModelUpdateForm
    parsed, problems = checks.shape_problems(form, body)
    if parsed is not None:
        values, fields_set = parsed.model_dump(), set(parsed.model_fields_set)
    else:
        values, fields_set = checks.usable_values(body, problems)
    existing = None
    if query_args.mode == "update":
        existing = await _model_to_update(viewer, values, problems)
    found = await catalogue(current_app.extensions["colonnade"], svc.config.provider_timeout)
    if isinstance(body, dict) and (query_args.mode == "create" or existing is not None):
        problems += await checks.semantic_problems(
            viewer,
            values,
            fields_set,
            existing=existing,
            catalogue=found,
            may_share_publicly=lambda: svc.may_share_publicly(viewer),
        )
    return {
        "valid": not problems,
        "errors": [problem.json() for problem in problems],
        "warnings": found.warnings,
        "base_models": found.source,
    }


async def _model_to_update(viewer: Viewer, values: dict[str, Any], problems: list[checks.Problem]) -> Any:
    model_id = values.get("id")
    if not isinstance(model_id, str):
        if not any(problem.loc[:1] == ("id",) for problem in problems):
            problems.append(checks.Problem(("id",), "Name the model to update in id", "missing"))
        return None
    try:
        model, _ = await service().writable(viewer, model_id)
    except ApiError as error:
        kind = "not_found" if error.status == 404 else checks.FORBIDDEN
        problems.append(checks.Problem(("id",), error.detail, kind))
        return None
    return model


@bp.get("/<path:model_id>")
@require("models.read")
async def read_model(model_id: str, actor: Actor) -> dict[str, Any]:
    return await service().render(await Viewer.load(actor), model_id)


@bp.post("/<path:model_id>")
@require("models.read")
@validate_request(ModelUpdateForm)
async def update_model(model_id: str, data: ModelUpdateForm, actor: Actor) -> dict[str, Any]:
    """Change the fields given (``params`` and ``meta`` are replaced whole). Needs write access."""
    return await service().update(await Viewer.load(actor), model_id, data)


@bp.delete("/<path:model_id>")
@require("models.read")
async def delete_model(model_id: str, actor: Actor):
    await service().delete(await Viewer.load(actor), model_id)
    return jsonify(True)


@bp.post("/<path:model_id>/duplicate")
@require("models.create")
async def duplicate_model(model_id: str, actor: Actor):
    """A private copy owned by the caller; the optional body ``{"id", "name"}`` names it."""
    body = await json_body(required=False)
    try:
        data = DuplicateForm.model_validate(body or {})
    except ValueError as error:
        detail, errors = describe_validation_error(error)
        raise ApiError(422, detail, extra={"errors": errors}) from None
    return await service().duplicate(await Viewer.load(actor), model_id, data.id, data.name)


@bp.post("/<path:model_id>/toggle")
@require("models.read")
async def toggle_model(model_id: str, actor: Actor) -> dict[str, Any]:
    """Flip ``is_active`` (Open WebUI's ``/model/toggle``). Needs write access."""
    return await service().toggle(await Viewer.load(actor), model_id)
