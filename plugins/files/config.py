"""``[plugins.files]``: which store holds uploads, and what an upload may be."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

MIB = 1024 * 1024


class S3Config(BaseModel):
    """``[plugins.files.s3]``: used when ``store = "s3"``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Any S3-compatible endpoint: "https://s3.eu-west-1.amazonaws.com", "http://minio:9000", ...
    endpoint_url: str | None = None
    bucket: str | None = None
    region: str = "us-east-1"
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    # Prepended to every object key, e.g. "colonnade/" to share a bucket.
    key_prefix: str = Field("", max_length=200, pattern=r"^([A-Za-z0-9_.-]+/)*$")
    # Uploads are sent in parts of this size; S3 refuses parts under 5 MiB (except the last).
    part_size: int = Field(8 * MIB, ge=5 * MIB, le=512 * MIB)
    # Seconds to wait for the store on each request.
    timeout: float = Field(60.0, gt=0)

    @field_validator("endpoint_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value


class FilesConfig(BaseModel):
    """``[plugins.files]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The name of the store new uploads go to: "local", "s3", or one a plugin registers.
    store: str = "local"
    # Directory of the local store. Default: "<server.data_dir>/uploads".
    local_path: Path | None = None
    # Largest upload in bytes; a bigger one is cut off while streaming and answered 413.
    max_size: int = Field(512 * MIB, ge=1)
    # Content types accepted ("image/png", or "image/*" for a family); empty accepts any. Others get 415.
    allowed_content_types: list[str] = Field(default_factory=list)
    # Seconds an upload may stall between two chunks before it is abandoned (408).
    idle_timeout: float = Field(60.0, gt=0)
    s3: S3Config = Field(default_factory=S3Config)

    @field_validator("allowed_content_types")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [item.strip().lower() for item in value if item.strip()]
