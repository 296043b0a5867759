"""Calling a loaded function's methods the way Open WebUI does: reserved parameters passed by name.

Only the reserved names present in the method's signature are passed (``__user__``, ``__metadata__``,
``__event_emitter__``...; API.md 4.1.2); the payload goes as ``body`` (or ``event`` for ``stream``),
or as the first parameter when the method names it otherwise. Before each call the instance's
``valves`` is rebuilt from the stored values, and ``__user__["valves"]`` from the caller's user valves.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from colonnade.plugins.functions import loader, running, valves
from colonnade.plugins.functions.events import FunctionEmitted, FunctionFailed

if TYPE_CHECKING:
    from colonnade.actors import Actor
    from colonnade.host import Host
    from colonnade.plugins.functions.runtime import Live

log = logging.getLogger("colonnade.functions")


@dataclass
class Invocation:
    """What one call of a function knows about its request.

    :param actor: The user the call is made for.
    :param metadata: Open WebUI's ``__metadata__`` (chat_id, message_id, session_id, model, ...).
    :param model: The model dict (``__model__``).
    :param request: A summary of the HTTP request (``__request__``): ``headers``, ``url``, ``method``.
    :param emitted: Events the function sent through ``__event_emitter__``, in order.
    """

    actor: Actor | None
    metadata: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    request: Any = None
    emitted: list[dict[str, Any]] = field(default_factory=list)
    #: User valves already read for this request, by function id (a stream filter runs per chunk).
    user_valves: dict[str, Any] = field(default_factory=dict)


def user_dict(actor: Actor | None) -> dict[str, Any]:
    if actor is None:
        return {}
    return {"id": actor.id, "email": actor.email, "name": actor.name, "role": actor.role}


def request_summary() -> Any:
    """A small stand-in for Open WebUI's ``__request__`` (taken from the current Quart request)."""
    try:
        from quart import request

        return SimpleNamespace(
            headers=dict(request.headers),
            url=str(request.url),
            method=request.method,
            base_url=request.host_url,
            client=SimpleNamespace(host=request.remote_addr),
            state=SimpleNamespace(),
            app=SimpleNamespace(state=SimpleNamespace()),
        )
    except RuntimeError:  # outside a request (start-up)
        return None


def _emitter(host: Host, live: Live, invocation: Invocation) -> Any:
    async def emit(event: Any) -> None:
        data = event if isinstance(event, dict) else {"data": event}
        invocation.emitted.append(data)
        await host.emit(
            FunctionEmitted(
                actor=invocation.actor,
                function_id=live.id,
                chat_id=str(invocation.metadata.get("chat_id") or ""),
                message_id=str(invocation.metadata.get("message_id") or ""),
                type=str(data.get("type") or ""),
                data=data.get("data") if isinstance(data.get("data"), dict) else {},
            )
        )

    return running.on_host_loop(asyncio.get_running_loop(), emit)


def _event_call(host: Host, live: Live, invocation: Invocation) -> Any:
    async def ask(event: Any) -> Any:
        # No browser is connected to answer (input, confirmation, execute): the answer is None.
        data = event if isinstance(event, dict) else {"data": event}
        invocation.emitted.append({**data, "awaits_answer": True})
        return None

    return running.on_host_loop(asyncio.get_running_loop(), ask)


async def user_valves_for(host: Host, live: Live, actor: Actor | None) -> Any:
    cls = live.loaded.user_valves_class
    if cls is None or actor is None:
        return None
    from colonnade.plugins.functions.models import UserValves

    row = await UserValves.get_or_none(function_id=live.id, user_id=actor.id)
    stored = host.state("functions").codec.decode(row.valves) if row else {}
    try:
        return valves.build(cls, stored)
    except Exception:
        log.warning("user valves of function %r cannot be built", live.id, exc_info=True)
        return None


