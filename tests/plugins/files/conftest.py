"""Fixtures for the files plugin's tests: an app with ``files`` loaded and multipart bodies built by hand
(so tests control every byte, malformed ones included)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

BOUNDARY = "colonnade-test-boundary-7f3a"


def multipart_body(parts: list[tuple[str, str | None, str | None, bytes]], boundary: str = BOUNDARY) -> bytes:
    """``parts`` are ``(name, filename or None, content type or None, data)``."""
    out = bytearray()
    for name, filename, content_type, data in parts:
        out += f"--{boundary}\r\n".encode()
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"Content-Disposition: {disposition}\r\n".encode()
        if content_type:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def multipart_headers(headers: Mapping[str, str], boundary: str = BOUNDARY) -> dict[str, str]:
    return {**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}


class Files:
    """Helpers bound to one application."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.client = app.test_client()
        self.host = app.extensions["colonnade"]

    @property
    def service(self) -> Any:
        return self.host.state("files").service

    @property
    def uploads_dir(self) -> Path:
        return self.service.stores["local"].root

    def stored_files(self) -> list[Path]:
        """Every file under the local store's directory, temporary ones included."""
        root = self.uploads_dir
        return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []

    async def upload(
        self,
        headers: Mapping[str, str],
        data: bytes = b"hello world",
        *,
        filename: str | None = "hello.txt",
        content_type: str | None = "text/plain",
        metadata: bytes | None = None,
        path: str = "/api/files",
    ) -> Any:
        parts: list[tuple[str, str | None, str | None, bytes]] = []
        if metadata is not None:
            parts.append(("metadata", None, None, metadata))
        parts.append(("file", filename, content_type, data))
        return await self.client.post(path, data=multipart_body(parts), headers=multipart_headers(headers))

    async def record_count(self) -> int:
        from colonnade.plugins.files.models import File

        return await File.all().count()


@pytest_asyncio.fixture
async def files_app(make_app: Any):
    """``await files_app(config={...}, plugins=[...])`` -> :class:`Files` for an app with ``files`` loaded."""

    async def factory(files_config: Mapping[str, Any] | None = None, *, plugins: list[Any] = ()) -> Files:
        config = {"plugins": {"files": dict(files_config or {})}}
        return Files(await make_app(config=config, load_plugins=["files"], plugins=plugins))

    return factory


@pytest.fixture
def random_name() -> str:
    return uuid.uuid4().hex
