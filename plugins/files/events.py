"""Events the files plugin emits (a RAG plugin indexes uploads on ``files.uploaded``)."""

from __future__ import annotations

from dataclasses import dataclass

from colonnade.events import Event


@dataclass
class FileUploaded(Event):
    name = "files.uploaded"
    file_id: str = ""
    user_id: str = ""
    filename: str = ""
    content_type: str = ""
    size: int = 0


@dataclass
class FileDeleted(Event):
    name = "files.deleted"
    file_id: str = ""
    user_id: str = ""


ALL_EVENTS = [FileUploaded, FileDeleted]
