"""The ``/openai`` proxy: model list, chat completions and embeddings, relayed to the right upstream.

Paths: ``GET /openai/models`` (and ``/openai/v1/models``), ``GET /openai/models/<idx>`` (admins: one
connection), ``POST /openai/chat/completions``, ``POST /openai/embeddings`` and their ``/openai/v1/...``
twins, so an OpenAI SDK works with either ``base_url``. Every route needs a signed-in user whose role
is ``user`` or ``admin`` (action ``openai.use``).

Streams are relayed event batch by event batch as the upstream sends them, with Quart's response
timeout off; when the client goes away Quart cancels the view's body, which closes the upstream
request. Failures before the first byte are a JSON error naming the upstream; after it, a last
``data: {"error": ...}`` event and ``data: [DONE]`` (Open WebUI's shape for a failed stream).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from quart import Blueprint, Response, request

from colonnade import jsoncodec
from colonnade.errors import ApiError, json_error
from colonnade.permissions import FORBIDDEN, get_host, require
from colonnade.plugins.openai.service import USE_ACTION, OpenAIService
from colonnade.plugins.openai.upstreams import Upstream, UpstreamError, sse_events

bp = Blueprint("openai", __name__, url_prefix="/openai")

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def service() -> OpenAIService:
    return get_host().state("openai").service


@bp.before_request
async def refuse_when_disabled() -> Any:
    if not service().config.enable:
        return json_error(503, "OpenAI API is disabled")
    return None


def upstream_error(error: UpstreamError) -> Response:
    extra = {"error": error.error} if error.error is not None else {}
    return json_error(error.status, error.detail, error.headers, **extra)


@bp.get("/models")
@bp.get("/v1/models")
@require(USE_ACTION)
async def list_models(actor: Any) -> Any:
    """Every connection's models, prefixed, in Open WebUI's shape (``{"data": [...]}``)."""
    refresh = request.args.get("refresh", "").lower() in ("1", "true", "yes")
    models = await service().models(refresh=refresh and actor.is_admin)
    return {"object": "list", "data": await service().visible(actor, models)}


@bp.get("/models/<int:url_idx>")
@require(USE_ACTION)
async def list_connection_models(url_idx: int, actor: Any) -> Any:
    """One connection's models (admins only: it reveals how connections are set up)."""
    if not actor.is_admin:
        raise ApiError(403, FORBIDDEN)
    upstream = service().by_index(url_idx)
    if upstream is None:
        raise ApiError(404, f"No OpenAI connection with index {url_idx}")
    try:
        raw = await service().raw_models(upstream, refresh=True)
    except UpstreamError as error:
        return upstream_error(error)
    return {"object": "list", "data": [upstream.model_entry(entry) for entry in raw]}


@bp.post("/chat/completions")
@bp.post("/v1/chat/completions")
@require(USE_ACTION)
async def chat_completions(actor: Any) -> Any:
    return await relay("chat/completions", actor)


@bp.post("/embeddings")
@bp.post("/v1/embeddings")
@require(USE_ACTION)
async def embeddings(actor: Any) -> Any:
    return await relay("embeddings", actor)


async def read_body() -> dict[str, Any]:
    body = await request.get_json(force=True)
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid request: the body must be a JSON object")
    return body


async def relay(endpoint: str, actor: Any) -> Any:
    """Forward one request to the upstream serving its model and relay the answer."""
    body = await read_body()
    try:
        upstream, model = await service().resolve(body.get("model"), actor)
        forwarded = {**body, "model": model}
        response = await upstream.send(endpoint, forwarded, model)
    except UpstreamError as error:
        return upstream_error(error)
    if "text/event-stream" in response.headers.get("content-type", ""):
        return await stream_response(response, upstream)
    try:
        return await json_response(response, upstream)
    except UpstreamError as error:
        return upstream_error(error)


async def json_response(response: Any, upstream: Upstream) -> Response:
    """The upstream's JSON body, checked and passed on as it is (no re-encoding)."""
    raw = await upstream.read(response, "its answer")
    try:
        jsoncodec.loads(raw)
    except ValueError:
        raise UpstreamError(502, f"{upstream.label} sent a malformed answer (not JSON)") from None
    return Response(raw, status=response.status_code, content_type="application/json")


async def stream_response(response: Any, upstream: Upstream) -> Response:
    """Relay an SSE stream; the first batch is awaited here so an early failure still gets a status."""
    events = sse_events(response, upstream)
    try:
        first = await anext(events)
    except StopAsyncIteration:
        return json_error(502, f"{upstream.label} sent an empty stream")
    except UpstreamError as error:
        await events.aclose()
        return upstream_error(error)

    async def body() -> AsyncIterator[bytes]:
        try:
            yield first
            # Each batch is already everything one read of the upstream found (``colonnade.chunked``),
            # so there is nothing for a reading task to join (``coalesce``, which the pipeline uses).
            async for batch in events:
                yield batch
        except UpstreamError as error:
            failure = {"error": {"message": error.detail, "type": "upstream_error", "code": error.status}}
            yield f"data: {json.dumps(failure)}\n\ndata: [DONE]\n\n".encode()
        finally:
            await events.aclose()

    relayed = Response(body(), status=200, content_type="text/event-stream", headers=SSE_HEADERS)
    relayed.timeout = None  # Quart's 60 s response timeout would cut long streams
    return relayed
