"""Groups of users: admins create, change and delete them and manage membership.

Mounted at ``/api/groups`` (the spec) and ``/api/v1/groups`` (Open WebUI, whose routes put the id under
``/id/{id}`` and create at ``/create``). Members of a group get its partial permission tree.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import Blueprint, jsonify
from quart_schema import validate_request
from tortoise.exceptions import IntegrityError

from colonnade.actors import Actor
from colonnade.auth import messages
from colonnade.auth.models import Group, User, now, plausible_id
from colonnade.errors import ApiError
from colonnade.permissions import require

bp = Blueprint("groups", __name__)


class GroupForm(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=10_000)
    permissions: dict[str, dict[str, bool]] | None = None
    data: dict[str, Any] | None = None
    user_ids: list[str] | None = None


class GroupUpdateForm(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)
    permissions: dict[str, dict[str, bool]] | None = None
    data: dict[str, Any] | None = None
    user_ids: list[str] | None = None


class MembersForm(BaseModel):
    user_ids: list[str] = Field(max_length=10_000)


async def group_json(group: Group) -> dict[str, Any]:
    user_ids = await group.members.all().values_list("id", flat=True)
    return {
        "id": group.id,
        "user_id": group.created_by,
        "name": group.name,
        "description": group.description,
        "permissions": group.permissions,
        "data": group.data,
        "meta": group.meta,
        "user_ids": sorted(user_ids),
        "member_count": len(user_ids),
        "created_at": group.created_at,
        "updated_at": group.updated_at,
    }


async def get_group(group_id: str) -> Group:
    group = await Group.get_or_none(id=group_id) if plausible_id(group_id) else None
    if group is None:
        raise ApiError(404, messages.USER_NOT_FOUND)
    return group


async def users_by_id(user_ids: list[str]) -> list[User]:
    """The users named, or a 400 listing the ids that do not exist."""
    users = await User.filter(id__in=[user_id for user_id in user_ids if plausible_id(user_id)])
    missing = sorted(set(user_ids) - {user.id for user in users})
    if missing:
        raise ApiError(400, f"Unknown user ids: {', '.join(missing[:10])}")
    return list(users)


async def set_members(group: Group, users: list[User]) -> None:
    await group.members.clear()
    if users:
        await group.members.add(*users)


@bp.get("")
@bp.get("/")
@require("groups.manage")
async def list_groups(actor: Actor) -> Any:
    return jsonify([await group_json(group) for group in await Group.all().order_by("name")])


@bp.post("")
@bp.post("/create")
@require("groups.manage")
@validate_request(GroupForm)
async def create_group(data: GroupForm, actor: Actor):
    members = await users_by_id(data.user_ids or [])
    try:
        group = await Group.create(
            name=data.name,
            description=data.description,
            permissions=data.permissions,
            data=data.data,
            created_by=actor.id,
        )
    except IntegrityError:
        raise ApiError(409, f"A group named {data.name!r} already exists") from None
    if members:
        await group.members.add(*members)
    return await group_json(group), 201


@bp.get("/<group_id>")
@bp.get("/id/<group_id>")
@require("groups.manage")
async def read_group(group_id: str, actor: Actor):
    return await group_json(await get_group(group_id))


@bp.post("/<group_id>")
@bp.post("/id/<group_id>/update")
@require("groups.manage")
@validate_request(GroupUpdateForm)
async def update_group(group_id: str, data: GroupUpdateForm, actor: Actor):
    group = await get_group(group_id)
    changes = data.model_dump(exclude_none=True, exclude={"user_ids"})
    # Check the members, then save, then set the members: a refused update leaves the group as it was.
    members = await users_by_id(data.user_ids) if data.user_ids is not None else None
    for key, value in changes.items():
        setattr(group, key, value)
    group.updated_at = now()
    try:
        await group.save(update_fields=[*changes, "updated_at"])
    except IntegrityError:
        raise ApiError(409, f"A group named {data.name!r} already exists") from None
    if members is not None:
        await set_members(group, members)
    return await group_json(group)


@bp.post("/id/<group_id>/users/add")
@require("groups.manage")
@validate_request(MembersForm)
async def add_members(group_id: str, data: MembersForm, actor: Actor):
    group = await get_group(group_id)
    users = await users_by_id(data.user_ids)
    if users:
        await group.members.add(*users)
    return await group_json(group)


@bp.post("/id/<group_id>/users/remove")
@require("groups.manage")
@validate_request(MembersForm)
async def remove_members(group_id: str, data: MembersForm, actor: Actor):
    group = await get_group(group_id)
    users = await User.filter(id__in=[user_id for user_id in data.user_ids if plausible_id(user_id)])
    if users:
        await group.members.remove(*users)
    return await group_json(group)


@bp.delete("/<group_id>")
@bp.delete("/id/<group_id>/delete")
@require("groups.manage")
async def delete_group(group_id: str, actor: Actor):
    group = await get_group(group_id)
    await group.delete()
    return jsonify(True)
