"""Users: admin listing and management, and each user's own profile.

Mounted at ``/api/users`` (the spec) and ``/api/v1/users`` (Open WebUI, whose update is
``POST /{id}/update``). Rules: admins manage everyone except that the primary admin can be changed only
by themself and never loses the admin role or gets deleted; no admin deletes their own account; a user
reads and updates their own profile but not their role; anyone else's account is a 404 to a non-admin.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import Blueprint, current_app, jsonify
from quart_schema import validate_querystring, validate_request
from tortoise.expressions import Q

from colonnade.actors import Actor
from colonnade.auth import messages
from colonnade.auth.events import UserDeleted, UserUpdated
from colonnade.auth.models import Group, User, now, plausible_id
from colonnade.auth.service import AuthService, normalise_email, user_json
from colonnade.auth.views import AddUserForm, ImageUrl, create_account
from colonnade.errors import ApiError
from colonnade.permissions import require

bp = Blueprint("users", __name__)

PAGE_SIZE = 30
ORDERABLE = ("name", "email", "created_at", "last_active_at", "updated_at", "role")


class UserListQuery(BaseModel):
    query: str | None = Field(default=None, max_length=255)
    order_by: str = Field(default="created_at", pattern="^(" + "|".join(ORDERABLE) + ")$")
    direction: str = Field(default="desc", pattern="^(asc|desc)$")
    # Bounded so that the row offset always fits a 64-bit integer.
    page: int = Field(default=1, ge=1, le=1_000_000)


class UserUpdateForm(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    email: str | None = Field(default=None, min_length=3, max_length=255)
    profile_image_url: ImageUrl | None = None
    bio: str | None = Field(default=None, max_length=10_000)
    timezone: str | None = Field(default=None, max_length=64)
    role: str | None = Field(default=None, pattern="^(admin|user|pending)$")
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    active: bool | None = None


#: What a user may change on their own account through this route (role, password and activation
#: are not among them; the password has its own route, which asks for the current one).
SELF_EDITABLE = {"name", "email", "profile_image_url", "bio", "timezone"}


def service() -> AuthService:
    return current_app.extensions["colonnade"].state("auth").service


async def visible_user(actor: Actor, user_id: str) -> User:
    """The user, if the caller may see them (admins see all; others only themselves), else 404."""
    allowed = plausible_id(user_id) and (actor.is_admin or actor.id == user_id)
    user = await User.get_or_none(id=user_id) if allowed else None
    if user is None:
        raise ApiError(404, messages.USER_NOT_FOUND)
    return user


@bp.get("")
@bp.get("/")
@require("users.manage")
@validate_querystring(UserListQuery)
async def list_users(query_args: UserListQuery, actor: Actor) -> dict[str, Any]:
    """Users, 30 a page, optionally filtered by a case-insensitive substring of name or email."""
    users = User.all()
    if query_args.query:
        users = users.filter(Q(name__icontains=query_args.query) | Q(email__icontains=query_args.query))
    total = await users.count()
    order = ("-" if query_args.direction == "desc" else "") + query_args.order_by
    page = await users.order_by(order, "id").offset((query_args.page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    memberships = await group_ids_of([user.id for user in page])
    return {
        "users": [{**user_json(user), "group_ids": memberships.get(user.id, [])} for user in page],
        "total": total,
    }


@bp.post("")
@bp.post("/")
@require("users.manage")
@validate_request(AddUserForm)
async def create_user(data: AddUserForm, actor: Actor):
    """An admin creates an account (same as ``POST /api/auth/add``)."""
    return await create_account(data, actor)


@bp.get("/all")
@require("users.manage")
async def list_all_users(actor: Actor) -> dict[str, Any]:
    """Every user, unpaged (Open WebUI's ``GET /api/v1/users/all``, used to pick group members)."""
    users = await User.all().order_by("name", "id")
    return {"users": [user_json(user) for user in users], "total": len(users)}


@bp.post("/<user_id>/sessions/revoke")
@require("users.manage")
async def revoke_sessions(user_id: str, actor: Actor):
    """End every session of a user (their API key keeps working); the primary admin's only by
    themself."""
    user = await User.get_or_none(id=user_id) if plausible_id(user_id) else None
    if user is None:
        raise ApiError(404, messages.USER_NOT_FOUND)
    if user.is_primary_admin and actor.id != user.id:
        raise ApiError(403, messages.ACTION_PROHIBITED)
    await service().revoke_sessions(user)
    return jsonify(True)


@bp.get("/<user_id>")
@require("users.read_self")
async def get_user(user_id: str, actor: Actor) -> dict[str, Any]:
    user = await visible_user(actor, user_id)
    groups = await Group.filter(members__id=user.id).values("id", "name")
    return {**user_json(user), "groups": groups}


@bp.post("/<user_id>")
@bp.post("/<user_id>/update")
@require("users.read_self")
@validate_request(UserUpdateForm)
async def update_user(user_id: str, data: UserUpdateForm, actor: Actor) -> dict[str, Any]:
    user = await visible_user(actor, user_id)
    changes = data.model_dump(exclude_none=True)
    if not actor.is_admin:
        refused = sorted(set(changes) - SELF_EDITABLE)
        if refused:
            raise ApiError(403, f"You cannot change {', '.join(refused)} of your own account")
    if user.is_primary_admin and actor.id != user.id:
        raise ApiError(403, messages.ACTION_PROHIBITED)
    if user.is_primary_admin and changes.get("role", "admin") != "admin":
        raise ApiError(403, "The primary admin keeps the admin role")
    if user.is_primary_admin and changes.get("active") is False:
        raise ApiError(403, "The primary admin cannot be deactivated")
    if "email" in changes:
        changes["email"] = normalise_email(changes["email"])
        if await User.filter(email=changes["email"]).exclude(id=user.id).exists():
            raise ApiError(409, messages.EMAIL_TAKEN)
    auth = service()
    if "password" in changes:
        await auth.set_password(user, changes.pop("password"))
    if "active" in changes:
        await auth.set_active(user, changes.pop("active"))
    for key, value in changes.items():
        setattr(user, key, value)
    user.updated_at = now()
    await user.save(update_fields=[*changes, "updated_at"])
    host = current_app.extensions["colonnade"]
    await host.emit(
        UserUpdated(actor=actor, user_id=user.id, fields=tuple(data.model_dump(exclude_none=True)))
    )
    return user_json(user)


@bp.delete("/<user_id>")
@require("users.manage")
async def delete_user(user_id: str, actor: Actor):
    """Delete an account. Returns ``true`` (Open WebUI's body). Not the caller's own, not the primary
    admin's."""
    user = await User.get_or_none(id=user_id) if plausible_id(user_id) else None
    if user is None:
        raise ApiError(404, messages.USER_NOT_FOUND)
    if user.id == actor.id:
        raise ApiError(403, "You cannot delete your own account")
    if user.is_primary_admin:
        raise ApiError(403, "The primary admin cannot be deleted")
    await user.delete()
    await current_app.extensions["colonnade"].emit(UserDeleted(actor=actor, user_id=user_id))
    return jsonify(True)


async def group_ids_of(user_ids: list[str]) -> dict[str, list[str]]:
    """``{user id: [group ids]}`` for a page of users, in one query."""
    if not user_ids:
        return {}
    rows = await Group.filter(members__id__in=user_ids).values_list("id", "members__id")
    memberships: dict[str, list[str]] = {}
    for group_id, user_id in rows:
        memberships.setdefault(user_id, []).append(group_id)
    return memberships
