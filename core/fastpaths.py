"""Costs of the stack that colonnade's own use does not need, found by ``bench/``.

**Plain JSON responses.** quart-schema wraps ``app.make_response`` so that every value a view returns goes
through its ``model_dump``; for a plain ``dict`` or ``list`` that builds a new ``pydantic.TypeAdapter``
on every request, which cost ``/health`` about a quarter of its throughput against a bare Quart app
(docs/benchmarks.md). A value made only of ``dict`` (string keys), ``list``, ``str``, ``int``,
``float``, ``bool`` and ``None`` comes out of that conversion unchanged, so a ``dict`` or ``list`` view
result is written by orjson at once, which refuses anything else (and then the value takes the
checked path); other plain values and finished responses (``jsonify``'s) go straight to Quart's own
``make_response``. Everything else (pydantic models, dataclasses, TypedDicts, dates, subclasses of the
JSON types such as ``str`` enums, response headers, which quart-schema kebab-cases) still takes
quart-schema's path, as do all values when the application asks for camelCase conversion or pydantic
dump options, which can change even a plain value.

**URL builders.** Werkzeug compiles two ``url_for`` builder functions (Python source, ``compile()``) for
every route when it is registered: about 5% of the start-up CPU with the built-in plugins' few hundred
routes, for builders that colonnade calls for a handful of routes at most. :class:`LazyBuildRule`
compiles each one the first time it is used.

**Request validation.** quart-schema validates each request body and query string with
``TypeAdapter(model_class)``, built anew for every request (about a tenth of a millisecond each, more on a
busy machine) though it depends on the class alone. :func:`install_type_adapter_cache` gives quart-schema
one adapter per type, made on first use.

**JSON encoding.** The standard library's encoder, with Flask's sorted keys, spent about 200 µs on a
list of 50 chats; orjson writes the same document in a tenth of that. :func:`install_orjson` makes it
the encoder of every JSON response, producing what Quart's provider would (compact, dates, models and
anything else through the same ``default`` chain), except that keys keep their order instead of being
sorted. Whatever orjson refuses (an integer beyond 64 bits, say) takes the standard path.

**Turns of the event loop before a view runs.** hypercorn already runs each request in a task of its
own. Quart's HTTP connection then starts two more, one reading the body and one handling the request,
waits for the first to finish with ``asyncio.wait`` and cancels the other; and ``request.get_data()``
waits for the body through ``asyncio.wait_for``, which starts one more task, even when the body is all
there. Each task starts only on a later turn of the event loop, behind every task ready by then: at 16
concurrent streams a turn relays a batch for each of them. Counted on the ``/openai`` relay, Quart's way
took four turns between hypercorn calling the application and the upstream request leaving; with
:class:`InlineHTTPConnection` and :class:`CompleteBodyRequest` it takes none, as in a bare ASGI relay:

- the request is handled in the task hypercorn called the application in;
- the request's first message, which hypercorn has queued before calling the application, is read
  there too, and a body whose ``Content-Length`` bytes are all in is complete at once;
- ``get_data()`` returns a complete body without a task; one still arriving is waited for as before,
  ``BODY_TIMEOUT`` included;
- the rest of the body, and the client's disconnect, still come through a reading task, which cancels
  the view when the client goes, as Quart's ``asyncio.wait`` did.
"""

from __future__ import annotations

import asyncio
from typing import Any

from quart.asgi import ASGIHTTPConnection
from quart.routing import QuartRule
from quart.wrappers.request import Body, Request
from werkzeug.routing import Rule
from werkzeug.sansio.response import Response as BaseResponse

# Exact types only: a subclass (a ``str`` enum, an ``OrderedDict``) may dump differently.
_SCALARS = frozenset({str, int, float, bool, type(None)})
# Deeper than this is not worth checking on the hot path; quart-schema converts it as before.
_MAX_DEPTH = 32


def install_fast_paths(app: Any) -> None:
    """Install the fast paths; call after ``QuartSchema(app)`` and before any route is registered."""
    app.url_rule_class = LazyBuildRule
    app.asgi_http_class = InlineHTTPConnection
    if issubclass(app.request_class, Request) and not issubclass(app.request_class, CompleteBodyRequest):
        app.request_class = type(app.request_class.__name__, (CompleteBodyRequest, app.request_class), {})
    install_json_fast_path(app)
    install_orjson(app)
    install_type_adapter_cache()


