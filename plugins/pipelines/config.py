"""``[plugins.pipelines]``: how hosted pipelines run, and the remote Pipelines servers to connect.

Hosted pipelines run in worker processes (one per active pipeline); ``timeout_seconds`` bounds every
call into one. Each ``[[plugins.pipelines.servers]]`` entry is an Open WebUI Pipelines server reached
with its key; without any, only hosted pipelines exist.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class Server(BaseModel):
    """One remote Pipelines server (``[[plugins.pipelines.servers]]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Base URL of the server, for example ``http://pipelines:9099``.
    url: str
    #: Its ``PIPELINES_API_KEY``, sent as ``Authorization: Bearer <key>``; never returned or logged.
    key: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class PipelinesConfig(BaseModel):
    """``[plugins.pipelines]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Seconds one call into a hosted pipeline may take (a whole answer, the first streamed piece, or
    #: the wait between two pieces); past it the worker process is killed and restarted, and the
    #: caller gets a 504.
    timeout_seconds: float = Field(60.0, gt=0, le=3600)
    #: Seconds a worker process may take to start: import the module, build ``Pipeline`` and run its
    #: ``on_startup``.
    start_timeout_seconds: float = Field(30.0, gt=0, le=600)
    #: Seconds ``on_shutdown`` may take when a pipeline is deactivated or the host stops.
    stop_timeout_seconds: float = Field(5.0, gt=0, le=300)
    #: Largest pipeline source accepted, in bytes.
    max_source_bytes: int = Field(1_000_000, gt=0)
    #: Remote Open WebUI Pipelines servers; their ``urlIdx`` is their position here.
    servers: list[Server] = Field(default_factory=list)
    #: Seconds to wait for a TCP connection to a server.
    connect_timeout: float = Field(5.0, gt=0)
    #: Seconds to wait for a server's next byte.
    read_timeout: float = Field(300.0, gt=0)
    #: Seconds a server's model list (pipes and filters) is reused before it is asked again.
    models_cache_ttl: float = Field(10.0, ge=0)
    #: Seconds between checks of the stored pipelines, so that a change made through another
    #: worker process of the host is picked up here.
    sync_interval: float = Field(2.0, ge=0)
