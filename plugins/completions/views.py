"""Routes: ``POST /chat/completions`` and ``GET /models``, under ``/api`` and Open WebUI's ``/api/v1``."""

from __future__ import annotations

import copy
from typing import Any

from quart import Blueprint, Response, current_app, jsonify, request

from colonnade.actors import Actor
from colonnade.calling import await_me_maybe
from colonnade.errors import ApiError, JSONBodyRefused, load_storable_json
from colonnade.permissions import require
from colonnade.plugins.completions import pipeline
from colonnade.plugins.completions.catalogue import listing
from colonnade.plugins.completions.persistence import ChatRecorder, last_user_message
from colonnade.streams import coalesce

bp = Blueprint("completions", __name__)

#: Served at both prefixes (Decision 1): ``/api/chat/completions`` and ``/api/v1/chat/completions``.
PREFIXES = {"completions": "/api", "completions_v1": "/api/v1"}

STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def host() -> Any:
    return current_app.extensions["colonnade"]


async def json_body() -> Any:
    raw = await request.get_data()
    if not raw.strip():
        raise ApiError(400, "Send a JSON body")
    try:
        # It refuses what a saved turn could not store (a NUL character, say).
        return load_storable_json(raw)
    except JSONBodyRefused as error:
        raise ApiError(422, f"Invalid request: {error}") from None
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON") from None


@bp.post("/chat/completions")
@require("completions.use")
async def chat_completions(actor: Actor) -> Any:
    """OpenAI's chat completions: JSON, or an SSE stream ending ``data: [DONE]`` when ``stream`` is true."""
    the_host = host()
    body = await json_body()
    # The chat keeps what the user said, not what the inlets made of it (context, instructions).
    said = copy.deepcopy(last_user_message(body.get("messages") if isinstance(body, dict) else None))
    ctx = await pipeline.prepare(the_host, body, actor)
    recorder = await ChatRecorder.open(the_host, actor, ctx.metadata, ctx.model_id, said)
    if not ctx.stream:
        return jsonify(await pipeline.complete_whole(the_host, ctx, recorder))
    body = coalesce(await pipeline.open_stream(the_host, ctx, recorder))
    response = Response(body, status=200, content_type="text/event-stream", headers=STREAM_HEADERS)
    # Quart's default response timeout (60 s) would cut a long answer off mid-stream.
    response.timeout = None
    return response


@bp.get("/models")
@require("completions.use")
async def models(actor: Actor) -> Any:
    """Every model the caller may use, merged over the providers: ``{"data": [...]}``."""
    the_host = host()
    catalogue = the_host.state("completions").catalogue
    if request.args.get("refresh", "").lower() in ("1", "true", "yes"):
        catalogue.clear()
    models = listing(await catalogue.merged(actor))
    for result in the_host.pm.hook.completion_models(host=the_host, actor=actor, models=models):
        await await_me_maybe(result)
    return jsonify({"data": models})
