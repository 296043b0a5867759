"""Request bodies and query strings of the models plugin (pydantic, validated by quart-schema).

Field names follow Open WebUI's ``ModelForm`` so its clients round-trip: they send the object they read
back to the update route, so unknown top-level keys (``user``, ``write_access``, timestamps) are ignored
rather than refused. ``params`` and ``meta`` keep every extra key, but the keys we know are typed, so a
temperature of ``"hot"`` is a 422 instead of a surprise at completion time.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

#: Open WebUI's rule for model ids (no whitespace, at most 256 characters); control characters too.
MODEL_ID_PATTERN = r"^[^\s\x00-\x1f\x7f]+$"

ModelId = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=MODEL_ID_PATTERN)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
PrincipalId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ModelParams(BaseModel):
    """Inference parameters. ``system`` is the system prompt; any other key is passed on as given."""

    model_config = ConfigDict(extra="allow")

    system: str | None = Field(default=None, max_length=200_000)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    stream_response: bool | None = None
    function_calling: str | None = None


class Tag(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: Name


class ModelMeta(BaseModel):
    """Presentation. Extra keys (``capabilities``, ``knowledge``, ``toolIds``, ...) are kept as given."""

    model_config = ConfigDict(extra="allow")

    description: str | None = Field(default=None, max_length=10_000)
    # Data URIs are common here (Open WebUI stores uploaded avatars inline).
    profile_image_url: str | None = Field(default=None, max_length=5_000_000)
    tags: list[Tag] | None = Field(default=None, max_length=100)


class Principals(BaseModel):
    group_ids: list[PrincipalId] = Field(default_factory=list, max_length=1000)
    user_ids: list[PrincipalId] = Field(default_factory=list, max_length=1000)


class AccessControl(BaseModel):
    """Open WebUI's ``access_control``: ``null`` means public (every user reads), ``{}`` private."""

    read: Principals | None = None
    write: Principals | None = None


class Grant(BaseModel):
    """One entry of Open WebUI 0.12's ``access_grants`` (``id``, ``resource_*``, timestamps ignored)."""

    principal_type: Literal["user", "group"]
    principal_id: PrincipalId
    permission: Literal["read", "write"]


class ModelForm(BaseModel):
    """Create a workspace model. Give ``access_control`` or ``access_grants``; neither means private."""

    model_config = ConfigDict(extra="ignore")

    id: ModelId
    base_model_id: ModelId | None = None
    name: Name
    params: ModelParams = Field(default_factory=ModelParams)
    meta: ModelMeta = Field(default_factory=ModelMeta)
    access_control: AccessControl | None = None
    access_grants: list[Grant] | None = Field(default=None, max_length=1000)
    is_active: bool = True
    # Open WebUI keeps a version history with commit messages; accepted and ignored here.
    commit_message: str | None = Field(default=None, max_length=1000)


class ModelUpdateForm(BaseModel):
    """Change a workspace model: only the fields given change; ``params`` and ``meta`` are replaced."""

    model_config = ConfigDict(extra="ignore")

    id: ModelId | None = None
    base_model_id: ModelId | None = None
    name: Name | None = None
    params: ModelParams | None = None
    meta: ModelMeta | None = None
    access_control: AccessControl | None = None
    access_grants: list[Grant] | None = Field(default=None, max_length=1000)
    is_active: bool | None = None
    commit_message: str | None = Field(default=None, max_length=1000)


class DuplicateForm(BaseModel):
    """Optional id and name for a copy; defaults are ``<id>-copy`` and ``<name> (Copy)``."""

    model_config = ConfigDict(extra="ignore")

    id: ModelId | None = None
    name: Name | None = None


class IdForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: ModelId


class AccessUpdateForm(BaseModel):
    """Open WebUI 0.12's ``POST /model/access/update``."""

    model_config = ConfigDict(extra="ignore")

    id: ModelId
    name: Name | None = None
    access_control: AccessControl | None = None
    access_grants: list[Grant] | None = Field(default=None, max_length=1000)


ORDERABLE = ("name", "created_at", "updated_at")


class SearchQuery(BaseModel):
    """Filters of ``GET /api/models/search`` (and Open WebUI's ``GET /api/v1/models/list``)."""

    query: str | None = Field(default=None, max_length=255)
    id: str | None = Field(default=None, max_length=256)
    name: str | None = Field(default=None, max_length=255)
    tag: str | None = Field(default=None, max_length=255)
    view_option: Literal["created", "shared"] | None = None
    order_by: Literal["name", "created_at", "updated_at"] = "updated_at"
    direction: Literal["asc", "desc"] = "desc"
    page: int = Field(default=1, ge=1, le=100_000)
    limit: int = Field(default=30, ge=1, le=100)


class IdQuery(BaseModel):
    id: ModelId


class ValidateQuery(BaseModel):
    mode: Literal["create", "update"] = "create"


def dump_params(params: ModelParams | None) -> dict[str, Any]:
    """What the client sent, normalised (numbers parsed), without the typed keys it left out."""
    return params.model_dump(exclude_unset=True) if params is not None else {}


def dump_meta(meta: ModelMeta | None) -> dict[str, Any]:
    return meta.model_dump(exclude_unset=True) if meta is not None else {}
