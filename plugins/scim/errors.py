"""SCIM errors: raised anywhere in the plugin (or by a ``scim_prepare_resource`` hook), answered in
the SCIM error schema (RFC 7644 section 3.12)."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
CONTENT_TYPE = "application/scim+json"


class ScimError(Exception):
    """A 4xx answered as ``{"schemas": [Error], "status": "400", "scimType": ..., "detail": ...}``.

    :param status: The HTTP status (400, 401, 404, 409, 412, ...).
    :param detail: A human-readable message.
    :param scim_type: RFC 7644 ``scimType`` (``invalidFilter``, ``uniqueness``, ``invalidValue``,
        ``mutability``, ``noTarget``, ``invalidPath``, ``invalidSyntax``, ``tooMany``...), or ``None``.
    :param headers: Extra response headers (``WWW-Authenticate``).
    """

    def __init__(
        self, status: int, detail: str, scim_type: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


def invalid_value(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidValue")


def invalid_filter(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidFilter")


def invalid_path(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidPath")


def invalid_syntax(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidSyntax")


def not_found(resource_type: str, resource_id: str) -> ScimError:
    return ScimError(404, f"{resource_type} {resource_id} not found")