async def arguments(
    host: Host,
    live: Live,
    method: Any,
    payload_name: str,
    payload: Any,
    invocation: Invocation,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The keyword arguments for ``method``: the payload and the reserved names it declares."""
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        parameters = {}
    names = list(parameters)
    kwargs: dict[str, Any] = {}
    if payload_name in parameters:
        kwargs[payload_name] = payload
    elif names and not names[0].startswith("__"):
        kwargs[names[0]] = payload
    metadata = invocation.metadata
    wanted = {name for name in names if name.startswith("__") and name.endswith("__")}
    if not wanted:
        return kwargs
    reserved: dict[str, Any] = {
        "__metadata__": metadata,
        "__model__": invocation.model,
        "__request__": invocation.request,
        "__id__": live.id,
        "__chat_id__": metadata.get("chat_id"),
        "__message_id__": metadata.get("message_id"),
        "__session_id__": metadata.get("session_id"),
        "__task__": metadata.get("task"),
        "__task_body__": metadata.get("task_body"),
        "__files__": metadata.get("files") or [],
        "__features__": metadata.get("features") or {},
        "__tools__": {},
        "__oauth_token__": None,
        "__messages__": (payload.get("messages") if isinstance(payload, dict) else None) or [],
        **(extra or {}),
    }
    if "__user__" in wanted:
        user = user_dict(invocation.actor)
        if live.id not in invocation.user_valves:
            invocation.user_valves[live.id] = await user_valves_for(host, live, invocation.actor)
        user_valves = invocation.user_valves[live.id]
        if user_valves is not None:
            user["valves"] = user_valves
        reserved["__user__"] = user
    if "__event_emitter__" in wanted:
        reserved["__event_emitter__"] = _emitter(host, live, invocation)
    if "__event_call__" in wanted:
        reserved["__event_call__"] = _event_call(host, live, invocation)
    for name in wanted:
        if name in reserved:
            kwargs[name] = reserved[name]
    return kwargs


def refresh_valves(live: Live) -> None:
    """Rebuild ``instance.valves`` from the stored values (code defaults fill the gaps)."""
    cls = live.loaded.valves_class
    if cls is None:
        return
    try:
        live.loaded.instance.valves = valves.build(cls, live.valves)
    except Exception:
        log.warning("valves of function %r cannot be built", live.id, exc_info=True)


def timeout_of(host: Host) -> float:
    return host.plugin_config("functions").timeout_seconds


async def report(host: Host, live: Live, method: str, error: Exception, invocation: Invocation) -> None:
    """Log a failed call and emit ``functions.failed`` for observers (audit logs, webhooks)."""
    timed_out = isinstance(error, running.FunctionTimeout)
    inner = error.error if isinstance(error, running.FunctionFailed) else error
    text = str(error) if timed_out else loader.describe_error(live.id, inner)
    log.error("function %r failed in %s: %s", live.id, method, text, exc_info=None if timed_out else inner)
    await host.emit(
        FunctionFailed(
            actor=invocation.actor, function_id=live.id, method=method, error=text, timed_out=timed_out
        )
    )


async def call_method(
    host: Host,
    live: Live,
    method_name: str,
    payload_name: str,
    payload: Any,
    invocation: Invocation,
    extra: dict[str, Any] | None = None,
    session: running.Session | None = None,
) -> Any:
    """Call ``instance.<method_name>`` off the loop (in ``session`` when given); a failure is reported
    and raised as ``running.FunctionFailed`` or ``running.FunctionTimeout``."""
    method = getattr(live.loaded.instance, method_name)
    refresh_valves(live)
    kwargs = await arguments(host, live, method, payload_name, payload, invocation, extra)
    try:
        if session is not None:
            return await session.call(method, kwargs, timeout_of(host))
        return await running.call(method, kwargs, timeout_of(host), f"{live.id}.{method_name}")
    except (running.FunctionFailed, running.FunctionTimeout) as error:
        await report(host, live, method_name, error, invocation)
        raise


async def call_method_streaming(
    host: Host, live: Live, method_name: str, payload: Any, invocation: Invocation
) -> tuple[bool, Any]:
    method = getattr(live.loaded.instance, method_name)
    refresh_valves(live)
    kwargs = await arguments(host, live, method, "body", payload, invocation)
    try:
        return await running.call_streaming(method, kwargs, timeout_of(host), f"{live.id}.{method_name}")
    except (running.FunctionFailed, running.FunctionTimeout) as error:
        await report(host, live, method_name, error, invocation)
        raise
