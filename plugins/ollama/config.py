"""``[plugins.ollama]``: the Ollama servers this application talks to.

Each ``[[plugins.ollama.upstreams]]`` entry is one server. Without any, the plugin serves empty lists
and every model is unknown: a built-in must not try to reach a server nobody configured.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class OllamaUpstream(BaseModel):
    """One Ollama server (``[[plugins.ollama.upstreams]]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Base URL without ``/api``: ``http://localhost:11434``.
    base_url: str
    #: The name used in error details and logs; defaults to the upstream's position ("0", "1", ...).
    name: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    #: Sent as ``Authorization: Bearer <api_key>`` (Ollama behind a proxy, ollama.com); never returned.
    api_key: SecretStr | None = None
    #: Published model names become ``<prefix_id>.<name>``; the prefix is stripped before forwarding.
    prefix_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[^\s.]+$")
    #: Only these upstream model names are listed and routed (empty: every model the server has).
    model_ids: list[str] = Field(default_factory=list)
    #: Seconds to wait for the server's next byte (a model load can take minutes).
    timeout: float = Field(300.0, gt=0)
    #: Seconds to wait for a TCP connection.
    connect_timeout: float = Field(5.0, gt=0)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class OllamaConfig(BaseModel):
    """``[plugins.ollama]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Off: every ``/ollama`` route answers 503 and no model is published.
    enable: bool = True
    upstreams: list[OllamaUpstream] = Field(default_factory=list)
    #: Seconds the merged model list is reused before the upstreams are asked again (0: always ask).
    models_cache_ttl: float = Field(10.0, ge=0)

    @model_validator(mode="after")
    def _unique_names(self) -> OllamaConfig:
        names = [upstream.name or str(index) for index, upstream in enumerate(self.upstreams)]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"upstream names must be unique: {', '.join(duplicates)}")
        return self
