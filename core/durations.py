"""Durations written as ``4w``, ``12h``, ``1h30m``: the syntax Open WebUI's ``JWT_EXPIRES_IN`` uses."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TERM = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str) -> float:
    """Return the number of seconds ``text`` stands for; ``ValueError`` when it is not a duration."""
    text = text.strip()
    position, total = 0, 0.0
    for match in _TERM.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if not text or position != len(text) or total <= 0:
        raise ValueError(f"{text!r} is not a duration such as 30m, 12h or 4w")
    return total
