"""Helpers for the scim plugin's tests: send SCIM requests and validate every answer with
``scim2-models``, a SCIM library written independently of this code."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from scim2_models import Context, EnterpriseUser, Error, Group, ListResponse, User

TOKEN = "scim-test-token-0123456789abcdef"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_JSON = "application/scim+json"

MODELS = {"User": User[EnterpriseUser], "Group": Group}


def validate(resource_type: str, payload: dict[str, Any]) -> Any:
    """Parse a resource the server returned with scim2-models (raises on a malformed one)."""
    return MODELS[resource_type].model_validate(payload, scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


def validate_list(resource_type: str, payload: dict[str, Any]) -> Any:
    model = ListResponse[MODELS[resource_type]]
    return model.model_validate(payload, scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


def user_body(user_name: str | None = None, **extra: Any) -> dict[str, Any]:
    user_name = user_name or f"u{uuid.uuid4().hex[:8]}@example.com"
    return {"schemas": [USER_SCHEMA], "userName": user_name, **extra}


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


@dataclass
class Answer:
    status: int
    body: Any
    headers: Any


@dataclass
class ScimEnv:
    """An application with the scim plugin, its test client and the SCIM token's headers."""

    app: Any
    client: Any
    prefix: str = "/scim/v2"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}

    async def call(
        self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
        query: dict[str, Any] | None = None, raw: bytes | None = None, content_type: str = SCIM_JSON,
    ) -> Answer:
        sent = dict(self.headers if headers is None else headers)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            sent["Content-Type"] = content_type
        response = await self.client.open(
            self.prefix + path, method=method, data=data, headers=sent, query_string=query
        )
        text = await response.get_data(as_text=True)
        payload = json.loads(text) if text else None
        if payload is not None:
            assert response.headers["Content-Type"].startswith(SCIM_JSON), response.headers["Content-Type"]
        if response.status_code >= 400 and payload is not None and "schemas" in payload:
            assert payload["schemas"] == [ERROR_SCHEMA]
            assert payload["status"] == str(response.status_code)
            assert isinstance(payload["detail"], str) and payload["detail"]
            Error.model_validate(payload)
        return Answer(response.status_code, payload, response.headers)

    async def create_user(self, user_name: str | None = None, **extra: Any) -> dict[str, Any]:
        answer = await self.call("POST", "/Users", user_body(user_name, **extra))
        assert answer.status == 201, answer.body
        validate("User", answer.body)
        return answer.body

    async def create_group(self, name: str | None = None, members: list[str] = (), **extra: Any) -> dict[str, Any]:
        body = {"schemas": [GROUP_SCHEMA], "displayName": name or f"group-{uuid.uuid4().hex[:6]}",
                "members": [{"value": member} for member in members], **extra}
        answer = await self.call("POST", "/Groups", body)
        assert answer.status == 201, answer.body
        validate("Group", answer.body)
        return answer.body

    async def get(self, kind: str, resource_id: str) -> dict[str, Any]:
        answer = await self.call("GET", f"/{kind}/{resource_id}")
        assert answer.status == 200, answer.body
        validate("User" if kind == "Users" else "Group", answer.body)
        return answer.body

    async def patch(self, kind: str, resource_id: str, *operations: dict[str, Any], status: int = 200) -> Answer:
        answer = await self.call("PATCH", f"/{kind}/{resource_id}", patch_body(*operations))
        assert answer.status == status, answer.body
        if status == 200:
            validate("User" if kind == "Users" else "Group", answer.body)
        return answer

    async def list(self, kind: str, status: int = 200, **query: Any) -> Answer:
        answer = await self.call("GET", f"/{kind}", query=query)
        assert answer.status == status, answer.body
        if status == 200:
            validate_list("User" if kind == "Users" else "Group", answer.body)
        return answer

    async def ids(self, kind: str, **query: Any) -> list[str]:
        answer = await self.list(kind, **query)
        return [resource["id"] for resource in answer.body["Resources"]]
