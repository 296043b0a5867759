"""Events the auth plugin emits."""

from __future__ import annotations

from dataclasses import dataclass

from colonnade.events import Event


@dataclass
class UserSignedUp(Event):
    name = "auth.signup"
    user_id: str = ""


@dataclass
class UserSignedIn(Event):
    name = "auth.signin"
    user_id: str = ""


@dataclass
class UserSignedOut(Event):
    name = "auth.signout"
    user_id: str = ""


@dataclass
class UserCreated(Event):
    """An account created by an admin (or a provisioning plugin), not by its owner signing up."""

    name = "auth.user_created"
    user_id: str = ""


@dataclass
class UserUpdated(Event):
    name = "auth.user_updated"
    user_id: str = ""
    fields: tuple[str, ...] = ()


@dataclass
class UserDeleted(Event):
    name = "auth.user_deleted"
    user_id: str = ""


ALL_EVENTS = [UserSignedUp, UserSignedIn, UserSignedOut, UserCreated, UserUpdated, UserDeleted]
