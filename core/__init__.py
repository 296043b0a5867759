"""Colonnade: an Open WebUI-compatible AI application backend built as a plugin host.

This module is the public API for plugin authors; everything a plugin needs is importable from here::

    from colonnade import hookimpl, Action, Event, Actor, require

Names outside ``__all__`` (and outside the ``Host`` object handed to every hook) are internal.
"""

from __future__ import annotations

from colonnade.actors import Action, Actor
from colonnade.errors import ApiError, StartupError
from colonnade.events import Event
from colonnade.hookspecs import hookimpl, hookspec
from colonnade.host import Host
from colonnade.permissions import current_actor, require

__version__ = "0.1.0"

__all__ = [
    "Action",
    "Actor",
    "ApiError",
    "Event",
    "Host",
    "StartupError",
    "__version__",
    "current_actor",
    "hookimpl",
    "hookspec",
    "require",
]
