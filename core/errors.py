"""Errors, and the handlers that turn every failure into ``{"detail": "..."}`` with a 4xx/5xx status.

No response ever carries a traceback: unexpected exceptions are logged and answered with a 500 whose
detail says only that something failed.
"""

from __future__ import annotations

import logging
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
    """Route every exception through ``handle_exception`` hooks, ending at the JSON default."""
    from quart_schema import RequestSchemaValidationError
    from werkzeug.exceptions import HTTPException

    from colonnade.calling import first_non_none

    @app.errorhandler(ApiError)
    async def api_error(error: ApiError):
        return json_error(error.status, error.detail, error.headers, **error.extra)

    @app.errorhandler(RequestSchemaValidationError)
    async def schema_error(error: RequestSchemaValidationError):
        detail, errors = describe_validation_error(error)
        return json_error(422, detail, errors=errors)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException):
        detail = HTTP_DETAILS.get(error.code or 500) or error.description or error.name
        headers = {}
        if error.code == 405 and getattr(error, "valid_methods", None):
            headers["Allow"] = ", ".join(error.valid_methods)
        return json_error(error.code or 500, detail, headers)

    @app.errorhandler(Exception)
    async def unexpected(error: Exception):
        from quart import request

        response = await first_non_none(
            host.pm.hook.handle_exception(host=host, request=request, exception=error)
        )
        if response is not None:
            return response
        log.exception("unhandled error on %s %s", request.method, request.path, exc_info=error)
        return json_error(500, "Internal server error")


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
}
