"""The ``pipelines`` LLM provider, and the filters run around completions (inlets and outlets).

One provider serves every pipe and manifold model: hosted ones through their worker process, remote
ones through their Pipelines server. Filters (hosted and remote together) run in ascending priority
around every model they target; when the model is itself a pipeline (a hosted one with ``inlet`` or
``outlet`` methods, or a remote one), its own inlet runs last on the way in and its outlet first on
the way out, as Open WebUI and the Pipelines server do. This module is imported only when the
``completions`` plugin is loaded.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from colonnade.errors import ApiError
from colonnade.plugins.completions.providers import CompletionRejected, ProviderError
from colonnade.plugins.pipelines.answers import as_chunks, as_completion, pipe_args, user_dict
from colonnade.plugins.pipelines.remote import RemoteError
from colonnade.plugins.pipelines.workers import WorkerFailure

if TYPE_CHECKING:
    from colonnade.actors import Actor
    from colonnade.plugins.completions.providers import CompletionContext
    from colonnade.plugins.pipelines.remote import RemoteServers
    from colonnade.plugins.pipelines.service import PipelineService

log = logging.getLogger("colonnade.pipelines")

NAME = "pipelines"


class PipelinesProvider:
    """Serves the pipe and manifold models of hosted pipelines and of remote Pipelines servers."""

    name = NAME

    def __init__(self, service: PipelineService, remotes: RemoteServers) -> None:
        self.service = service
        self.remotes = remotes

    async def list_models(self, actor: Actor | None) -> list[dict[str, Any]]:
        await self.service.sync()
        listed = self.service.models()
        hosted = {entry["id"] for entry in listed}
        for server, entry in await self.remotes.models():
            pipeline = entry.get("pipeline") if isinstance(entry.get("pipeline"), dict) else {}
            if pipeline.get("type") == "filter" or entry["id"] in hosted:
                continue
            listed.append(
                {
                    **entry,
                    "name": entry.get("name") or entry["id"],
                    "object": "model",
                    "owned_by": "openai",
                    "connection_type": "external",
                    "urlIdx": server.index,
                    "pipeline": pipeline or {"type": "pipe"},
                }
            )
        return listed

    async def complete(self, request: dict[str, Any], actor: Actor) -> Any:
        model_id = request.get("model") or ""
        await self.service.sync()
        found = self.service.resolve(model_id)
        if found is not None:
            running, sub_id = found
            body = {**request, "user": user_dict(actor)}
            try:
                worker = await self.service.worker_of(running)
                kind, value = await worker.run("pipe", pipe_args(body, sub_id))
            except WorkerFailure as failure:
                status = failure.status if failure.status != 400 else 502
                raise ProviderError(status, failure.detail, NAME) from None
            if request.get("stream"):
                return _relay(as_chunks(kind, value, model_id))
            try:
                return await as_completion(kind, value, model_id)
            except WorkerFailure as failure:
                raise ProviderError(failure.status, failure.detail, NAME) from None
        server = await self.remotes.serving(model_id)
        if server is None:
            raise ProviderError(404, f"Model not found: {model_id}", NAME)
        try:
            answer = await server.chat({**request, "user": user_dict(actor)})
        except RemoteError as error:
            raise ProviderError(error.status, error.detail, NAME) from None
        if isinstance(answer, dict):
            return as_chunks("value", answer, model_id) if request.get("stream") else answer
        return _relay(answer)


async def _relay(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    """Chunks as they come; failures as :class:`ProviderError` (the feature ends the stream with them)."""
    try:
        async for chunk in chunks:
            yield chunk
    except (WorkerFailure, RemoteError) as failure:
        raise ProviderError(failure.status, failure.detail, NAME) from None
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


# -- filters ------------------------------------------------------------------------------------


async def _filters(
    service: PipelineService, remotes: RemoteServers, model_id: str
) -> list[tuple[int, Any, Any]]:
    """``(priority, hosted Running or None, (server, entry) or None)`` for every filter of ``model_id``."""
    await service.sync()
    found = [(running.info.get("priority") or 0, running, None) for running in service.filters_for(model_id)]
    if remotes:
        found += [
            (((entry.get("pipeline") or {}).get("priority") or 0), None, (server, entry))
            for server, entry in await remotes.filters_for(model_id)
        ]
    return sorted(found, key=lambda item: item[0])


async def _run_filter(
    service: PipelineService, running: Any, remote: Any, direction: str, body: dict, user: dict
) -> Any:
    if running is not None:
        worker = await service.worker_of(running)
        return await worker.call(direction, {"body": body, "user": user})
    server, entry = remote
    return await server.filter(entry["id"], direction, body, user)


async def _own_step(service: PipelineService, remotes: RemoteServers, model_id: str, method: str) -> Any:
    """The model's own pipeline as a filter step, as the Pipelines server runs it: a hosted pipe with
    that method, or the remote pipe or manifold itself (its server answers for its ``inlet``/``outlet``,
    or sends the body back unchanged); remote ones only when their server has a key, as Open WebUI."""
    own = service.resolve(model_id)
    if own is not None:
        return (own[0], None) if own[0].info.get(method) else None
    server = await remotes.serving(model_id) if remotes else None
    if server is not None and server.has_key:
        return None, (server, {"id": model_id})
    return None


async def run_inlets(service: PipelineService, remotes: RemoteServers, ctx: CompletionContext) -> None:
    """Every filter's ``inlet`` on ``ctx.request``, by priority; a failure rejects the request."""
    steps = [(running, remote) for _, running, remote in await _filters(service, remotes, ctx.model_id)]
    own = await _own_step(service, remotes, ctx.model_id, "has_inlet")
    if own is not None:
        steps.append(own)
    if not steps:
        return
    user = user_dict(ctx.actor)
    for running, remote in steps:
        name = running.id if running is not None else remote[1]["id"]
        try:
            body = await _run_filter(service, running, remote, "inlet", copy.deepcopy(ctx.request), user)
        except WorkerFailure as failure:
            if failure.kind in ("raised", "invalid"):
                raise CompletionRejected(_reason(failure.detail)) from None
            raise ApiError(failure.status, failure.detail) from None
        except RemoteError as error:
            if 400 <= error.status < 500:
                raise CompletionRejected(error.detail, error.status) from None
            raise ApiError(error.status, error.detail) from None
        if not isinstance(body, dict):
            raise ApiError(502, f"the inlet of filter {name!r} returned no request body")
        body.pop("user", None)
        ctx.request.clear()
        ctx.request.update(body)
        ctx.request.setdefault("model", ctx.model_id)


