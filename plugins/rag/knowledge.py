"""Knowledge bases: who may read and write them, their files, their vectors, and their JSON shapes.

Sharing uses Open WebUI 0.12's ``access_grants`` (``{principal_type: "user"|"group", principal_id,
permission: "read"|"write"}``, ``principal_id`` ``*`` for every user); the older ``access_control``
shape is accepted too. The owner and admins read and write; a ``write`` grant includes read; anyone
else gets a 404, so a private knowledge base does not reveal that it exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tortoise.expressions import Q, Subquery

from colonnade.actors import Actor
from colonnade.errors import ApiError
from colonnade.plugins.rag.models import Knowledge, KnowledgeFile, KnowledgeGrant

GrantKey = tuple[str, str, str]
EVERYONE = "*"
NOT_FOUND = "We could not find what you're looking for :/"


def grants_from_access_control(access_control: dict[str, Any] | None) -> set[GrantKey]:
    if access_control is None:
        return {("user", EVERYONE, "read")}
    grants: set[GrantKey] = set()
    for permission in ("read", "write"):
        principals = access_control.get(permission) or {}
        grants.update(("group", str(gid), permission) for gid in principals.get("group_ids") or ())
        grants.update(("user", str(uid), permission) for uid in principals.get("user_ids") or ())
    return grants


def requested_grants(body: dict[str, Any]) -> set[GrantKey] | None:
    """The grants a create/update body asks for, or ``None`` when it leaves them alone.

    :raises ApiError: 400 for a malformed grant.
    """
    if body.get("access_grants") is not None:
        grants: set[GrantKey] = set()
        for grant in body["access_grants"]:
            if not isinstance(grant, dict):
                raise ApiError(400, "access_grants: each grant is an object")
            kind, pid, permission = (
                grant.get("principal_type"),
                grant.get("principal_id"),
                grant.get("permission"),
            )
            if kind not in ("user", "group") or permission not in ("read", "write"):
                raise ApiError(
                    400, "access_grants: principal_type is user or group, permission read or write"
                )
            if not isinstance(pid, str) or not pid or len(pid) > 64:
                raise ApiError(400, "access_grants: principal_id must be a non-empty string")
            grants.add((kind, pid, permission))
        return grants
    if "access_control" in body:
        value = body["access_control"]
        if value is not None and not isinstance(value, dict):
            raise ApiError(400, "access_control must be an object or null")
        return grants_from_access_control(value)
    return None


@dataclass
class Viewer:
    """A caller and their groups, loaded once per request."""

    actor: Actor
    group_ids: list[str] = field(default_factory=list)

    @classmethod
    async def load(cls, actor: Actor) -> Viewer:
        from colonnade.auth.models import Group

        group_ids = await Group.filter(members__id=actor.id).values_list("id", flat=True)
        return cls(actor, [str(gid) for gid in group_ids])

    def _matches(self, grant: GrantKey) -> bool:
        kind, pid, _ = grant
        if kind == "user":
            return pid in (EVERYONE, self.actor.id)
        return kind == "group" and pid in self.group_ids

    def can_read(self, knowledge: Knowledge, grants: Iterable[GrantKey]) -> bool:
        if self.actor.is_admin or knowledge.user_id == self.actor.id:
            return True
        return any(self._matches(grant) for grant in grants)

    def can_write(self, knowledge: Knowledge, grants: Iterable[GrantKey]) -> bool:
        if self.actor.is_admin or knowledge.user_id == self.actor.id:
            return True
        return any(grant[2] == "write" and self._matches(grant) for grant in grants)

    def readable(self) -> Q | None:
        """A filter for the knowledge bases this caller may read (``None``: all of them)."""
        if self.actor.is_admin:
            return None
        principals = Q(principal_type="user", principal_id__in=[self.actor.id, EVERYONE])
        if self.group_ids:
            principals |= Q(principal_type="group", principal_id__in=self.group_ids)
        shared = Subquery(KnowledgeGrant.filter(principals).values("knowledge_id"))
        return Q(user_id=self.actor.id) | Q(id__in=shared)


async def grants_of(knowledge_id: str) -> list[KnowledgeGrant]:
    return list(await KnowledgeGrant.filter(knowledge_id=knowledge_id).order_by("id"))


def keys_of(grants: Iterable[KnowledgeGrant]) -> set[GrantKey]:
    return {(grant.principal_type, grant.principal_id, grant.permission) for grant in grants}


async def replace_grants(knowledge: Knowledge, grants: set[GrantKey]) -> None:
    await KnowledgeGrant.filter(knowledge_id=knowledge.id).delete()
    if grants:
        await KnowledgeGrant.bulk_create(
            [
                KnowledgeGrant(
                    knowledge_id=knowledge.id, principal_type=kind, principal_id=pid, permission=perm
                )
                for kind, pid, perm in sorted(grants)
            ]
        )


async def find(viewer: Viewer, knowledge_id: str, *, write: bool = False) -> Knowledge:
    """The knowledge base if the caller may read it (or write it, with ``write``); else 404 (or 403
    when they may read but not write)."""
    knowledge = await Knowledge.get_or_none(id=knowledge_id) if len(knowledge_id) <= 36 else None
    if knowledge is None:
        raise ApiError(404, NOT_FOUND)
    grants = keys_of(await grants_of(knowledge.id))
    if not viewer.can_read(knowledge, grants):
        raise ApiError(404, NOT_FOUND)
    if write and not viewer.can_write(knowledge, grants):
        raise ApiError(403, "You do not have permission to change this knowledge base")
    return knowledge


def grant_json(knowledge_id: str, grant: KnowledgeGrant) -> dict[str, Any]:
    return {
        "id": str(grant.id),
        "resource_type": "knowledge",
        "resource_id": knowledge_id,
        "principal_type": grant.principal_type,
        "principal_id": grant.principal_id,
        "permission": grant.permission,
        "created_at": grant.created_at,
    }


def knowledge_json(
    knowledge: Knowledge, grants: list[KnowledgeGrant], *, write_access: bool | None = None
) -> dict[str, Any]:
    """Open WebUI's ``KnowledgeModel`` (plus ``write_access`` when known)."""
    body: dict[str, Any] = {
        "id": knowledge.id,
        "user_id": knowledge.user_id,
        "name": knowledge.name,
        "description": knowledge.description,
        "meta": knowledge.meta,
        "access_grants": [grant_json(knowledge.id, grant) for grant in grants],
        "created_at": knowledge.created_at,
        "updated_at": knowledge.updated_at,
    }
    if write_access is not None:
        body["write_access"] = write_access
    return body


async def file_ids_of(knowledge_id: str) -> list[str]:
    return list(
        await KnowledgeFile.filter(knowledge_id=knowledge_id).order_by("id").values_list("file_id", flat=True)
    )


async def files_json(knowledge_id: str) -> list[dict[str, Any]]:
    """The files of a knowledge base in Open WebUI's short shape (``id, hash, meta, created_at...``)."""
    from colonnade.plugins.files.models import File

    ids = await file_ids_of(knowledge_id)
    records = {record.id: record for record in await File.filter(id__in=ids)} if ids else {}
    shown = []
    for file_id in ids:
        record = records.get(file_id)
        if record is None:
            continue
        data = record.data or {}
        shown.append(
            {
                "id": record.id,
                "user_id": record.user_id,
                "hash": record.hash,
                "filename": record.filename,
                "meta": {"name": record.filename, "content_type": record.content_type, "size": record.size},
                "data": {key: data[key] for key in ("status", "error") if key in data},
                "created_at": record.created_at,
                "updated_at": record.updated_at,
            }
        )
    return shown
