"""File names and content types from untrusted uploads: sanitised before they are stored or echoed."""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from urllib.parse import quote

#: Longest stored file name, in UTF-8 bytes (what most filesystems allow for one name).
MAX_NAME_BYTES = 255
DEFAULT_NAME = "file"
DEFAULT_TYPE = "application/octet-stream"

_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")

#: Types a browser may show in place; everything else is offered as a download.
INLINE_TYPES = {
    "application/pdf",
    "image/avif",
    "image/gif",
    "image/jpeg",
    "image/png",
    "image/webp",
    "text/plain",
}
INLINE_FAMILIES = ("audio/", "video/")


def sanitise_filename(raw: str | None) -> str:
    """The base name of ``raw`` without directories, control or formatting characters.

    ``"../../etc/passwd"`` -> ``"passwd"``; ``"C:\\\\x\\\\a.txt"`` -> ``"a.txt"``; ``"a\\u202egnp.exe"`` (a
    right-to-left override that makes it look like ``aexe.png``) -> ``"agnp.exe"``; ``".."`` -> ``"file"``.
    Names longer than 255 UTF-8 bytes are shortened, keeping the extension.
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Category C: controls (NUL, CR, LF, ...), format characters (bidi overrides, zero-width), surrogates,
    # private use and unassigned code points.
    name = "".join(char for char in name if not unicodedata.category(char).startswith("C"))
    name = name.strip()
    if not name.strip("."):
        return DEFAULT_NAME
    return _shorten(name)


def _shorten(name: str) -> str:
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension.encode()) > 16:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    budget = MAX_NAME_BYTES - len(suffix.encode())
    return stem.encode()[:budget].decode(errors="ignore") + suffix


def resolve_content_type(declared: str | None, filename: str) -> str:
    """The part's declared media type (lower-cased, parameters dropped), or a guess from the name.

    A missing, generic or malformed declaration falls back to the extension, then to
    ``application/octet-stream``; the result is always a plain ``type/subtype`` safe to put in a header.
    """
    media = (declared or "").split(";", 1)[0].strip().lower()
    if not _MEDIA_TYPE.match(media) or media == DEFAULT_TYPE:
        guessed, _ = mimetypes.guess_type(filename, strict=False)
        media = (guessed or DEFAULT_TYPE).lower()
    return media if _MEDIA_TYPE.match(media) else DEFAULT_TYPE


def type_allowed(media: str, allowed: list[str]) -> bool:
    """Whether ``media`` matches ``allowed`` (exact types or ``family/*``); an empty list allows all."""
    if not allowed:
        return True
    family = media.split("/", 1)[0]
    return any(pattern in (media, "*/*", f"{family}/*") for pattern in allowed)


def shows_inline(media: str) -> bool:
    return media in INLINE_TYPES or media.startswith(INLINE_FAMILIES)


def content_disposition(kind: str, filename: str) -> str:
    """``kind; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>`` (RFC 6266, RFC 8187).

    The quoted fallback keeps printable ASCII except ``"``, ``\\`` and ``%`` (which some clients decode),
    each replaced by ``_``; clients that understand ``filename*`` use the exact name.
    """
    fallback = "".join(char if " " <= char <= "~" and char not in '"\\%' else "_" for char in filename)
    encoded = quote(filename, safe="!#$&+-.^_`|~")
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
