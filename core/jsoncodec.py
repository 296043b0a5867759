"""JSON for the per-chunk work of streams: orjson where it gives the standard library's answer.

A relayed completion decodes and encodes a few hundred small documents per request; orjson does each in
a fraction of the time. Where orjson is stricter than the standard library (a lone surrogate escape such
as ``"\\ud83d"``, which a model splitting an emoji across tokens may send, or ``NaN``), :func:`loads`
takes the standard path, so a stream is never judged malformed here that ``json`` would accept. Integers
beyond 64 bits come back from orjson as floats; no completion chunk carries one.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(data: bytes | str) -> Any:
    """``json.loads``, faster."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dumps(value: Any) -> bytes:
    """Compact JSON (``separators=(",", ":")``, non-ASCII as UTF-8), as bytes."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: a value only the standard library writes
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
