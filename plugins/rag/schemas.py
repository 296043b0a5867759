"""Request bodies of the retrieval and knowledge routes (Open WebUI's field names)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CollectionName = Field(default=None, min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")
ShortId = Field(min_length=1, max_length=36)


class EmbedForm(BaseModel):
    """``POST /api/rag/embed``: a text, or files, into a collection or a knowledge base."""

    text: str | None = Field(default=None, max_length=50_000_000)
    #: Shown as the source's name (texts only).
    name: str | None = Field(default=None, max_length=255)
    file_ids: list[str] | None = Field(default=None, max_length=1000)
    file_id: str | None = Field(default=None, min_length=1, max_length=36)
    collection_name: str | None = CollectionName
    knowledge_id: str | None = Field(default=None, min_length=1, max_length=36)
    #: Re-read files even when their bytes were indexed already.
    force: bool = False

    @model_validator(mode="after")
    def _something(self) -> EmbedForm:
        if self.text is None and not self.file_ids and self.file_id is None:
            raise ValueError("send text, file_id or file_ids")
        if self.text is not None and (self.file_ids or self.file_id):
            raise ValueError("send either text or files, not both")
        return self


class QueryForm(BaseModel):
    """``POST /api/rag/query`` and Open WebUI's ``QueryCollectionsForm`` (``/query/collection``)."""

    model_config = ConfigDict(extra="ignore")

    query: str = Field(min_length=1, max_length=100_000)
    collection_names: list[str] = Field(default_factory=list, max_length=100)
    knowledge_ids: list[str] = Field(default_factory=list, max_length=100)
    file_ids: list[str] = Field(default_factory=list, max_length=100)
    k: int | None = Field(default=None, ge=1, le=1000)
    k_reranker: int | None = Field(default=None, ge=1, le=1000)
    r: float | None = Field(default=None, ge=0.0, le=1.0)
    hybrid: bool | None = None
    hybrid_bm25_weight: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _somewhere(self) -> QueryForm:
        if not (self.collection_names or self.knowledge_ids or self.file_ids):
            raise ValueError("name at least one of collection_names, knowledge_ids, file_ids")
        return self


class QueryDocForm(BaseModel):
    """Open WebUI's ``QueryDocForm`` (``/query/doc``)."""

    model_config = ConfigDict(extra="ignore")

    collection_name: str = Field(min_length=1, max_length=200)
    query: str = Field(min_length=1, max_length=100_000)
    k: int | None = Field(default=None, ge=1, le=1000)
    k_reranker: int | None = Field(default=None, ge=1, le=1000)
    r: float | None = Field(default=None, ge=0.0, le=1.0)
    hybrid: bool | None = None
    hybrid_bm25_weight: float | None = Field(default=None, ge=0.0, le=1.0)


class ProcessTextForm(BaseModel):
    """Open WebUI's ``ProcessTextForm``."""

    name: str = Field(default="", max_length=255)
    content: str = Field(max_length=50_000_000)
    collection_name: str | None = CollectionName


class ProcessFileForm(BaseModel):
    """Open WebUI's ``ProcessFileForm``."""

    model_config = ConfigDict(extra="ignore")

    file_id: str = ShortId
    content: str | None = Field(default=None, max_length=50_000_000)
    collection_name: str | None = CollectionName


class ProcessUrlForm(BaseModel):
    """Open WebUI's ``ProcessUrlForm`` (``/process/web``, ``/process/youtube``, ``/process/url``)."""

    model_config = ConfigDict(extra="ignore")

    url: str = Field(min_length=1, max_length=4096)
    collection_name: str | None = CollectionName

    @field_validator("collection_name", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value  # Open WebUI's chat input sends ""


class ProcessUrlQuery(BaseModel):
    #: ``false``: answer the content without storing it.
    process: bool = True


class BatchFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = ShortId


class ProcessFilesBatchForm(BaseModel):
    files: list[BatchFile] = Field(max_length=1000)
    collection_name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")


class DeleteForm(BaseModel):
    collection_name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")
    file_id: str = ShortId


class KnowledgeForm(BaseModel):
    """Open WebUI's ``KnowledgeForm`` (create and update)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=100_000)
    meta: dict[str, Any] | None = None
    access_grants: list[dict[str, Any]] | None = Field(default=None, max_length=1000)
    access_control: dict[str, Any] | None = None


class KnowledgeUpdateForm(BaseModel):
    """A partial update (the spec's ``PATCH``/``PUT``; Open WebUI sends every field)."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=100_000)
    meta: dict[str, Any] | None = None
    access_grants: list[dict[str, Any]] | None = Field(default=None, max_length=1000)
    access_control: dict[str, Any] | None = None


class AccessForm(BaseModel):
    access_grants: list[dict[str, Any]] = Field(max_length=1000)


class FileIdForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    file_id: str = ShortId
