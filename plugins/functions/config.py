"""``[plugins.functions]``: how long a function may run and the key that encrypts valves at rest."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FunctionsConfig(BaseModel):
    """``[plugins.functions]``."""

    #: Seconds one call of a function may take (loading its module, one ``inlet``/``outlet``/``action``,
    #: or a whole ``pipe`` answer including its stream) before it is abandoned with a 504.
    timeout_seconds: float = Field(120.0, gt=0, le=86400)
    #: A secret that encrypts stored valves (Fernet, from the ``cryptography`` package). Without it
    #: valves are stored as plain JSON. Changing or removing it makes encrypted valves unreadable: they
    #: read as empty and the code defaults apply.
    valves_key: str | None = None
