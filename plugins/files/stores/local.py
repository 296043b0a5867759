"""``local``: uploaded bytes in a directory on this host (the default store).

Writes go to ``<root>/.tmp/<random>.part`` and are renamed into place (``os.replace``, atomic on one
filesystem) only after the last chunk is written and flushed to disk, so a crash or a failed upload never
leaves a partial file under a real key. Leftover ``.part`` files from a crash are swept at start-up once
they are a day old (younger ones may belong to another worker's upload in progress).

File I/O runs in worker threads: the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from colonnade.plugins.files.stores import StoreError, check_key

#: Bytes gathered before one write: fewer thread hand-offs than one per network chunk, bounded memory.
WRITE_SIZE = 1024 * 1024
READ_SIZE = 256 * 1024
STALE_TEMP_SECONDS = 24 * 3600


class LocalStore:
    """Files under ``root``, one file per key.

    :param root: The directory; created at start-up.
    """

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.temp_dir = self.root / ".tmp"

    def path_of(self, key: str) -> Path:
        return self.root / check_key(key)

    async def start(self) -> None:
        await asyncio.to_thread(self._prepare)

    def _prepare(self) -> None:
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        cutoff = time.time() - STALE_TEMP_SECONDS
        for leftover in self.temp_dir.glob("*.part"):
            try:
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
            except FileNotFoundError:
                pass

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, content_type: str) -> int:
        final = self.path_of(key)
        temp = self.temp_dir / f"{uuid.uuid4().hex}.part"
        handle = await _io(self._open_temp, temp)
        written = 0
        try:
            buffer = bytearray()
            async for chunk in chunks:
                buffer += chunk
                if len(buffer) >= WRITE_SIZE:
                    data, buffer = buffer, bytearray()
                    await _io(handle.write, data)
                    written += len(data)
            if buffer:
                await _io(handle.write, buffer)
                written += len(buffer)
            await _io(_flush_and_close, handle)
            await _io(_move_into_place, temp, final)
        except BaseException:
            # Synchronous on purpose: this also runs when the task is being cancelled, where awaiting
            # would be cut short. Closing and unlinking one file does not block for long.
            handle.close()
            temp.unlink(missing_ok=True)
            raise
        return written

    def _open_temp(self, temp: Path):
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        return open(temp, "xb")

    async def open(self, key: str, start: int = 0, stop: int | None = None) -> AsyncIterator[bytes]:
        path = self.path_of(key)
        try:
            handle = await asyncio.to_thread(open, path, "rb")
        except FileNotFoundError:
            return
        except OSError as error:
            raise StoreError(f"local store: {error.strerror or error}") from error
        try:
            await _io(handle.seek, start)
            position = start
            while stop is None or position < stop:
                size = READ_SIZE if stop is None else min(READ_SIZE, stop - position)
                data = await _io(handle.read, size)
                if not data:
                    return
                position += len(data)
                yield data
        finally:
            handle.close()

    async def delete(self, key: str) -> None:
        await _io(self.path_of(key).unlink, missing_ok=True)

    async def size(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(os.stat, self.path_of(key))).st_size
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"local store: {error.strerror or error}") from error


async def _io(function, *args, **kwargs):
    """Run blocking file I/O in a thread; an ``OSError`` becomes a ``StoreError``."""
    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except OSError as error:
        raise StoreError(f"local store: {error.strerror or error}") from error


def _flush_and_close(handle) -> None:
    handle.flush()
    # Durable before it becomes visible: after a power cut the renamed file must not be empty.
    os.fsync(handle.fileno())
    handle.close()


def _move_into_place(temp: Path, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, final)
