"""The caller's own settings, info, permissions and groups, and every user's avatar.

Open WebUI's frontend reads these at start (``/api/v1/users/user/settings``, ``/permissions``, ...), so
they are served beside the user routes, at ``/api/users`` and ``/api/v1/users``. Static segments
(``/permissions``, ``/groups``) take precedence over the ``/<user_id>`` routes of ``users.py``.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from typing import Any

from quart import Blueprint, Response, jsonify, request

from colonnade.actors import Actor
from colonnade.auth import messages
from colonnade.auth.models import Group, User, now, plausible_id
from colonnade.auth.permission_tree import effective_permissions
from colonnade.errors import ApiError
from colonnade.permissions import require

bp = Blueprint("profile", __name__)

_DATA_URI = re.compile(r"^data:(image/(?:png|jpeg|gif|webp))(;base64)?,(.*)$", re.IGNORECASE | re.DOTALL)


async def json_object_body() -> dict[str, Any]:
    """The request body, which must be a JSON object (settings and info are free-form)."""
    if not request.is_json:
        if await request.get_data():
            raise ApiError(415, "Unsupported media type: send application/json")
        raise ApiError(422, "Invalid request: send a JSON body (Content-Type: application/json)")
    body = await request.get_json()
    if not isinstance(body, dict):
        raise ApiError(422, "Invalid request: the body must be a JSON object")
    return body


@bp.get("/user/settings")
@require("users.read_self")
async def get_settings(actor: Actor):
    user = await User.get(id=actor.id)
    return jsonify(user.settings or {})


@bp.post("/user/settings/update")
@require("users.read_self")
async def update_settings(actor: Actor):
    """Replace the caller's settings (Open WebUI keeps ``{"ui": {...}, ...}`` here)."""
    settings = await json_object_body()
    await User.filter(id=actor.id).update(settings=settings, updated_at=now())
    return jsonify(settings)


@bp.get("/user/info")
@require("users.read_self")
async def get_info(actor: Actor):
    user = await User.get(id=actor.id)
    return jsonify(user.info or {})


@bp.post("/user/info/update")
@require("users.read_self")
async def update_info(actor: Actor):
    """Merge the body into the caller's free-form ``info``."""
    user = await User.get(id=actor.id)
    user.info = {**(user.info or {}), **await json_object_body()}
    user.updated_at = now()
    await user.save(update_fields=["info", "updated_at"])
    return jsonify(user.info)


@bp.get("/permissions")
@require("users.read_self")
async def get_permissions(actor: Actor):
    """The caller's effective permission tree: the defaults merged with every group's grants."""
    granted = await Group.filter(members__id=actor.id).values_list("permissions", flat=True)
    return effective_permissions(actor.role, list(granted))


@bp.get("/groups")
@require("users.read_self")
async def get_own_groups(actor: Actor):
    groups = await Group.filter(members__id=actor.id).order_by("name").values("id", "name", "description")
    return jsonify(groups)


@bp.get("/<user_id>/profile/image")
@require("users.read_self")
async def profile_image(user_id: str, actor: Actor):
    """A user's avatar: their uploaded image, or a generated initial. Any signed-in user may see it,
    as avatars appear wherever users meet (shared chats, groups). External URLs are not fetched or
    redirected to: clients read those from ``profile_image_url`` directly."""
    user = await User.get_or_none(id=user_id) if plausible_id(user_id) else None
    if user is None:
        raise ApiError(404, messages.USER_NOT_FOUND)
    match = _DATA_URI.match(user.profile_image_url or "")
    if match:
        mimetype, is_base64, payload = match.groups()
        try:
            data = base64.b64decode(payload, validate=True) if is_base64 else payload.encode()
        except (binascii.Error, ValueError):
            data = None
        if data:
            return image_response(data, mimetype.lower())
    return image_response(default_avatar(user.name or user.email).encode(), "image/svg+xml")


def image_response(data: bytes, mimetype: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # The avatar is opened on our origin when a user follows its link: it must never run anything.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response


def default_avatar(name: str) -> str:
    """A 64x64 SVG circle with the name's first letter, its colour derived from the name."""
    initial = html.escape((name.strip()[:1] or "?").upper())
    hue = sum(name.encode()) % 360
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
        f'<circle cx="32" cy="32" r="32" fill="hsl({hue},45%,55%)"/>'
        '<text x="32" y="42" font-family="sans-serif" font-size="28" fill="#fff" text-anchor="middle">'
        f"{initial}</text></svg>"
    )
