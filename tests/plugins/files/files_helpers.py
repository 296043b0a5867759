"""Helpers for the files plugin's tests: multipart bodies built by hand (so tests control every byte,
malformed ones included) and a view of one application's files.

A uniquely named module (not ``conftest``) so that ``from files_helpers import ...`` cannot pick up another
folder's module of the same name.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
