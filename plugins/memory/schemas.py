"""Request bodies of the memory routes (Open WebUI's field names)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MemoryType = Literal["user", "context"]


def _not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must not be empty")
    return value


class AddMemoryForm(BaseModel):
    """``POST /api/memory`` and Open WebUI's ``POST /api/v1/memories/add``."""

    model_config = ConfigDict(extra="ignore")

    content: str = Field(min_length=1)
    type: MemoryType = "context"
    path: str | None = Field(default=None, max_length=1024)
    meta: dict[str, Any] | None = None

    _content = field_validator("content")(_not_blank)


class UpdateMemoryForm(BaseModel):
    """``POST /api/memory/:id`` and Open WebUI's ``POST /api/v1/memories/{id}/update``: at least one
    field (checked by the view, which answers Open WebUI's 400)."""

    model_config = ConfigDict(extra="ignore")

    content: str | None = Field(default=None, min_length=1)
    type: MemoryType | None = None
    path: str | None = Field(default=None, max_length=1024)
    meta: dict[str, Any] | None = None

    _content = field_validator("content")(_not_blank)


class QueryMemoryForm(BaseModel):
    """``POST /api/memory/query`` and Open WebUI's ``POST /api/v1/memories/query``."""

    model_config = ConfigDict(extra="ignore")

    content: str = Field(min_length=1, max_length=100_000)
    k: int = Field(default=1, ge=1, le=1000)

    _content = field_validator("content")(_not_blank)


class SearchMemoryForm(BaseModel):
    """Open WebUI's ``POST /api/v1/memories/search``: a text search over the caller's memories."""

    model_config = ConfigDict(extra="ignore")

    query: str | None = Field(default=None, max_length=10_000)
    type: Literal["user", "context", "all"] = "all"
    path: str | None = Field(default=None, max_length=1024)
    memory_id: str | None = Field(default=None, max_length=36)
    limit: int = Field(default=20, ge=1, le=1000)


class MemoryOperation(BaseModel):
    """One change of Open WebUI's batched ``POST /api/v1/memories/update``.

    ``add`` needs ``content``; ``replace`` an ``id`` and ``content`` (and may change ``type`` and
    ``path``); ``remove`` an ``id``; ``move`` an ``id`` and a ``path`` (``null``: no path).
    """

    model_config = ConfigDict(extra="ignore")

    action: Literal["add", "replace", "remove", "move"]
    id: str | None = Field(default=None, min_length=1, max_length=36)
    content: str | None = Field(default=None, min_length=1)
    type: MemoryType | None = None
    path: str | None = Field(default=None, max_length=1024)

    _content = field_validator("content")(_not_blank)

    @model_validator(mode="after")
    def _complete(self) -> MemoryOperation:
        if self.action != "add" and self.id is None:
            raise ValueError(f"{self.action} needs the id of a memory")
        if self.action in ("add", "replace") and self.content is None:
            raise ValueError(f"{self.action} needs content")
        if self.action == "move" and "path" not in self.model_fields_set:
            raise ValueError("move needs a path (null for none)")
        return self


class MemoryOperationsForm(BaseModel):
    """Open WebUI's ``POST /api/v1/memories/update``: several changes, applied together."""

    model_config = ConfigDict(extra="ignore")

    operations: list[MemoryOperation] = Field(min_length=1, max_length=100)
    #: Who asks: a model's memory tool, or a background review of the conversation.
    source: Literal["tool", "background_review"] | None = None


class PathsForm(BaseModel):
    """Open WebUI's ``POST /api/v1/memories/paths``: the caller's paths, with how many memories each."""

    model_config = ConfigDict(extra="ignore")

    query: str | None = Field(default=None, max_length=1024)
    type: Literal["user", "context", "all"] = "all"
    limit: int = Field(default=100, ge=1, le=1000)


class PathForm(BaseModel):
    """Open WebUI's ``POST /api/v1/memories/path``: the memories under one path."""

    model_config = ConfigDict(extra="ignore")

    path: str = Field(min_length=1, max_length=1024)
    type: Literal["user", "context", "all"] = "all"
    include_children: bool = True
    limit: int = Field(default=50, ge=1, le=1000)
