"""Errors, and the handlers that turn every failure into ``{"detail": "..."}`` with a 4xx/5xx status.

No response ever carries a traceback: unexpected exceptions are logged and answered with a 500 whose
detail says only that something failed.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quart import Quart

    from colonnade.host import Host

log = logging.getLogger("colonnade")


class StartupError(Exception):
    """The application cannot start; the message says which plugin or key is at fault and the fix."""


class ApiError(Exception):
    """Raise from a view to answer ``{"detail": detail}`` with ``status``.

    :param status: The HTTP status code.
    :param detail: A human-readable message.
    :param headers: Extra response headers (``WWW-Authenticate``, ``Retry-After``).
    :param extra: Extra top-level keys for the body (``errors`` for validation failures).
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}


def not_found(what: str = "Not found") -> ApiError:
    return ApiError(404, what)


def json_error(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any):
    """Build the JSON error response every failure path uses."""
    from quart import jsonify

    response = jsonify({"detail": detail, **extra})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _validation_errors(error: Exception) -> list[dict[str, Any]]:
    """Flatten a pydantic ``ValidationError`` (or anything else) into ``[{"loc", "msg", "type"}]``."""
    inner = getattr(error, "validation_error", error)
    errors = getattr(inner, "errors", None)
    if callable(errors):
        return [
            {"loc": list(item.get("loc", ())), "msg": item.get("msg", ""), "type": item.get("type", "")}
            for item in errors(include_url=False, include_input=False)
        ]
    return [{"loc": [], "msg": str(inner), "type": "value_error"}]


def describe_validation_error(error: Exception) -> tuple[str, list[dict[str, Any]]]:
    """Return a one-line human-readable summary and the field list of a validation error."""
    errors = _validation_errors(error)
    if not errors:
        return "Invalid request", errors
    parts = []
    for item in errors[:5]:
        where = ".".join(str(part) for part in item["loc"])
        parts.append(f"{where}: {item['msg']}" if where else item["msg"])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "Invalid request: " + "; ".join(parts) + more, errors


def install_error_handlers(app: Quart, host: Host) -> None:
    """Route every exception through ``handle_exception`` hooks, ending at the JSON default.

    It also swaps in a request class whose JSON decoding failures say what was wrong with the body,
    because Quart's default answers a bare "Bad request".
    """
    from quart_schema import RequestSchemaValidationError
    from tortoise.exceptions import ValidationError as TortoiseValidationError
    from werkzeug.exceptions import HTTPException

    from colonnade.calling import first_non_none

    app.request_class = type("ColonnadeRequest", (_JSONDetailRequest, app.request_class), {})

    @app.before_request
    async def refuse_nul_in_url() -> None:
        # PostgreSQL's text cannot hold NUL: an id or a query value with one failed there as a 500.
        from quart import request

        if "\x00" in request.path or b"%00" in request.query_string:
            raise ApiError(400, "Invalid request: the URL contains a NUL character (%00)")

    @app.errorhandler(ApiError)
    async def api_error(error: ApiError):
        return json_error(error.status, error.detail, error.headers, **error.extra)

    @app.errorhandler(RequestSchemaValidationError)
    async def schema_error(error: RequestSchemaValidationError):
        from quart import request

        detail, errors = describe_validation_error(error)
        if _expects_json_body(error) and not request.is_json:
            if await request.get_data():  # bounded by MAX_CONTENT_LENGTH, like every body read
                return json_error(415, HTTP_DETAILS[415])
            detail = "Invalid request: send a JSON body (Content-Type: application/json)"
        return json_error(422, detail, errors=errors)

    @app.errorhandler(TortoiseValidationError)
    async def storage_validation_error(error: TortoiseValidationError):
        # A value that does not fit its column (an over-long id in a URL, say) reached the ORM: the
        # request is at fault, not the server. The message is not echoed: it quotes the whole value.
        field = str(error).split(":", 1)[0]
        where = f" ({field})" if field.isidentifier() else ""
        return json_error(400, f"Invalid request: a value does not fit its field{where}")

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException):
        code = error.code or 500
        # A description given to ``abort(404, "Chat not found")`` is kept; werkzeug's own defaults are
        # written for HTML pages and give way to one plain sentence.
        custom = error.description if error.description != type(error).description else None
        detail = custom or HTTP_DETAILS.get(code) or error.name
        headers = {}
        if code == 405 and getattr(error, "valid_methods", None):
            headers["Allow"] = ", ".join(error.valid_methods)
        if code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return json_error(code, detail, headers)

    @app.errorhandler(Exception)
    async def unexpected(error: Exception):
        from quart import request

        try:
            response = await first_non_none(
                host.pm.hook.handle_exception(host=host, request=request, exception=error)
            )
        except Exception:
            # An error handler that fails must not turn the answer into Quart's HTML page.
            log.exception("a handle_exception hook failed while handling %r", error)
            response = None
        if response is not None:
            return response
        if _is_redis_outage(error):
            log.error("Redis is unreachable on %s %s: %s", request.method, request.path, error)
            return json_error(503, "Service unavailable: the shared state store (Redis) is unreachable")
        log.exception("unhandled error on %s %s", request.method, request.path, exc_info=error)
        return json_error(500, HTTP_DETAILS[500])


def _is_redis_outage(error: Exception) -> bool:
    """Whether ``error`` is Redis being unreachable: a 503 (try again) rather than a bug.

    ``redis`` is imported only once one of its errors exists: importing it costs start-up time."""
    if not type(error).__module__.startswith("redis"):
        return False
    from redis.exceptions import ConnectionError, TimeoutError

    return isinstance(error, ConnectionError | TimeoutError)


