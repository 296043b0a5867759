"""``[plugins.openai]``: the OpenAI-compatible upstreams this application talks to.

Each ``[[plugins.openai.connections]]`` entry is one upstream (OpenAI itself, a vLLM or llama.cpp
server, OpenRouter, an Azure OpenAI resource...). Without any, the plugin serves an empty model list
and every model is unknown: a built-in must not reach out to a service nobody configured.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class Connection(BaseModel):
    """One upstream (``[[plugins.openai.connections]]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Base URL the OpenAI paths are appended to: ``https://api.openai.com/v1``. For Azure, the
    #: resource endpoint: ``https://<resource>.openai.azure.com``.
    base_url: str
    #: Sent as ``Authorization: Bearer <key>`` (Azure: the ``api-key`` header); never returned or logged.
    api_key: SecretStr | None = None
    #: The name used in error details and logs; defaults to the connection's position ("0", "1", ...).
    name: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    #: Published model ids become ``<prefix_id>.<id>``; the prefix is stripped before forwarding.
    prefix_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[^\s.]+$")
    #: Only these model ids are published and routed, and the upstream's ``/models`` is not asked
    #: (empty: whatever the upstream lists). Azure resources list no deployments, so set it there.
    model_ids: list[str] = Field(default_factory=list)
    #: Tags shown with every model of this connection in Open WebUI's model list.
    tags: list[str] = Field(default_factory=list)
    #: Off: the connection is ignored (kept in the file for later).
    enable: bool = True
    #: Azure OpenAI: requests go to ``<base_url>/openai/deployments/<deployment>/...?api-version=...``
    #: with the key in an ``api-key`` header.
    azure: bool = False
    #: Azure's ``api-version`` query parameter (required when ``azure`` is true).
    api_version: str | None = Field(None, min_length=1, max_length=64)
    #: Azure: model id -> deployment name; a model without an entry is deployed under its own id.
    deployments: dict[str, str] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _azure_needs_a_version(self) -> Connection:
        if self.azure and not self.api_version:
            raise ValueError("api_version is required when azure is true")
        return self


class OpenAIConfig(BaseModel):
    """``[plugins.openai]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Off: every ``/openai`` route answers 503 and no model is published (Open WebUI's ``ENABLE_OPENAI_API``).
    enable: bool = True
    connections: list[Connection] = Field(default_factory=list)
    #: Seconds to wait for a TCP connection to an upstream.
    connect_timeout: float = Field(5.0, gt=0)
    #: Seconds to wait for the upstream's next byte (first token of a long prompt, a slow model).
    read_timeout: float = Field(300.0, gt=0)
    #: Seconds one upstream may take to list its models before the list goes on without it.
    models_timeout: float = Field(10.0, gt=0)
    #: Seconds a fetched model list is reused before the upstream is asked again (0: always ask).
    models_cache_ttl: float = Field(60.0, ge=0)
    #: The connection (its name) the ``openai`` TTS and STT engines send audio to; default: the first
    #: enabled connection, as Open WebUI does.
    audio_connection: str | None = None
    #: The connection (its name) the ``openai`` image engine draws with; default: the first enabled one.
    images_connection: str | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> OpenAIConfig:
        names = [connection.name or str(index) for index, connection in enumerate(self.connections)]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"connection names must be unique: {', '.join(duplicates)}")
        enabled = [name for name, connection in zip(names, self.connections) if connection.enable]
        for key in ("audio_connection", "images_connection"):
            chosen = getattr(self, key)
            if chosen is not None and chosen not in enabled:
                known = ", ".join(enabled) or "none"
                raise ValueError(f"{key}: no enabled connection is named {chosen!r} (enabled: {known})")
        return self
