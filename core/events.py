"""Events: dataclasses that plugins declare with ``register_events`` and emit with ``host.emit``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar

from colonnade.actors import Actor


@dataclass
class Event:
    """Base class of every event.

    Subclasses set the class attribute ``name`` (``"<plugin>.<what happened>"``) and add fields.

    :param actor: Who caused the event, when anyone did.
    :param created: Unix time in seconds.
    """

    name: ClassVar[str] = "event"
    actor: Actor | None = None
    created: float = field(default_factory=time.time)