class InlineHTTPConnection(ASGIHTTPConnection):
    """Quart's HTTP connection, handling the request in the task the server called it in (see the module
    docstring). What a view sees is unchanged: its body (the first message read here, the rest by a
    reading task), and a disconnect cancels the view (and whatever it awaits, such as an upstream
    request) as before."""

    async def __call__(self, receive: Any, send: Any) -> None:
        request = self._create_request_from_scope(send)
        if not await self._take_first_message(request, receive):
            return  # the client went away before the request was handled
        handler: asyncio.Task[Any] = asyncio.current_task()  # type: ignore[assignment]
        reader = asyncio.ensure_future(self.handle_messages(request, receive))
        handling = True
        cancelled_by_reader = False

        def reader_done(_: asyncio.Future[None]) -> None:
            # The client went away (or reading failed) while the request is handled: stop the handler.
            nonlocal cancelled_by_reader
            if handling:
                cancelled_by_reader = True
                handler.cancel()

        reader.add_done_callback(reader_done)
        try:
            await self.handle_request(request, send)
        except asyncio.CancelledError:
            # Ours to absorb only if nobody else (the server shutting down) cancelled the task too.
            if not cancelled_by_reader or handler.uncancel() > 0:
                raise
        else:
            if cancelled_by_reader:  # a view that caught the cancellation and went on
                handler.uncancel()
        finally:
            handling = False
            if not reader.done():
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
        if not reader.cancelled() and reader.exception() is not None:
            raise reader.exception()  # type: ignore[misc]

    async def _take_first_message(self, request: Any, receive: Any) -> bool:
        """Read the request's first message here; ``False`` if it says the client disconnected.

        hypercorn queues what came with the request's head (a small body, or the end of an empty one)
        before it calls the application, so this does not wait; a body that is all here (``Content-
        Length`` bytes) is complete at once, before the view asks for it. A body that has not started
        to arrive is waited for at most ``BODY_TIMEOUT``, and is then the reading task's, as in Quart.
        """
        try:
            async with asyncio.timeout(request.body_timeout):
                message = await receive()
        except TimeoutError:
            return True
        if message["type"] == "http.disconnect":
            return False
        data = message.get("body", b"")
        request.body.append(data)
        expected = request.content_length
        if not message.get("more_body", False) or (expected is not None and len(data) >= expected):
            request.body.set_complete()
        return True


class TrackedBody(Body):
    """Quart's request body, which says when it is complete (``completed``)."""

    completed = False

    def set_complete(self) -> None:
        self.completed = True
        super().set_complete()


class CompleteBodyRequest(Request):
    """Quart's request whose ``get_data`` returns a body that is already complete at once.

    Quart's waits for the body with ``asyncio.wait_for(body, timeout)``, which starts a task for it:
    two turns of the event loop even when every byte is there. The timeout only matters for a body
    still arriving, which takes Quart's path as before."""

    body_class = TrackedBody

    async def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False) -> Any:
        body = self.body
        if parse_form_data or not getattr(body, "completed", False):
            return await super().get_data(cache, as_text, parse_form_data)
        raw_data = await body  # complete: no wait (or the error it holds, such as a body too large)
        if not cache:
            body.clear()
        return raw_data.decode() if as_text else raw_data


class LazyBuildRule(QuartRule):
    """A route whose URL builders are compiled on their first use instead of at registration."""

    def _compile_builder(self, append_unknown: bool = True) -> Any:
        attribute = "_build_unknown" if append_unknown else "_build"

        def build_on_first_use(rule: Rule, **values: Any) -> Any:
            compiled = Rule._compile_builder(rule, append_unknown).__get__(rule, None)
            setattr(rule, attribute, compiled)
            return compiled(**values)

        return build_on_first_use


