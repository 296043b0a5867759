"""The worker process of one hosted pipeline: ``python -m colonnade.plugins.pipelines.worker``.

It reads one JSON object per line on its own copy of the original stdin and answers one per line on
its own copy of the original stdout (file descriptor 1 is pointed at stderr and 0 at ``/dev/null``
first, so a pipeline's ``print`` ends up in the host's log and an ``input()`` reads nothing, never
touching the protocol). The first message loads the module; every later one is a call, run in a
thread of its own so that one blocking ``pipe()`` does not hold up the next call. Coroutines
(``async def inlet``, ``on_startup``...) run on one event loop kept in a background thread, as the
Pipelines server runs them on its loop.

Host to worker::

    {"op": "load", "pipeline": id, "source": str, "valves": {...}, "startup": bool}
    {"id": n, "op": "pipe" | "inlet" | "outlet" | "valves" | "startup" | "shutdown", "args": {...}}
    {"op": "cancel", "target": n}
    {"op": "ack", "target": n, "count": k}

Worker to host: ``{"id": n, "result": value}``, or ``{"id": n, "item": value}`` per streamed piece
followed by ``{"id": n, "end": true}``, or ``{"id": n, "error": str, "kind": "raised" | "invalid"}``.
The load is answered as call ``0``. End of input ends the process at once. A stream has at most
``WINDOW`` items in flight: the host acknowledges each item it has relayed, and the generator is not
asked for more until it does, so a fast generator and a slow client do not pile items up in the host.

This module imports only the standard library at the top: the host never imports it, and a worker
pays only for what the pipeline itself imports (pydantic, for ``Valves``).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import sys
import threading
import traceback
import types
from collections.abc import AsyncIterator, Iterator
from typing import Any

PIPELINE_TYPES = ("pipe", "filter", "manifold")
#: Stream items sent and not yet acknowledged by the host, per call.
WINDOW = 32


class Invalid(Exception):
    """A call the pipeline refused because its input does not fit (bad valves)."""


def jsonable(value: Any) -> Any:
    """What ``json.dumps`` cannot take: pydantic models, sets, bytes, anything else as text."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class Protocol:
    """The answering side: one line per message, written under a lock by any thread."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        try:
            line = json.dumps(message, default=jsonable, ensure_ascii=False)
        except (TypeError, ValueError) as error:
            line = json.dumps({"id": message.get("id"), "error": f"unserialisable answer: {error}"})
        with self.lock:
            self.stream.write(line.encode() + b"\n")
            self.stream.flush()


class Runner:
    """The loaded pipeline and the machinery to call it."""

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self.pipeline: Any = None
        self.pipeline_id = ""
        self.manifest: dict[str, str] = {}
        self.cancelled: set[int] = set()
        self.credits: dict[int, threading.Semaphore] = {}
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="pipeline-loop", daemon=True).start()

    # -- calling user code ---------------------------------------------------------------------------

    def settle(self, value: Any) -> Any:
        """``value``, or what it resolves to when it is a coroutine (run on the worker's loop)."""
        if inspect.isawaitable(value):
            return asyncio.run_coroutine_threadsafe(_awaited(value), self.loop).result()
        return value

    def hook(self, name: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self.pipeline, name, None)
        if not callable(method):
            return None
        return self.settle(method(*args, **kwargs))

    # -- loading ----------------------------------------------------------------------------------

    def load(self, message: dict[str, Any]) -> dict[str, Any]:
        self.pipeline_id = str(message.get("pipeline") or "pipeline")
        module = types.ModuleType(f"colonnade_pipeline_{self.pipeline_id}")
        module.__file__ = f"<pipeline {self.pipeline_id}>"
        sys.modules[module.__name__] = module
        source = message.get("source") or ""
        code = compile(source, module.__file__, "exec")
        self.manifest = frontmatter(source)
        try:
            exec(code, module.__dict__)  # noqa: S102 - running the admin's pipeline is the point
        except ImportError as error:
            missing = missing_requirements(self.manifest.get("requirements", ""))
            if missing:
                names = ", ".join(missing)
                raise Invalid(f"{_one_line(error)} (requirements not installed: {names})") from None
            raise
        cls = getattr(module, "Pipeline", None)
        if not isinstance(cls, type):
            raise Invalid("the module defines no class Pipeline")
        self.pipeline = cls()
        self.apply_valves(message.get("valves") or {})
        if message.get("startup"):
            self.hook("on_startup")
        return self.describe()

    def valves_class(self) -> Any:
        cls = getattr(self.pipeline, "Valves", None)
        if cls is None and getattr(self.pipeline, "valves", None) is not None:
            cls = type(self.pipeline.valves)
        return cls if hasattr(cls, "model_validate") else None

    def apply_valves(self, values: dict[str, Any]) -> dict[str, Any]:
        cls = self.valves_class()
        if cls is None:
            if values:
                raise Invalid("this pipeline has no Valves")
            return {}
        current = getattr(self.pipeline, "valves", None)
        merged = {**(current.model_dump() if hasattr(current, "model_dump") else {}), **values}
        try:
            valves = cls.model_validate(merged)
        except Exception as error:  # pydantic.ValidationError, without importing pydantic here
            raise Invalid(f"invalid valves: {_validation_text(error)}") from None
        self.pipeline.valves = valves
        return valves.model_dump(mode="json")

    def describe(self) -> dict[str, Any]:
        pipeline = self.pipeline
        kind = getattr(pipeline, "type", "pipe") or "pipe"
        if kind not in PIPELINE_TYPES:
            raise Invalid(f"Pipeline.type must be one of {', '.join(PIPELINE_TYPES)}, not {kind!r}")
        cls = self.valves_class()
        declared_id = getattr(pipeline, "id", None)
        valves = getattr(pipeline, "valves", None)
        values = valves.model_dump(mode="json") if hasattr(valves, "model_dump") else {}
        info: dict[str, Any] = {
            "type": kind,
            "name": str(getattr(pipeline, "name", "") or self.pipeline_id),
            "declared_id": declared_id if isinstance(declared_id, str) else None,
            "valves": values,
            "valves_spec": cls.model_json_schema() if cls is not None else None,
            "has_inlet": callable(getattr(pipeline, "inlet", None)),
            "has_outlet": callable(getattr(pipeline, "outlet", None)),
            "has_pipe": callable(getattr(pipeline, "pipe", None)),
            "manifest": self.manifest,
        }
        declared = getattr(pipeline, "pipelines", None)
        if callable(declared):
            declared = self.settle(declared())
        if kind == "filter":
            targets = values.get("pipelines", declared if isinstance(declared, list) else ["*"])
            info["pipelines"] = [str(target) for target in targets or ()]
            priority = values.get("priority", getattr(pipeline, "priority", 0))
            info["priority"] = priority if isinstance(priority, int) else 0
        elif kind == "manifold":
            info["pipes"] = [
                {"id": str(entry["id"]), "name": str(entry.get("name") or entry["id"])}
                for entry in declared or ()
                if isinstance(entry, dict) and entry.get("id") is not None
            ]
        return info

    # -- calls ------------------------------------------------------------------------------------

    def call(self, call_id: int, op: str, args: dict[str, Any]) -> None:
        try:
            if op == "pipe":
                self.pipe(call_id, args)
                return
            if op in ("inlet", "outlet"):
                result = self.hook(op, args.get("body"), args.get("user"))
                if result is None:
                    result = args.get("body")
            elif op == "valves":
                result = self.apply_valves(args.get("values") or {})
                self.hook("on_valves_updated")
            elif op == "startup":
                result = self.hook("on_startup")
            elif op == "shutdown":
                result = self.hook("on_shutdown")
            elif op == "describe":
                result = self.describe()
            else:
                raise Invalid(f"unknown operation {op!r}")
            self.protocol.send({"id": call_id, "result": result})
        except Invalid as error:
            self.protocol.send({"id": call_id, "error": str(error), "kind": "invalid"})
        except BaseException as error:  # noqa: BLE001 - every failure of user code is reported, none kills us
            traceback.print_exc()
            self.protocol.send({"id": call_id, "error": _one_line(error), "kind": "raised"})
        finally:
            self.cancelled.discard(call_id)
            self.credits.pop(call_id, None)

    def pipe(self, call_id: int, args: dict[str, Any]) -> None:
        method = getattr(self.pipeline, "pipe", None)
        if not callable(method):
            raise Invalid("this pipeline has no pipe method")
        result = method(
            user_message=args.get("user_message", ""),
            model_id=args.get("model_id", ""),
            messages=args.get("messages") or [],
            body=args.get("body") or {},
        )
        if inspect.isawaitable(result):
            result = self.settle(result)
        if isinstance(result, AsyncIterator):
            result = self.from_async(result)
        if isinstance(result, str | bytes | dict | list) or not isinstance(result, Iterator):
            self.protocol.send({"id": call_id, "result": result})
            return
        credit = self.credits.setdefault(call_id, threading.Semaphore(WINDOW))
        try:
            for item in result:
                credit.acquire()
                if call_id in self.cancelled:
                    break
                self.protocol.send({"id": call_id, "item": item})
        finally:
            close = getattr(result, "close", None)
            if callable(close):
                close()
        self.protocol.send({"id": call_id, "end": True})

    def from_async(self, items: AsyncIterator[Any]) -> Iterator[Any]:
        while True:
            try:
                yield asyncio.run_coroutine_threadsafe(_awaited(items.__anext__()), self.loop).result()
            except StopAsyncIteration:
                return


def frontmatter(source: str) -> dict[str, str]:
    """The ``key: value`` lines of the module docstring (``title``, ``version``, ``requirements``...)."""
    import ast

    try:
        docstring = ast.get_docstring(ast.parse(source)) or ""
    except (SyntaxError, ValueError):
        return {}
    found = {}
    for line in docstring.splitlines():
        key, colon, value = line.partition(":")
        if colon and key.strip() and " " not in key.strip():
            found[key.strip().lower()] = value.strip()
    return found


def missing_requirements(requirements: str) -> list[str]:
    """The distributions named in a ``requirements`` line that are not installed (never installed here)."""
    import re
    from importlib import metadata

    missing = []
    for requirement in requirements.split(","):
        name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        if name is None:
            continue
        try:
            metadata.version(name.group(1))
        except metadata.PackageNotFoundError:
            missing.append(name.group(1))
    return missing


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _validation_text(error: BaseException) -> str:
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return _one_line(error)
    try:
        items = errors(include_url=False, include_input=False)
    except TypeError:
        return _one_line(error)
    return "; ".join(f"{'.'.join(map(str, item.get('loc', ())))}: {item.get('msg')}" for item in items)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def main() -> None:
    # The protocol gets its own copies of stdin and stdout; descriptor 1 (print) goes to stderr and
    # descriptor 0 (input) reads nothing from now on, so user code cannot disturb the protocol.
    answers = os.fdopen(os.dup(1), "wb")
    requests = os.fdopen(os.dup(0), "rb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.close(nothing)
    sys.stdin = open(os.devnull)  # noqa: SIM115 - replaces stdin for the life of the process
    protocol = Protocol(answers)
    runner = Runner(protocol)
    loaded = False
    for line in requests:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        op = message.get("op")
        if not loaded:
            try:
                protocol.send({"id": 0, "result": runner.load(message)})
                loaded = True
            except Invalid as error:
                protocol.send({"id": 0, "error": str(error), "kind": "invalid"})
            except BaseException as error:  # noqa: BLE001 - a module that fails to load is reported
                traceback.print_exc()
                protocol.send({"id": 0, "error": _one_line(error), "kind": "raised"})
            continue
        if op == "cancel":
            runner.cancelled.add(message.get("target"))
            credit = runner.credits.get(message.get("target"))
            if credit is not None:
                credit.release()  # wake a stream waiting for credit, to see it is cancelled
            continue
        if op == "ack":
            credit = runner.credits.get(message.get("target"))
            if credit is not None:
                credit.release(max(1, int(message.get("count") or 1)))
            continue
        call_id = message.get("id")
        threading.Thread(
            target=runner.call, args=(call_id, op, message.get("args") or {}), daemon=True
        ).start()
    # The host closed our input (it stops us, or it died): leave at once, whatever threads still run.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
