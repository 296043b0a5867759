"""Events the models plugin emits, so that caches of the runnable model list (completions) and audit
logs can follow workspace model changes."""

from __future__ import annotations

from dataclasses import dataclass

from colonnade.events import Event


@dataclass
class ModelCreated(Event):
    name = "models.created"
    model_id: str = ""


@dataclass
class ModelUpdated(Event):
    name = "models.updated"
    model_id: str = ""
    fields: tuple[str, ...] = ()


@dataclass
class ModelDeleted(Event):
    """``model_id`` is ``"*"`` when an admin deleted every workspace model at once."""

    name = "models.deleted"
    model_id: str = ""


ALL_EVENTS = [ModelCreated, ModelUpdated, ModelDeleted]
