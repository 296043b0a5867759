"""Pipe functions as models: the ``functions`` LLM provider.

One provider serves every active pipe. A pipe is one model with the function's id; a manifold (a
``Pipe`` with ``pipes``, a list or a sync/async callable returning ``[{id, name}]``) is one model per
entry, ``<function id>.<sub id>``, named ``<Pipe.name><entry name>``. ``complete`` calls ``pipe(body)``
off the loop and turns what it returns into OpenAI's shapes (API.md 4.1.6): a string is the answer; a
generator's strings become ``chat.completion.chunk`` deltas, its dicts with ``choices`` pass as they
are and other dicts are dropped; a dict with ``choices`` is a whole completion. A pipe that raises is
a 502 naming the function and the line, one that runs past the timeout a 504.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from colonnade.plugins.completions.providers import ProviderError
from colonnade.plugins.functions import invoke, loader, running
from colonnade.plugins.functions.invoke import Invocation

if TYPE_CHECKING:
    from colonnade.actors import Actor
    from colonnade.host import Host
    from colonnade.plugins.completions.providers import CompletionContext
    from colonnade.plugins.functions.runtime import Live

log = logging.getLogger("colonnade.functions")

PROVIDER = "functions"

#: The completion being prepared in this task, so the provider sees its Open WebUI metadata.
CURRENT: contextvars.ContextVar[CompletionContext | None] = contextvars.ContextVar(
    "colonnade_functions_completion", default=None
)


def chunk(model: str, completion_id: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def whole(model: str, content: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
    }


def as_plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return value


def to_chunk(model: str, completion_id: str, item: Any) -> dict[str, Any] | None:
    """One yielded item as a chunk (``None``: nothing to send)."""
    item = as_plain(item)
    if isinstance(item, bytes):
        item = item.decode(errors="replace")
    if isinstance(item, str):
        text = item
        if text.startswith("data:"):  # a pre-framed SSE line
            import json

            payload = text[5:].strip()
            if payload == "[DONE]" or not payload:
                return None
            try:
                return to_chunk(model, completion_id, json.loads(payload))
            except ValueError:
                pass
        return chunk(model, completion_id, {"content": text}) if text else None
    if isinstance(item, dict):
        # A chunk passes as it is; other dicts (Open WebUI's UI events) mean nothing to OpenAI clients.
        return item if isinstance(item.get("choices"), list) else None
    if item is None:
        return None
    return chunk(model, completion_id, {"content": str(item)})


def failed_text(function_id: str, error: BaseException) -> str:
    return f"Function {function_id} failed: {loader.describe_error(function_id, error)}"


async def relay(model: str, items: Any, label: str) -> Any:
    """Chunks of a pipe's stream, a ``stop`` chunk last; failures become ``ProviderError``."""
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    finished = False
    try:
        yield chunk(model, completion_id, {"role": "assistant"})
        async for item in items:
            made = to_chunk(model, completion_id, item)
            if made is None:
                continue
            if any((choice or {}).get("finish_reason") for choice in made.get("choices") or ()):
                finished = True
            yield made
        if not finished:
            yield chunk(model, completion_id, {}, "stop")
    except running.FunctionTimeout as error:
        raise ProviderError(504, f"Function {label} {error}") from None
    except running.FunctionFailed as failed:
        raise ProviderError(502, failed_text(label, failed.error)) from None
    finally:
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()


async def one(value: Any) -> Any:
    yield value


class FunctionsProvider:
    """The ``functions`` LLM provider: every active pipe and manifold entry as a model."""

    name = PROVIDER

    def __init__(self, host: Host) -> None:
        self.host = host

    @property
    def registry(self) -> Any:
        return self.host.state("functions").registry

    def list_timeout(self) -> float:
        """A manifold's ``pipes()`` must answer before the model list gives up on this provider."""
        catalogue = getattr(self.host.state("completions"), "catalogue", None)
        listing = (
            catalogue.timeout
            if catalogue is not None
            else self.host.plugin_config("completions").list_timeout
        )
        return min(invoke.timeout_of(self.host), listing * 0.8)

    async def sub_pipes(self, live: Live) -> list[dict[str, Any]] | None:
        """A manifold's entries; ``None`` for a plain pipe; a failing ``pipes`` lists nothing."""
        pipes = getattr(live.loaded.instance, "pipes", None)
        if pipes is None:
            return None
        if callable(pipes):
            invoke.refresh_valves(live)
            try:
                pipes = await running.call(pipes, {}, self.list_timeout(), f"{live.id}.pipes")
            except (running.FunctionFailed, running.FunctionTimeout) as error:
                log.error("function %r could not list its pipes: %s", live.id, error)
                return []
        entries = []
        for entry in pipes or ():
            entry = as_plain(entry)
            if isinstance(entry, dict) and entry.get("id") is not None:
                entries.append({"id": str(entry["id"]), "name": str(entry.get("name") or entry["id"])})
        return entries

    async def list_models(self, actor: Actor | None) -> list[dict[str, Any]]:
        await self.registry.sync()
        pipes = self.registry.of_kind("pipe")
        # Manifolds list their entries side by side (a ``pipes()`` may ask an upstream).
        listed = await asyncio.gather(*(self.sub_pipes(live) for live in pipes))
        models = []
        for live, entries in zip(pipes, listed):
            base = {
                "object": "model",
                "created": live.created_at,
                "owned_by": "openai",
                "pipe": {"type": "pipe"},
                "has_user_valves": live.loaded.user_valves_class is not None,
            }
            if entries is None:
                models.append({"id": live.id, "name": live.name, **base})
                continue
            prefix = str(getattr(live.loaded.instance, "name", "") or "")
            for entry in entries:
                models.append({"id": f"{live.id}.{entry['id']}", "name": f"{prefix}{entry['name']}", **base})
        return models

    def find(self, model_id: str) -> Live:
        live = self.registry.live.get(model_id.split(".", 1)[0])
        if live is None or live.kind != "pipe":
            raise ProviderError(404, f"Model not found: no active pipe function serves {model_id!r}")
        return live

    async def complete(self, request: dict[str, Any], actor: Actor) -> Any:
        await self.registry.sync()
        model_id = str(request.get("model") or "")
        live = self.find(model_id)
        ctx = CURRENT.get()
        if ctx is not None and ctx.request is request:
            from colonnade.plugins.functions.filters import invocation_for

            invocation = invocation_for(ctx)
        else:
            invocation = Invocation(actor, {"user_id": actor.id, "model": {"id": model_id}}, {"id": model_id})
        body = {**request, "metadata": invocation.metadata}
        return await self.run(live, model_id, body, invocation, bool(request.get("stream")))

    async def run(
        self, live: Live, model_id: str, body: dict[str, Any], invocation: Invocation, stream: bool
    ) -> Any:
        """Call the pipe; a dict for whole answers, an async iterator of chunks for streams."""
        try:
            streaming, value = await invoke.call_method_streaming(self.host, live, "pipe", body, invocation)
        except running.FunctionTimeout as error:
            raise ProviderError(504, f"Function {live.id} {error}") from None
        except running.FunctionFailed as failed:
            raise ProviderError(502, failed_text(live.id, failed.error)) from None
        if streaming:
            return relay(model_id, value, live.id)
        value = as_plain(value)
        if isinstance(value, dict) and isinstance(value.get("choices"), list):
            return value
        if isinstance(value, dict) and "error" in value:
            raise ProviderError(502, f"Function {live.id}: {value['error']}")
        text = "" if value is None else value if isinstance(value, str) else str(value)
        if stream:
            return relay(model_id, one(text), live.id)
        return whole(model_id, text)