#: The deepest nesting a JSON body may have. The JSON columns' encoder (orjson) stops at 255 levels and
#: the standard library's decoder near 1,000, each as a 500; stored documents add a few levels of their own.
MAX_JSON_DEPTH = 128


NUL_REFUSED = "a string in the JSON body contains a NUL character (\\u0000), which cannot be stored"
SURROGATE_REFUSED = (
    "a string in the JSON body holds a lone surrogate escape (\\ud800 to \\udfff), which is not text"
)
_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONBodyRefused(ValueError):
    """A JSON body that parses but cannot be stored: an integer beyond 64 bits, a NUL character (which
    PostgreSQL's text and jsonb refuse), a lone surrogate, or too deep a nesting."""


def _parse_bounded_int(text: str) -> int:
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise JSONBodyRefused("an integer in the JSON body is beyond the 64-bit range")
    return value


def check_json_strings(value: Any) -> None:
    """Raise :class:`JSONBodyRefused` when a key or a string in ``value`` holds a NUL character or a lone
    surrogate (the decoder joins the escapes of a pair into one character; one left alone is not Unicode,
    and neither UTF-8 nor the databases can write it)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if type(item) is dict:
            pending.extend(item.keys())
            pending.extend(item.values())
        elif type(item) is list:
            pending.extend(item)
        elif type(item) is str:
            if "\x00" in item:
                raise JSONBodyRefused(NUL_REFUSED)
            if _SURROGATE.search(item):
                raise JSONBodyRefused(SURROGATE_REFUSED)


def check_json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`JSONBodyRefused` when ``value`` nests lists and objects more than ``limit`` deep."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            raise JSONBodyRefused(f"the JSON body is nested more than {limit} levels deep")
        children = item.values() if type(item) is dict else item
        pending.extend((child, depth + 1) for child in children if type(child) in (dict, list))


#: What ``_BoundedJSON`` looks for in a body: the two opening brackets, then the escapes of a NUL and of a
#: surrogate (either case).
_TEXT_MARKS = ("[", "{", "\\u0000", "\\ud", "\\uD")
_BYTE_MARKS = tuple(mark.encode() for mark in _TEXT_MARKS)


class _BoundedJSON:
    """The request's JSON module: the app's JSON provider, refusing what the storage layer cannot hold.

    Integers beyond 64 bits, NUL characters, lone surrogates and documents nested deeper than
    ``MAX_JSON_DEPTH`` would fail deep inside it (orjson and the databases stop at 64 bits, PostgreSQL
    refuses NUL, UTF-8 surrogates, orjson stops at 255 levels) as a 500, possibly after part of a
    request's writes."""

    def __init__(self, provider: Any) -> None:
        self._provider = provider

    def loads(self, data: str | bytes, **kwargs: Any) -> Any:
        try:
            value = self._provider.loads(data, parse_int=_parse_bounded_int, **kwargs)
        except RecursionError:
            raise JSONBodyRefused(f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep") from None
        # Only a body with enough brackets can be too deep, and only one with these escapes can hold a NUL
        # or a surrogate (raw, neither is valid JSON text or UTF-8): most are not walked at all. Counted in
        # the body as it came, bytes or text, without converting (a copy of a large body).
        marks = _BYTE_MARKS if isinstance(data, bytes) else _TEXT_MARKS
        if type(value) in (dict, list) and data.count(marks[0]) + data.count(marks[1]) > MAX_JSON_DEPTH:
            check_json_depth(value)
        if any(escape in data for escape in marks[2:]):
            check_json_strings(value)
        return value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider, name)


def load_storable_json(data: str | bytes) -> Any:
    """``json.loads`` for a body read by hand: it refuses, with :class:`JSONBodyRefused` (a
    ``ValueError``), what the request decoder refuses (see ``_BoundedJSON``)."""
    import json

    return _BoundedJSON(json).loads(data)


class _JSONDetailRequest:
    """Mixed into the app's request class: malformed JSON is a 400 that says so."""

    # Quart sets ``json_module`` to the app's provider on every request; it is wrapped, not replaced.
    _json_provider: Any = None

    @property
    def json_module(self) -> Any:
        from quart import json

        return _BoundedJSON(self._json_provider or json)

    @json_module.setter
    def json_module(self, provider: Any) -> None:
        self._json_provider = provider

    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        try:
            return await super().get_json(force=force, silent=silent, cache=cache)  # type: ignore[misc]
        except UnicodeDecodeError:
            # Quart decodes the body as UTF-8 before parsing, outside its own error handling.
            if silent:
                return None
            raise ApiError(400, "Malformed JSON body: it is not valid UTF-8") from None

    def on_json_loading_failed(self, error: Exception) -> Any:
        if isinstance(error, JSONBodyRefused):
            raise ApiError(422, f"Invalid request: {error}")
        raise ApiError(400, f"Malformed JSON body: {error}")


def _expects_json_body(error: Exception) -> bool:
    """Whether ``error`` is the failure of a ``@validate_request`` that reads a JSON body."""
    from quart import current_app, request
    from quart_schema.validation import (
        QUART_SCHEMA_REQUEST_ATTRIBUTE,
        DataSource,
        QuerystringValidationError,
        RequestHeadersValidationError,
    )

    if isinstance(error, QuerystringValidationError | RequestHeadersValidationError):
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    schema = getattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE, None)
    return schema is not None and schema[1] == DataSource.JSON


# Werkzeug's descriptions are written for HTML pages; API clients get one plain sentence.
HTTP_DETAILS = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
    415: "Unsupported media type: send application/json",
    429: "Too many requests",
    500: "Internal server error",
}
