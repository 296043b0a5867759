"""A filter function as a plugin: its ``inlet``, ``stream`` and ``outlet`` as completions hookimpls.

A filter runs for a request when it is global or the requested (workspace) model lists it in
``meta.filterIds``; a filter with ``toggle = True`` runs only when the request's ``filter_ids`` names
it (API.md 4.1.4). ``inlet`` gets the request body with Open WebUI's ``metadata`` and returns the new
body; if it raises, the completion is rejected with its message (400). ``request`` does the same
after every other plugin's inlet (RAG context and the like are in by then). ``stream`` gets each
``chat.completion.chunk`` and returns it changed (falsy drops it). ``outlet`` gets
``{model, messages (with the answer last), chat_id, session_id, id, filter_ids}`` and its changes to
the answer's content reach the response. A failing ``stream`` or ``outlet`` is logged and skipped.
"""

from __future__ import annotations

import copy
import functools
from typing import TYPE_CHECKING, Any

from colonnade.hookspecs import hookimpl
from colonnade.plugins.functions import invoke, loader, running
from colonnade.plugins.functions.invoke import Invocation

if TYPE_CHECKING:
    from colonnade.host import Host
    from colonnade.plugins.completions.providers import CompletionContext
    from colonnade.plugins.functions.runtime import Live

#: Request keys restored from the context for a filter's view of the body.
BODY_EXTRAS = ("chat_id", "id", "session_id", "files", "features", "filter_ids", "tool_ids", "variables")


def applies(live: Live, ctx: CompletionContext) -> bool:
    info = ctx.model.get("info") if isinstance(ctx.model.get("info"), dict) else {}
    attached = ((info.get("meta") or {}).get("filterIds") or []) if isinstance(info.get("meta"), dict) else []
    if not (live.is_global or live.id in attached):
        return False
    if live.toggle:
        return live.id in (ctx.metadata.get("filter_ids") or [])
    return True


def metadata_of(ctx: CompletionContext) -> dict[str, Any]:
    metadata = {key: value for key, value in ctx.metadata.items() if not key.startswith("_")}
    metadata.setdefault("user_id", ctx.actor.id)
    metadata.setdefault("model", ctx.model or {"id": ctx.model_id})
    if "id" in ctx.metadata and "message_id" not in metadata:
        metadata["message_id"] = ctx.metadata["id"]
    return metadata


def invocation_for(ctx: CompletionContext) -> Invocation:
    model = ctx.model or {"id": ctx.model_id}
    return Invocation(ctx.actor, metadata_of(ctx), model, invoke.request_summary())


def failure_text(live: Live, error: BaseException) -> str:
    if isinstance(error, running.FunctionTimeout):
        return f"Function {live.id}: {error}"
    inner = error.error if isinstance(error, running.FunctionFailed) else error
    return f"Function {live.id}: {loader.describe_error(live.id, inner)}"


async def run_on_body(host: Host, live: Live, method_name: str, ctx: CompletionContext) -> None:
    """Run ``inlet`` (or ``request``) on the request body and put what it returns in its place."""
    from colonnade.plugins.completions.providers import CompletionRejected

    invocation = invocation_for(ctx)
    body = {**copy.deepcopy(ctx.request), "metadata": invocation.metadata}
    for key in BODY_EXTRAS:
        if key in ctx.metadata:
            body.setdefault(key, ctx.metadata[key])
    try:
        result = await invoke.call_method(host, live, method_name, "body", body, invocation)
    except (running.FunctionFailed, running.FunctionTimeout) as error:
        inner = error.error if isinstance(error, running.FunctionFailed) else error
        raise CompletionRejected(str(inner) or failure_text(live, error)) from None
    if not isinstance(result, dict):
        return  # a method that returns nothing leaves the body as it was
    result = {key: value for key, value in result.items() if key not in ("metadata", *BODY_EXTRAS)}
    ctx.request.clear()
    ctx.request.update(result)
    ctx.request.setdefault("model", ctx.model_id)
    ctx.request.setdefault("messages", [])