def install_json_fast_path(app: Any) -> None:
    """Let plain JSON values bypass quart-schema's conversion; call after ``QuartSchema(app)``."""
    import orjson

    converting = app.make_response
    plain = getattr(converting, "__wrapped__", None)  # quart-schema wraps with functools.wraps
    if plain is None:
        return
    config = app.config
    # Anything but JSON's own types (dataclasses, dates, subclasses of str, dict and so on) reaches
    # _refuse, and the value takes the checked path below.
    options = (
        orjson.OPT_PASSTHROUGH_DATACLASS
        | orjson.OPT_PASSTHROUGH_DATETIME
        | orjson.OPT_PASSTHROUGH_SUBCLASS
        | orjson.OPT_APPEND_NEWLINE
    )

    async def make_response(result: Any) -> Any:
        if config.get("QUART_SCHEMA_CONVERT_CASING") or config.get("QUART_SCHEMA_PYDANTIC_DUMP_OPTIONS"):
            return await converting(result)
        value, status = result, 200
        if type(result) is tuple and len(result) == 2 and type(result[1]) is int:
            value, status = result
        if (type(value) is dict or type(value) is list) and app.json.compact is not False and not app.debug:
            try:
                body = orjson.dumps(value, default=_refuse, option=options)
            except TypeError:
                pass
            else:
                return app.response_class(body, status=status, mimetype=app.json.mimetype)
        if _is_plain_result(result):
            return await plain(result)
        return await converting(result)

    make_response.__wrapped__ = converting  # type: ignore[attr-defined]
    app.make_response = make_response


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not plain JSON")


def _is_plain_result(result: Any) -> bool:
    """A view's return value (maybe ``(value, status)``) that quart-schema would pass through unchanged."""
    if type(result) is tuple:
        if len(result) != 2 or type(result[1]) is not int:
            return False  # headers are converted (kebab-cased) by quart-schema
        result = result[0]
    kind = type(result)
    if kind is not dict and kind is not list:
        # Strings, bytes, None and finished responses (``jsonify``): quart-schema returns them as they are.
        return kind in _SCALARS or kind is bytes or isinstance(result, BaseResponse)
    return is_plain_json(result)


def is_plain_json(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is built only of JSON's own Python types (exact types, string keys)."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if depth >= _MAX_DEPTH:
        return False
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            if type(item) not in _SCALARS and not is_plain_json(item, depth + 1):
                return False
        return True
    if kind is list:
        for item in value:
            if type(item) not in _SCALARS and not is_plain_json(item, depth + 1):
                return False
        return True
    return False


def install_orjson(app: Any) -> None:
    """Encode JSON responses with orjson (see the module docstring); call after ``QuartSchema(app)``,
    whose provider (pydantic-aware ``default``) this one extends."""
    import orjson

    options = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
    provider = type(app.json)

    class OrjsonProvider(provider):  # type: ignore[misc, valid-type]
        sort_keys = False

        def _encode(self, obj: Any, newline: bool = False) -> bytes | None:
            if (self.compact is None and self._app.debug) or self.compact is False:
                return None  # indented output: the standard path
            try:
                return orjson.dumps(
                    obj, default=self.default, option=options | (orjson.OPT_APPEND_NEWLINE * newline)
                )
            except TypeError:  # orjson.JSONEncodeError is one: a value orjson cannot write
                return None

        def dumps(self, obj: Any, **kwargs: Any) -> str:
            if kwargs.keys() <= {"separators"}:
                encoded = self._encode(obj)
                if encoded is not None:
                    return encoded.decode()
            return super().dumps(obj, **kwargs)

        def response(self, *args: Any, **kwargs: Any) -> Any:
            encoded = self._encode(self._prepare_response_obj(args, kwargs), newline=True)
            if encoded is None:
                return super().response(*args, **kwargs)
            return self._app.response_class(encoded, mimetype=self.mimetype)

    app.json = OrjsonProvider(app)


_ADAPTERS: dict[Any, Any] = {}


def install_type_adapter_cache() -> None:
    """Make quart-schema reuse one ``pydantic.TypeAdapter`` per type (see the module docstring).

    A ``TypeAdapter`` holds no state beyond its type and is safe to share, so every use gets the answer a
    fresh one would give. Unhashable types get a fresh adapter as before.
    """
    from quart_schema import conversion

    make = getattr(conversion.TypeAdapter, "__wrapped__", conversion.TypeAdapter)

    def adapter(type_: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return make(type_, *args, **kwargs)
        try:
            cached = _ADAPTERS.get(type_)
        except TypeError:  # unhashable
            return make(type_)
        if cached is None:
            cached = _ADAPTERS[type_] = make(type_)
        return cached

    adapter.__wrapped__ = make  # type: ignore[attr-defined]
    conversion.TypeAdapter = adapter
