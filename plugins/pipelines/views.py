"""Hosted pipelines at the spec prefix ``/api/pipelines`` (admins only).

CRUD of the stored modules, ``.py`` upload, duplicate, activate / deactivate, valves (read, JSON
schema, update) and ``execute``: run a pipe or manifold on a chat body (JSON or SSE), or a filter's
inlet or outlet on a given body, whether the pipeline is active or not.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from quart import Blueprint, Response, current_app, jsonify, request

from colonnade.actors import Actor
from colonnade.errors import ApiError
from colonnade.permissions import require
from colonnade.plugins.pipelines.answers import as_chunks, as_completion, pipe_args, user_dict
from colonnade.plugins.pipelines.records import effective_valves, pipeline_json
from colonnade.plugins.pipelines.service import PipelineService
from colonnade.plugins.pipelines.workers import WorkerFailure

bp = Blueprint("pipelines", __name__)

MANAGE = "pipelines.manage"


def service() -> PipelineService:
    return current_app.extensions["colonnade"].state("pipelines").service


async def json_body(*, required: bool = True) -> Any:
    raw = await request.get_data()
    if not raw.strip():
        if required:
            raise ApiError(400, "Send a JSON body")
        return {}
    # Through the request's decoder, whatever the content type: malformed JSON is a 400, and integers
    # beyond 64 bits or too deep a nesting (which valves could not store) a 422.
    return await request.get_json(force=True)


async def json_object(*, required: bool = True) -> dict[str, Any]:
    body = await json_body(required=required)
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object")
    return body


async def uploaded_module() -> tuple[str, str, Any]:
    """``(file name, source, form)`` of a multipart upload whose ``file`` is a ``.py`` module."""
    if not request.content_type or "multipart/form-data" not in request.content_type:
        raise ApiError(400, "Send the module as multipart/form-data with a file field")
    files = await request.files
    form = await request.form
    upload = files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(400, "file: a .py file is required")
    if not upload.filename.endswith(".py"):
        raise ApiError(400, "Only Python (.py) files are allowed.")
    raw = upload.read()
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "file: the module is not UTF-8 text") from None
    return upload.filename, source, form


def stem_of(filename: str) -> str:
    return filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1][: -len(".py")]


def failure(error: WorkerFailure) -> ApiError:
    return ApiError(error.status, error.detail)


@bp.get("")
@bp.get("/")
@require(MANAGE)
async def list_pipelines(actor: Actor) -> Any:
    """Every stored pipeline, without its source."""
    from colonnade.plugins.pipelines.models import Pipeline

    rows = await Pipeline.all().order_by("created_at", "id")
    return jsonify([pipeline_json(row, content=False) for row in rows])


@bp.post("")
@bp.post("/")
@require(MANAGE)
async def create_pipeline(actor: Actor) -> Any:
    """Store a module: ``{id?, name?, content, valves?, is_active?}`` (201)."""
    body = await json_object()
    unknown = set(body) - {"id", "name", "content", "valves", "is_active"}
    if unknown:
        raise ApiError(400, f"unknown fields: {', '.join(sorted(unknown))}")
    if not isinstance(body.get("is_active", False), bool):
        raise ApiError(400, "is_active: must be true or false")
    row = await service().create(
        actor,
        pipeline_id=body.get("id"),
        source=body.get("content"),
        name=body.get("name"),
        valves=body.get("valves"),
        active=body.get("is_active", False),
    )
    return jsonify(pipeline_json(row)), 201


@bp.post("/upload")
@require(MANAGE)
async def upload_pipeline(actor: Actor) -> Any:
    """Store an uploaded ``.py`` module (multipart ``file``; optional form ``id``, ``is_active``) (201)."""
    filename, source, form = await uploaded_module()
    active = (form.get("is_active") or "").lower() in ("1", "true", "yes", "on")
    row = await service().create(
        actor, pipeline_id=form.get("id") or stem_of(filename), source=source, active=active
    )
    return jsonify(pipeline_json(row)), 201


@bp.get("/<pipeline_id>")
@require(MANAGE)
async def get_pipeline(pipeline_id: str, actor: Actor) -> Any:
    return jsonify(pipeline_json(await service().get(pipeline_id)))


@bp.patch("/<pipeline_id>")
@bp.put("/<pipeline_id>")
@bp.post("/<pipeline_id>/update")
@require(MANAGE)
async def update_pipeline(pipeline_id: str, actor: Actor) -> Any:
    """Change ``name``, ``content``, ``valves`` or ``is_active``; a changed module is loaded first."""
    body = await json_object()
    if "is_active" in body and not isinstance(body["is_active"], bool | None):
        raise ApiError(400, "is_active: must be true or false")
    return jsonify(pipeline_json(await service().update(pipeline_id, body)))


@bp.delete("/<pipeline_id>")
@require(MANAGE)
async def delete_pipeline(pipeline_id: str, actor: Actor) -> Any:
    await service().delete(pipeline_id)
    return jsonify(True)


@bp.post("/<pipeline_id>/activate")
@require(MANAGE)
async def activate_pipeline(pipeline_id: str, actor: Actor) -> Any:
    """Start the worker (``on_startup``); 400 with the error when it does not start."""
    return jsonify(pipeline_json(await service().activate(pipeline_id)))


@bp.post("/<pipeline_id>/deactivate")
@require(MANAGE)
async def deactivate_pipeline(pipeline_id: str, actor: Actor) -> Any:
    return jsonify(pipeline_json(await service().deactivate(pipeline_id)))


@bp.post("/<pipeline_id>/duplicate")
@require(MANAGE)
async def duplicate_pipeline(pipeline_id: str, actor: Actor) -> Any:
    """A copy under a new id (``{id?}``, default ``<id>_copy``), same source and valves, inactive (201)."""
    body = await json_object(required=False)
    row = await service().duplicate(pipeline_id, body.get("id"), actor)
    return jsonify(pipeline_json(row)), 201


@bp.get("/<pipeline_id>/valves")
@require(MANAGE)
async def get_valves(pipeline_id: str, actor: Actor) -> Any:
    return jsonify(effective_valves(await service().get(pipeline_id)))


@bp.get("/<pipeline_id>/valves/spec")
@require(MANAGE)
async def get_valves_spec(pipeline_id: str, actor: Actor) -> Any:
    """The JSON schema of the module's ``Valves`` (``null`` when it has none)."""
    return jsonify(((await service().get(pipeline_id)).info or {}).get("valves_spec"))