class FilterHooks:
    """The ``inlet``/``outlet`` hookimpls of one filter (registered as ``function:<id>``)."""

    def __init__(self, live: Live) -> None:
        self.live = live
        self.__name__ = f"function:{live.id}"

    @hookimpl(optionalhook=True)
    def completion_inlet(self, host: Host, ctx: CompletionContext) -> Any:
        instance = self.live.loaded.instance
        if not callable(getattr(instance, "inlet", None)) or not applies(self.live, ctx):
            return None
        return functools.partial(run_on_body, host, self.live, "inlet", ctx)

    @hookimpl(optionalhook=True)
    def completion_outlet(self, host: Host, ctx: CompletionContext, response: dict) -> Any:
        instance = self.live.loaded.instance
        if not callable(getattr(instance, "outlet", None)) or not applies(self.live, ctx):
            return None
        return functools.partial(self._outlet, host, ctx, response)

    async def _outlet(self, host: Host, ctx: CompletionContext, response: dict) -> None:
        choices = response.get("choices") or [{}]
        message = choices[0].get("message") or {}
        answer = {"role": "assistant", "content": message.get("content") or ""}
        if ctx.metadata.get("id"):
            answer["id"] = ctx.metadata["id"]
        body = {
            "model": ctx.model_id,
            "messages": [*copy.deepcopy(ctx.request.get("messages") or []), answer],
            "chat_id": ctx.metadata.get("chat_id"),
            "session_id": ctx.metadata.get("session_id"),
            "id": ctx.metadata.get("id"),
            "filter_ids": ctx.metadata.get("filter_ids") or [],
        }
        try:
            result = await invoke.call_method(host, self.live, "outlet", "body", body, invocation_for(ctx))
        except (running.FunctionFailed, running.FunctionTimeout):
            return  # reported; the answer goes on unchanged
        messages = result.get("messages") if isinstance(result, dict) else None
        if not messages or not isinstance(messages[-1], dict):
            return
        content = messages[-1].get("content")
        if isinstance(content, str) and choices and isinstance(choices[0].get("message"), dict):
            choices[0]["message"]["content"] = content


class FilterRequest:
    """The ``request`` hookimpl of one filter (``function:<id>:request``): an inlet that runs after
    every other inlet (``trylast``), the last chance to change what the provider gets."""

    def __init__(self, live: Live) -> None:
        self.live = live
        self.__name__ = f"function:{live.id}:request"

    @hookimpl(optionalhook=True, trylast=True)
    def completion_inlet(self, host: Host, ctx: CompletionContext) -> Any:
        if not applies(self.live, ctx):
            return None
        return functools.partial(run_on_body, host, self.live, "request", ctx)


class FilterStream:
    """The ``stream`` hookimpl of one filter (registered as ``function:<id>:stream``)."""

    def __init__(self, live: Live) -> None:
        self.live = live
        self.__name__ = f"function:{live.id}:stream"

    @hookimpl(optionalhook=True)
    def completion_stream_wrapper(self, host: Host, ctx: CompletionContext) -> Any:
        if not applies(self.live, ctx):
            return None
        live = self.live
        invocation = invocation_for(ctx)

        async def wrap(chunks: Any) -> Any:
            session = running.Session(f"{live.id}.stream")
            try:
                async for chunk in chunks:
                    try:
                        changed = await invoke.call_method(
                            host,
                            live,
                            "stream",
                            "event",
                            chunk,
                            invocation,
                            extra={"__body__": ctx.request},
                            session=session,
                        )
                    except (running.FunctionFailed, running.FunctionTimeout):
                        yield chunk  # reported; the chunk goes on unchanged
                        continue
                    if changed:
                        yield changed
            finally:
                session.close()
                aclose = getattr(chunks, "aclose", None)
                if aclose is not None:
                    await aclose()

        return wrap
