"""Who may read and write a workspace model, in both of Open WebUI's sharing shapes.

The stored truth is a set of grants ``(principal_type, principal_id, permission)`` in ``models_grant``.
Two client shapes map onto it:

- ``access_control`` (Open WebUI up to 0.6): ``null`` is public (every user reads),
  ``{"read": {"group_ids": [...], "user_ids": [...]}, "write": {...}}`` names who reads and who writes,
  ``{}`` is private;
- ``access_grants`` (Open WebUI 0.12): a list of ``{principal_type, principal_id, permission}`` where
  ``user``/``*`` means every user.

Rules: the owner and admins read and write; a ``write`` grant includes read; anyone else gets a 404, so
private models do not reveal that they exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tortoise.expressions import Q, Subquery

from colonnade.actors import Actor
from colonnade.auth.models import Group
from colonnade.plugins.models.models import ModelGrant, WorkspaceModel

GrantKey = tuple[str, str, str]  # (principal_type, principal_id, permission)

EVERYONE = "*"
PUBLIC_READ: GrantKey = ("user", EVERYONE, "read")


def grants_from_access_control(access_control: dict[str, Any] | None) -> set[GrantKey]:
    """Grants for an ``access_control`` value (``None`` = public)."""
    if access_control is None:
        return {PUBLIC_READ}
    grants: set[GrantKey] = set()
    for permission in ("read", "write"):
        principals = access_control.get(permission) or {}
        grants.update(("group", gid, permission) for gid in principals.get("group_ids") or ())
        grants.update(("user", uid, permission) for uid in principals.get("user_ids") or ())
    return grants


def grants_from_list(access_grants: Iterable[dict[str, Any]]) -> set[GrantKey]:
    return {(g["principal_type"], g["principal_id"], g["permission"]) for g in access_grants}


def requested_grants(
    values: dict[str, Any], fields_set: Iterable[str], *, creating: bool
) -> set[GrantKey] | None:
    """The grants a request asks for, or ``None`` when it leaves access unchanged.

    ``access_grants`` wins over ``access_control`` when both are given (the validator reports that).
    A create body with neither makes a private model: safer than Open WebUI's old public default.
    """
    fields_set = set(fields_set)
    if "access_grants" in fields_set and values.get("access_grants") is not None:
        return grants_from_list(values["access_grants"])
    if "access_control" in fields_set:
        return grants_from_access_control(values.get("access_control"))
    return set() if creating else None


def access_control_of(grants: Iterable[GrantKey]) -> dict[str, Any] | None:
    """The ``access_control`` rendering of stored grants (``None`` when every user may read)."""
    grants = set(grants)
    if any(kind == "user" and pid == EVERYONE for kind, pid, _ in grants):
        return None
    shape: dict[str, Any] = {}
    for permission in ("read", "write"):
        shape[permission] = {
            "group_ids": sorted(pid for kind, pid, perm in grants if kind == "group" and perm == permission),
            "user_ids": sorted(pid for kind, pid, perm in grants if kind == "user" and perm == permission),
        }
    return shape


def grant_json(model_id: str, grant: ModelGrant) -> dict[str, Any]:
    """One grant in Open WebUI 0.12's ``access_grants`` shape."""
    return {
        "id": str(grant.id),
        "resource_type": "model",
        "resource_id": model_id,
        "principal_type": grant.principal_type,
        "principal_id": grant.principal_id,
        "permission": grant.permission,
        "created_at": grant.created_at,
    }


@dataclass
class Viewer:
    """A caller with their group memberships, loaded once per request."""

    actor: Actor
    group_ids: list[str] = field(default_factory=list)

    @classmethod
    async def load(cls, actor: Actor) -> Viewer:
        group_ids = await Group.filter(members__id=actor.id).values_list("id", flat=True)
        return cls(actor, [str(gid) for gid in group_ids])

    @property
    def is_admin(self) -> bool:
        return self.actor.is_admin

    def _matches(self, grant: GrantKey) -> bool:
        kind, pid, _ = grant
        if kind == "user":
            return pid in (EVERYONE, self.actor.id)
        return kind == "group" and pid in self.group_ids

    def can_read(self, model: WorkspaceModel, grants: Iterable[GrantKey]) -> bool:
        if self.is_admin or model.user_id == self.actor.id:  # type: ignore[attr-defined]
            return True
        return any(self._matches(grant) for grant in grants)

    def can_write(self, model: WorkspaceModel, grants: Iterable[GrantKey]) -> bool:
        if self.is_admin or model.user_id == self.actor.id:  # type: ignore[attr-defined]
            return True
        return any(grant[2] == "write" and self._matches(grant) for grant in grants)

    def readable(self) -> Q | None:
        """A filter for the models this caller may read (``None``: everything, for admins)."""
        if self.is_admin:
            return None
        principals = Q(principal_type="user", principal_id__in=[self.actor.id, EVERYONE])
        if self.group_ids:
            principals |= Q(principal_type="group", principal_id__in=self.group_ids)
        shared = Subquery(ModelGrant.filter(principals).values("model_id"))
        return Q(user_id=self.actor.id) | Q(id__in=shared)


async def grants_by_model(model_ids: list[str]) -> dict[str, list[ModelGrant]]:
    """``{model id: [grants]}`` for a page of models, in one query."""
    found: dict[str, list[ModelGrant]] = {model_id: [] for model_id in model_ids}
    if model_ids:
        for grant in await ModelGrant.filter(model_id__in=model_ids).order_by("id"):
            found[grant.model_id].append(grant)  # type: ignore[attr-defined]
    return found


def keys_of(grants: Iterable[ModelGrant]) -> set[GrantKey]:
    return {(g.principal_type, g.principal_id, g.permission) for g in grants}


async def replace_grants(model: WorkspaceModel, grants: set[GrantKey]) -> None:
    """Make the stored grants of ``model`` exactly ``grants`` (call inside the write's transaction)."""
    await ModelGrant.filter(model_id=model.id).delete()
    if grants:
        await ModelGrant.bulk_create(
            [
                ModelGrant(model_id=model.id, principal_type=kind, principal_id=pid, permission=perm)
                for kind, pid, perm in sorted(grants)
            ]
        )