def _reason(detail: str) -> str:
    """A raising inlet's message, without the ``pipeline 'x' failed in inlet: ValueError:`` preamble."""
    head, marker, rest = detail.partition(" failed in inlet: ")
    if not marker:
        return detail
    kind, colon, message = rest.partition(": ")
    return message if colon and kind.isidentifier() else rest


async def run_outlets(
    service: PipelineService, remotes: RemoteServers, ctx: CompletionContext, response: dict[str, Any]
) -> None:
    """Every filter's ``outlet`` on the finished exchange; the last message's content comes back."""
    steps = [(running, remote) for _, running, remote in await _filters(service, remotes, ctx.model_id)]
    own = await _own_step(service, remotes, ctx.model_id, "has_outlet")
    if own is not None:
        steps.insert(0, own)
    choices = response.get("choices") if isinstance(response.get("choices"), list) else []
    if not steps or not choices or not isinstance(choices[0], dict):
        return
    message = dict(choices[0].get("message") or {"role": "assistant", "content": ""})
    body = {
        "model": ctx.model_id,
        "messages": [*copy.deepcopy(ctx.request.get("messages") or []), message],
        "chat_id": ctx.chat_id,
        "session_id": ctx.metadata.get("session_id"),
        "id": ctx.metadata.get("id") or ctx.metadata.get("message_id"),
    }
    user = user_dict(ctx.actor)
    for running, remote in steps:
        name = running.id if running is not None else remote[1]["id"]
        try:
            changed = await _run_filter(service, running, remote, "outlet", copy.deepcopy(body), user)
        except (WorkerFailure, RemoteError) as failure:
            log.warning("the outlet of filter %r failed: %s", name, failure.detail)
            continue
        if isinstance(changed, dict) and isinstance(changed.get("messages"), list) and changed["messages"]:
            body = changed
    last = body["messages"][-1]
    if isinstance(last, dict) and last.get("role", "assistant") == "assistant" and "content" in last:
        choices[0]["message"] = {**(choices[0].get("message") or {}), "content": last["content"]}
