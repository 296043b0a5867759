"""Events the functions plugin emits (a realtime plugin can relay them to the chat's open views)."""

from __future__ import annotations

from dataclasses import dataclass, field

from colonnade.events import Event


@dataclass
class FunctionEmitted(Event):
    """A function called ``__event_emitter__`` (status, message, citation, notification...)."""

    name = "functions.emitted"
    function_id: str = ""
    chat_id: str = ""
    message_id: str = ""
    type: str = ""
    data: dict = field(default_factory=dict)


@dataclass
class FunctionChanged(Event):
    """A function was created, changed, toggled or deleted (``change`` says which)."""

    name = "functions.changed"
    function_id: str = ""
    change: str = ""


ALL_EVENTS = [FunctionEmitted, FunctionChanged]