@bp.post("/<pipeline_id>/valves")
@bp.post("/<pipeline_id>/valves/update")
@require(MANAGE)
async def update_valves(pipeline_id: str, actor: Actor) -> Any:
    """Validate and store valve values (null values dropped); an active pipeline gets them at once."""
    return jsonify(await service().set_valves(pipeline_id, await json_body()))


@bp.post("/<pipeline_id>/execute")
@require(MANAGE)
async def execute_pipeline(pipeline_id: str, actor: Actor) -> Any:
    """Run the pipeline once.

    A pipe or manifold takes a chat body (``model`` picks a manifold's sub-pipe, ``stream`` asks for
    SSE) and answers ``{"ran": "pipe", "pipeline", "model", "response": chat.completion}``. A filter
    takes ``{"direction": "inlet" | "outlet", "body": {...}}`` and answers ``{"ran", "pipeline", "body"}``.
    """
    svc = service()
    row = await svc.get(pipeline_id)
    body = await json_object()
    if row.type == "filter":
        return await _execute_filter(svc, row, body, actor)
    chat = body.get("body", body)
    if not isinstance(chat, dict) or not isinstance(chat.get("messages"), list):
        raise ApiError(400, "messages: a pipe runs on a chat body with a list of messages")
    if "stream" in chat and not isinstance(chat["stream"], bool):
        raise ApiError(400, "stream: must be true or false")
    model_id, sub_id = _model_of(row, chat.get("model"))
    request_body = {**chat, "model": model_id, "user": user_dict(actor)}
    args = pipe_args(request_body, sub_id)
    if not chat.get("stream"):
        try:
            async with svc.borrowed(row) as worker:
                kind, value = await worker.run("pipe", args)
                answer = await as_completion(kind, value, model_id)
        except WorkerFailure as error:
            raise failure(error) from None
        return jsonify({"ran": "pipe", "pipeline": row.id, "model": model_id, "response": answer})
    stream = _stream(svc, row, args, model_id)
    try:
        first = await anext(stream)
    except WorkerFailure as error:
        raise failure(error) from None
    response = Response(
        _then(first, stream),
        content_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Pipeline-Ran": "pipe"},
    )
    response.timeout = None
    return response


def _model_of(row: Any, requested: Any) -> tuple[str, str]:
    """The full model id and the id ``pipe`` gets: a manifold's sub-pipe by ``<id>.<sub>`` or ``<sub>``."""
    if row.type != "manifold":
        return row.id, row.id
    pipes = [entry["id"] for entry in (row.info or {}).get("pipes") or ()]
    if not pipes:
        raise ApiError(400, "this manifold declares no pipes")
    sub = pipes[0] if requested in (None, "", row.id) else str(requested)
    if sub.startswith(f"{row.id}."):
        sub = sub[len(row.id) + 1 :]
    if sub not in pipes:
        raise ApiError(400, f"model: the manifold has no pipe {sub!r} (it has {', '.join(pipes)})")
    return f"{row.id}.{sub}", sub


async def _execute_filter(svc: PipelineService, row: Any, body: dict[str, Any], actor: Actor) -> Any:
    direction = body.get("direction", "inlet")
    if direction not in ("inlet", "outlet"):
        raise ApiError(400, "direction: inlet or outlet")
    target = body.get("body")
    if not isinstance(target, dict):
        raise ApiError(400, "body: the request (inlet) or exchange (outlet) to filter, a JSON object")
    try:
        async with svc.borrowed(row) as worker:
            result = await worker.call(direction, {"body": target, "user": user_dict(actor)})
    except WorkerFailure as error:
        raise failure(error) from None
    return jsonify({"ran": direction, "pipeline": row.id, "body": result})


async def _stream(
    svc: PipelineService, row: Any, args: dict[str, Any], model_id: str
) -> AsyncIterator[bytes]:
    async with svc.borrowed(row) as worker:
        kind, value = await worker.run("pipe", args)
        chunks = as_chunks(kind, value, model_id)
        try:
            async for chunk in chunks:
                yield b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"
        finally:
            await chunks.aclose()


async def _then(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        yield first
        async for piece in rest:
            yield piece
        yield b"data: [DONE]\n\n"
    except WorkerFailure as error:
        error_event = {"error": {"message": error.detail, "type": "pipeline_error"}}
        yield b"data: " + json.dumps(error_event).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"
    finally:
        await rest.aclose()
