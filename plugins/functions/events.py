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


@dataclass
class FunctionFailed(Event):
    """A call of a function raised or ran past its timeout (also logged on ``colonnade.functions``)."""

    name = "functions.failed"
    function_id: str = ""
    #: The method that failed: ``inlet``, ``outlet``, ``stream``, ``request``, ``pipe`` or ``action``.
    method: str = ""
    #: ``ValueError on line 12: text``, or ``timed out after 120 s``.
    error: str = ""
    timed_out: bool = False


ALL_EVENTS = [FunctionEmitted, FunctionChanged, FunctionFailed]
