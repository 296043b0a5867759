"""Colonnade: an Open WebUI-compatible AI application backend built as a plugin host.

This module is the public API for plugin authors; everything a plugin needs is importable from here::

    from colonnade import hookimpl, Action, Event, Actor, require, collect_named

Names outside ``__all__`` (and outside the ``Host`` object handed to every hook) are internal.
"""

from __future__ import annotations

from colonnade.actors import Action, Actor
from colonnade.calling import await_me_maybe, call_all, collect_named, compose_stream_wrappers, first_non_none
from colonnade.errors import ApiError, StartupError
from colonnade.events import Event
from colonnade.hookspecs import hookimpl, hookspec
from colonnade.host import Host
from colonnade.permissions import current_actor, require
from colonnade.registry import NamedRegistry

__version__ = "0.1.0"

__all__ = [
    "Action",
    "Actor",
    "ApiError",
    "Event",
    "Host",
    "NamedRegistry",
    "StartupError",
    "__version__",
    "await_me_maybe",
    "call_all",
    "collect_named",
    "compose_stream_wrappers",
    "current_actor",
    "first_non_none",
    "hookimpl",
    "hookspec",
    "require",
]
