"""Running functions on request: ``POST /api/functions/:id/execute`` (admins) and Open WebUI's
``POST /api/chat/actions/:action_id`` (signed-in users, active actions only).

``execute`` runs whatever the function is: a pipe with a chat body (``stream`` true answers SSE), a
filter's ``inlet`` or ``outlet`` (``hook``) on a given body, an action with a given body. The JSON
answer says what ran: ``{"id", "type", "ran", "result", "events"}``. An inactive function is loaded
just for the call. A function that raises is a 502 naming the function and the line, one that runs past
the timeout a 504; never a 500.
"""

from __future__ import annotations

import json
from typing import Any

from quart import Blueprint, Response, current_app, jsonify, request

from colonnade.actors import Actor
from colonnade.errors import ApiError
from colonnade.permissions import require
from colonnade.plugins.functions import invoke, loader, running, store
from colonnade.plugins.functions.invoke import Invocation
from colonnade.plugins.functions.runtime import Live, digest

bp = Blueprint("functions_execute", __name__)
actions_bp = Blueprint("functions_actions", __name__)

PREFIXES = {"functions_execute": "/api/functions", "functions_execute_v1": "/api/v1/functions"}
ACTION_PREFIXES = {"functions_actions": "/api/chat/actions", "functions_actions_v1": "/api/v1/chat/actions"}

HOOKS = {"filter": ("inlet", "outlet"), "pipe": ("pipe",), "action": ("action",), "event": ("event",)}


def host() -> Any:
    return current_app.extensions["colonnade"]


async def body_object() -> dict[str, Any]:
    raw = await request.get_data()
    try:
        value = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ApiError(400, "The request body must be a JSON object")
    return value


async def live_for_call(function_id: str) -> Live:
    """The live function when it is active and current, else one loaded for this call only."""
    registry = host().state("functions").registry
    await registry.sync()
    row = await store.get_or_404(function_id)
    live = registry.live.get(row.id)
    if live is not None and live.version == row.version:
        return live
    loaded = await store.check_and_load(host(), row.id, row.content)
    stored = host().state("functions").codec.decode(row.valves)
    return Live(
        row.id,
        row.name,
        row.version,
        digest(row.content),
        loaded,
        stored,
        row.is_global,
        row.meta or {},
        row.created_at,
    )


def failure(live: Live, error: Exception, status: int = 502) -> ApiError:
    if isinstance(error, running.FunctionTimeout):
        return ApiError(504, f"Function {live.id} {error}")
    inner = error.error if isinstance(error, running.FunctionFailed) else error
    return ApiError(status, f"Function {live.id} failed: {loader.describe_error(live.id, inner)}")


def json_safe(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


@bp.post("/<function_id>/execute")
@bp.post("/id/<function_id>/execute")
@require("functions.manage")
async def execute(function_id: str, actor: Actor) -> Any:
    form = await body_object()
    payload = form.get("body", {})
    if not isinstance(payload, dict):
        raise ApiError(400, "body: must be a JSON object")
    live = await live_for_call(function_id)
    hook = form.get("hook") or HOOKS[live.kind][0]
    if hook not in HOOKS[live.kind]:
        raise ApiError(400, f"hook: a {live.kind} runs {' or '.join(HOOKS[live.kind])}")
    if not callable(getattr(live.loaded.instance, hook, None)):
        raise ApiError(400, f"Function {live.id} has no {hook} method")
    given = payload.get("metadata")
    metadata = {"user_id": actor.id, **(given if isinstance(given, dict) else {})}
    model_id = str(payload.get("model") or live.id)
    invocation = Invocation(actor, metadata, {"id": model_id}, invoke.request_summary())
    if live.kind == "pipe":
        return await execute_pipe(live, model_id, payload, invocation)
    try:
        payload_name = "event" if live.kind == "event" else "body"
        result = await invoke.call_method(host(), live, hook, payload_name, payload, invocation)
    except (running.FunctionFailed, running.FunctionTimeout) as error:
        raise failure(live, error) from None
    return jsonify(
        {
            "id": live.id,
            "type": live.kind,
            "ran": hook,
            "result": json_safe(result),
            "events": json_safe(invocation.emitted),
        }
    )


async def execute_pipe(live: Live, model_id: str, payload: dict[str, Any], invocation: Invocation) -> Any:
    from colonnade.plugins.completions.assembly import assemble
    from colonnade.plugins.completions.providers import ProviderError
    from colonnade.plugins.functions.pipes import FunctionsProvider

    if not isinstance(payload.get("messages", []), list):
        raise ApiError(400, "body.messages: must be a list of message objects")
    stream = payload.get("stream") is True
    body = {**payload, "model": model_id, "messages": payload.get("messages") or []}
    body["metadata"] = invocation.metadata
    try:
        result = await FunctionsProvider(host()).run(live, model_id, body, invocation, stream)
    except ProviderError as error:
        raise ApiError(error.status, error.detail) from None
    if not stream:
        if not isinstance(result, dict):
            try:
                result = await assemble(result, model_id)
            except ProviderError as error:
                raise ApiError(error.status, error.detail) from None
        return jsonify(
            {
                "id": live.id,
                "type": "pipe",
                "ran": "pipe",
                "result": result,
                "events": json_safe(invocation.emitted),
            }
        )
    return sse(result)


def sse(chunks: Any) -> Response:
    from colonnade.plugins.completions.assembly import chunks_of
    from colonnade.plugins.completions.pipeline import encode

    async def body() -> Any:
        source = chunks_of(chunks) if isinstance(chunks, dict) else chunks
        try:
            async for item in source:
                yield encode(item)
        except Exception as error:  # noqa: BLE001 - a failure mid-stream ends it with an error event
            yield encode({"error": {"message": str(error), "type": "function_error"}})
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()
        yield b"data: [DONE]\n\n"

    response = Response(
        body(),
        status=200,
        content_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Function-Ran": "pipe"},
    )
    response.timeout = None
    return response


@actions_bp.post("/<action_id>")
@require("functions.use")
async def chat_action(action_id: str, actor: Actor) -> Any:
    """Open WebUI's action button: ``{model, messages, id, chat_id, session_id, event?, model_item?}``."""
    form = await body_object()
    registry = host().state("functions").registry
    await registry.sync()
    function_id, _, sub_id = action_id.partition(".")
    live = registry.live.get(function_id)
    if live is None or live.kind != "action":
        raise ApiError(400, f"Action not available: {action_id}")
    model = form.get("model_item") if isinstance(form.get("model_item"), dict) else {"id": form.get("model")}
    metadata = {key: form.get(key) for key in ("chat_id", "session_id") if form.get(key) is not None}
    metadata.update({"message_id": form.get("id"), "user_id": actor.id, "model": model})
    invocation = Invocation(actor, metadata, model, invoke.request_summary())
    extra = {"__id__": sub_id or live.id}
    try:
        result = await invoke.call_method(host(), live, "action", "body", form, invocation, extra=extra)
    except (running.FunctionFailed, running.FunctionTimeout) as error:
        raise failure(live, error, status=400) from None
    return jsonify(json_safe(result))
