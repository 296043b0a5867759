"""One ``POST /api/chat/completions`` request: route -> inlets -> provider -> stream wrappers -> outlets.

Every failure before the first byte is a JSON ``{"detail": ...}`` with a proper status: a bad body 400,
an unknown or forbidden model 404, a refused request the inlet's 4xx, an upstream failure the
provider's 502/504/4xx. A streaming provider's first chunk is awaited before the response starts, so an
upstream that fails at once still gets its status; later failures end the stream with an error event
(``data: {"error": {...}}``, which OpenAI's clients raise) and ``data: [DONE]``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from colonnade import jsoncodec
from colonnade.calling import await_me_maybe, compose_stream_wrappers
from colonnade.errors import ApiError
from colonnade.plugins.completions.assembly import Assembler, assemble, chunks_of, content_of
from colonnade.plugins.completions.params import OPEN_WEBUI_KEYS, apply_params
from colonnade.plugins.completions.persistence import ChatRecorder
from colonnade.plugins.completions.providers import CompletionContext, CompletionRejected, ProviderError

if TYPE_CHECKING:
    from colonnade.actors import Actor
    from colonnade.host import Host

log = logging.getLogger("colonnade.completions")

MODEL_NOT_FOUND = "Model not found"


def check_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model: a model id is required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not all(isinstance(message, dict) for message in messages):
        raise ApiError(400, "messages: must be a list of message objects")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise ApiError(400, "stream: must be true or false")
    return body


def provider_failure(error: BaseException, provider: str) -> ApiError:
    """The client-facing error for a provider's failure (a bug in a provider is a 502, never a 500)."""
    if isinstance(error, ProviderError):
        status = error.status if 400 <= error.status < 600 else 502
        return ApiError(status, str(error) if error.upstream else f"{provider}: {error.detail}")
    log.error("LLM provider %r failed", provider, exc_info=error)
    return ApiError(502, f"LLM provider {provider!r} failed: {type(error).__name__}")


async def route(host: Host, model_id: str, actor: Actor) -> tuple[Any, dict[str, Any]]:
    """The provider for ``model_id`` and the model's listed entry (``{}`` when a router claimed it)."""
    name = await await_me_maybe(
        host.pm.hook.completion_route_model(host=host, model_id=model_id, actor=actor)
    )
    if name is None:
        raise ApiError(404, MODEL_NOT_FOUND)
    providers = host.state("completions").providers
    if name not in providers:
        raise ApiError(404, f"{MODEL_NOT_FOUND}: no LLM provider named {name!r}")
    listed = (await host.state("completions").catalogue.merged(actor)).get(model_id)
    return providers[name], (listed.entry if listed and listed.provider == name else {})


async def prepare(host: Host, body: dict[str, Any], actor: Actor) -> CompletionContext:
    """Route the request and run the inlets; returns the context the provider call uses."""
    request = dict(check_body(body))
    metadata: dict[str, Any] = {key: request.pop(key) for key in OPEN_WEBUI_KEYS if key in request}
    if isinstance(metadata.get("metadata"), dict):
        metadata = {**metadata.pop("metadata"), **metadata}
    apply_params(request, metadata.get("params"), override=True)
    model_id = request["model"]
    provider, model = await route(host, model_id, actor)
    chat_id = metadata.get("chat_id") if isinstance(metadata.get("chat_id"), str) else None
    ctx = CompletionContext(
        request=request,
        actor=actor,
        model_id=model_id,
        provider=provider.name,
        stream=bool(request.get("stream")),
        chat_id=chat_id,
        model=model,
        metadata=metadata,
    )
    try:
        for result in host.pm.hook.completion_inlet(host=host, ctx=ctx):
            await await_me_maybe(result)
    except CompletionRejected as rejected:
        status = rejected.status if 400 <= rejected.status < 500 else 400
        raise ApiError(status, rejected.detail) from None
    ctx.stream = bool(ctx.request.get("stream"))
    return ctx


async def run_outlets(host: Host, ctx: CompletionContext, response: dict[str, Any]) -> None:
    for result in host.pm.hook.completion_outlet(host=host, ctx=ctx, response=response):
        await await_me_maybe(result)


