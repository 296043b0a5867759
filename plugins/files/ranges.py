"""HTTP ``Range`` requests (RFC 9110 section 14) for downloads: one byte range or the whole file."""

from __future__ import annotations


class Unsatisfiable(Exception):
    """The range starts past the end of the file (answered 416 with ``Content-Range: bytes */size``)."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The ``[start, stop)`` a ``Range`` header asks for, or ``None`` to send the whole file.

    Malformed headers, other units and multiple ranges are ignored (the server may always answer 200
    with the full representation); a range that starts at or past ``size`` raises :class:`Unsatisfiable`.
    """
    if not header:
        return None
    unit, equals, spec = header.partition("=")
    if not equals or unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = (part.strip() for part in spec.strip().partition("-"))
    if not dash:
        return None
    if not first:  # a suffix: the last N bytes
        if not last.isdigit():
            return None
        count = int(last)
        if count == 0 or size == 0:
            raise Unsatisfiable()
        return max(0, size - count), size
    if not first.isdigit() or (last and not last.isdigit()):
        return None
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise Unsatisfiable()
    stop = min(int(last) + 1, size) if last else size
    return start, stop
