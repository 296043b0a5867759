"""The ``FileStore`` protocol: where uploaded bytes live, behind one small async interface.

Third-party stores import this module (it is part of the files plugin's public surface) and register
instances through the ``register_file_stores`` hook. The built-in ones are ``local`` (a directory) and
``s3`` (any S3-compatible endpoint).

Every method is keyed by a store key the files plugin generates (``[A-Za-z0-9_-]`` segments joined by
``/``); a store never sees a user-supplied name.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*$")


class StoreError(Exception):
    """The store could not do what was asked (unreachable, refused, out of space).

    The files plugin answers it with a 502 naming the store; the message is logged, not sent.
    """


def check_key(key: str) -> str:
    """Return ``key`` if it is a well-formed store key; raise ``ValueError`` otherwise.

    Stores call it as defence in depth: keys are generated, so a bad one is a bug, never user input.
    """
    if len(key) > 512 or not KEY_PATTERN.match(key):
        raise ValueError(f"invalid store key {key!r}")
    return key


@runtime_checkable
class FileStore(Protocol):
    """A place to keep uploaded bytes.

    ``name`` is the value operators put in ``[plugins.files] store``. Optional methods the plugin
    calls when present: ``async start()`` (once, at start-up, when the store is the selected one: check
    configuration, create directories) and ``async close()`` (at shutdown).
    """

    name: str

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, content_type: str) -> int:
        """Consume ``chunks`` and keep them under ``key``; return the number of bytes stored.

        Atomic: the bytes become visible under ``key`` only once every chunk has been written. If
        ``chunks`` raises (a client that went away, a size limit) or the store fails, nothing is left
        under ``key`` and no partial data is kept anywhere; the exception propagates unchanged.
        Memory use must not grow with the size of the upload.
        """
        ...

    def open(self, key: str, start: int = 0, stop: int | None = None) -> AsyncIterator[bytes]:
        """Return the bytes ``[start, stop)`` of ``key`` (``stop=None``: to the end) as chunks.

        Usually an async generator (``async def open(...): ... yield chunk``), so nothing is read until
        the response is sent and an early ``aclose()`` (the client went away) releases what it holds.
        Called after :meth:`size` found the key, so a missing key here is a race with a delete and may
        simply end the stream early.
        """
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key``. Deleting a missing key is not an error."""
        ...

    async def size(self, key: str) -> int | None:
        """The size of ``key`` in bytes, or ``None`` when nothing is stored under it."""
        ...