async def call_provider(host: Host, ctx: CompletionContext) -> Any:
    providers = host.state("completions").providers
    if ctx.provider not in providers:
        raise ApiError(404, f"{MODEL_NOT_FOUND}: no LLM provider named {ctx.provider!r}")
    try:
        return await providers[ctx.provider].complete(ctx.request, ctx.actor)
    except ApiError:
        raise
    except Exception as error:
        raise provider_failure(error, ctx.provider) from error


async def complete_whole(host: Host, ctx: CompletionContext, recorder: ChatRecorder | None) -> dict[str, Any]:
    """A non-streaming request: the ``chat.completion`` dict after the outlets."""
    try:
        result = await call_provider(host, ctx)
        if not isinstance(result, dict):
            result = await assemble(result, ctx.model_id)
    except ApiError as error:
        if recorder is not None:
            await recorder.finish("", error=error.detail)
        raise
    except Exception as error:
        failure = provider_failure(error, ctx.provider)
        if recorder is not None:
            await recorder.finish("", error=failure.detail)
        raise failure from error
    await run_outlets(host, ctx, result)
    if recorder is not None:
        await recorder.finish(content_of(result), usage=result.get("usage"))
    return result


async def _aclose(iterator: Any) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # closing is best effort: the provider's own error was already reported
            log.debug("closing a provider stream failed", exc_info=True)


async def open_stream(
    host: Host, ctx: CompletionContext, recorder: ChatRecorder | None
) -> AsyncIterator[bytes]:
    """A streaming request: the SSE body, once the provider's first chunk (or failure) is known."""
    try:
        result = await call_provider(host, ctx)
    except ApiError as error:
        if recorder is not None:
            await recorder.finish("", error=error.detail)
        raise
    source = chunks_of(result) if isinstance(result, dict) else aiter(result)
    try:
        first = await anext(source)
    except StopAsyncIteration:
        first = None
    except BaseException as error:
        await _aclose(source)
        if isinstance(error, Exception):
            failure = provider_failure(error, ctx.provider)
            if recorder is not None:
                await recorder.finish("", error=failure.detail)
            raise failure from error
        raise  # cancelled: the client went away before the first chunk
    return sse_body(host, ctx, recorder, first, source)


async def _replay(first: Any, source: AsyncIterator[Any]) -> AsyncIterator[Any]:
    try:
        if first is not None:
            yield first
        async for chunk in source:
            yield chunk
    finally:
        await _aclose(source)


def encode(chunk: Any) -> bytes:
    return b"data: " + jsoncodec.dumps(chunk) + b"\n\n"


async def sse_body(
    host: Host, ctx: CompletionContext, recorder: ChatRecorder | None, first: Any, source: AsyncIterator[Any]
) -> AsyncIterator[bytes]:
    """Relay chunks as they come; the outlets and the chat save run after the last one.

    When the client goes away Quart cancels this generator and closes it; closing ``chunks`` closes
    every wrapper and finally the provider's iterator, which releases the upstream request.
    """
    wrap = compose_stream_wrappers(host.pm.hook.completion_stream_wrapper(host=host, ctx=ctx))
    chunks = wrap(_replay(first, source))
    assembler = Assembler(ctx.model_id)
    error: str | None = None
    finished = False
    try:
        async for chunk in chunks:
            assembler.add(chunk)
            yield encode(chunk)
        finished = True
    except Exception as failure:  # noqa: BLE001 - any failure mid-stream ends it with an error event
        error = provider_failure(failure, ctx.provider).detail
        yield encode({"error": {"message": error, "type": "upstream_error"}})
    finally:
        await _aclose(chunks)
        if not finished and error is None and recorder is not None:
            # The client went away: keep what was said so far.
            await recorder.finish(assembler.content, error="The response was interrupted")
    if error is not None:
        if recorder is not None:
            await recorder.finish(assembler.content, error=error)
    else:
        response = assembler.response()
        await run_outlets(host, ctx, response)
        if recorder is not None:
            await recorder.finish(content_of(response), usage=response.get("usage"))
    yield b"data: [DONE]\n\n"
