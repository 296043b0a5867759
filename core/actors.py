"""Who is calling (``Actor``) and what they may be allowed to do (``Action``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["admin", "user", "pending"]

#: Roles in increasing order of privilege; an action's ``default_role`` is the least role it allows.
ROLE_ORDER: dict[str, int] = {"pending": 0, "user": 1, "admin": 2}


@dataclass(frozen=True)
class Actor:
    """The authenticated caller of a request.

    :param id: The user id.
    :param role: ``admin``, ``user`` or ``pending``; read from storage on every request, never from a token.
    :param email: The user's email address.
    :param name: The user's display name.
    :param credential: How the caller authenticated: ``session`` (a JWT) or ``api_key``, or whatever a
        third-party ``actor_from_request`` implementation names.
    :param extra: Anything else an ``actor_from_request`` implementation wants to carry (token id, groups).
    """

    id: str
    role: str
    email: str = ""
    name: str = ""
    credential: str = "session"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def has_role(self, least: str) -> bool:
        """Whether this actor's role is ``least`` or above it."""
        return ROLE_ORDER.get(self.role, -1) >= ROLE_ORDER[least]


@dataclass(frozen=True)
class Action:
    """A permission action a plugin declares through ``register_actions``.

    :param name: ``"<plugin>.<verb>"``, for example ``"images.generate"``.
    :param description: One line for people reading ``/api/plugins``.
    :param default_role: The least role allowed when no ``permission_allowed`` implementation decides:
        ``"user"`` (the default, which excludes ``pending``), ``"admin"``, or ``"pending"`` for anyone
        signed in.
    """

    name: str
    description: str = ""
    default_role: str = "user"

    def __post_init__(self) -> None:
        if self.default_role not in ROLE_ORDER:
            raise ValueError(f"action {self.name}: default_role must be one of {sorted(ROLE_ORDER)}")
