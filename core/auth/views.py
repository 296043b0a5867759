"""Sign-up, sign-in, sign-out, the current session, profile, password and API keys.

Mounted at ``/api/auth`` (the spec) and ``/api/v1/auths`` (Open WebUI); every route answers on both.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, ValidationError
from quart import Blueprint, current_app, jsonify, request
from quart_schema import validate_request

from colonnade.actors import Actor
from colonnade.auth import messages
from colonnade.auth.events import UserCreated, UserSignedIn, UserSignedOut, UserSignedUp, UserUpdated
from colonnade.auth.models import ApiKey, Group, User, now
from colonnade.auth.permission_tree import effective_permissions
from colonnade.auth.service import AuthService, expires_in, user_json
from colonnade.errors import ApiError, describe_validation_error
from colonnade.permissions import current_actor, require

bp = Blueprint("auth", __name__)

Password = Field(min_length=1, max_length=1024)

#: Raster images only: an SVG data URI served from our origin could run script.
_IMAGE_URL = re.compile(r"^(data:image/(png|jpeg|gif|webp)[;,]|https?://|/(?!/))", re.IGNORECASE)


def check_image_url(value: str) -> str:
    """A profile image is a raster ``data:`` URI, an http(s) URL or a local path (never ``javascript:``)."""
    if value and not _IMAGE_URL.match(value):
        raise ValueError(
            "must be a data:image/png|jpeg|gif|webp URI, an http(s) URL or a path starting with /"
        )
    return value


ImageUrl = Annotated[str, Field(max_length=1_000_000), AfterValidator(check_image_url)]


class SignupForm(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    email: str = Field(min_length=3, max_length=255)
    password: str = Password
    profile_image_url: ImageUrl | None = None


class SigninForm(BaseModel):
    email: str = Field(min_length=1, max_length=255)
    password: str = Field(max_length=1024)


class AddUserForm(SignupForm):
    role: str | None = Field(default=None, pattern="^(admin|user|pending)$")


class ProfileForm(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    profile_image_url: ImageUrl | None = None
    bio: str | None = Field(default=None, max_length=10_000)
    timezone: str | None = Field(default=None, max_length=64)


class TimezoneForm(BaseModel):
    timezone: str = Field(min_length=1, max_length=64)


class PasswordForm(BaseModel):
    password: str = Field(max_length=1024)
    new_password: str = Password


class ApiKeyForm(BaseModel):
    name: str = Field(default="", max_length=255)


def service() -> AuthService:
    return current_app.extensions["colonnade"].state("auth").service


async def session_body(user: User, token: str | None, expires_at: int | None) -> dict[str, Any]:
    """Open WebUI's ``SigninResult`` session shape."""
    groups = await Group.filter(members__id=user.id).values_list("permissions", flat=True)
    return {
        "token": token,
        "token_type": "Bearer",
        "expires_at": expires_at,
        **{key: value for key, value in user_json(user).items() if key in SESSION_USER_KEYS},
        "permissions": effective_permissions(user.role, list(groups)),
    }


SESSION_USER_KEYS = ("id", "email", "name", "role", "profile_image_url", "bio", "timezone")


async def start_session(user: User, status: int = 200):
    """Issue a token for ``user``: in the body and as the HttpOnly ``token`` cookie."""
    auth = service()
    issued = auth.issue(user)
    response = jsonify(await session_body(user, issued.token, issued.expires_at))
    response.status_code = status
    response.set_cookie(
        "token",
        issued.token,
        max_age=expires_in(issued),
        httponly=True,
        secure=auth.settings.cookie_secure,
        samesite=auth.settings.cookie_samesite.capitalize(),
    )
    return response


async def optional_body(model: type[BaseModel]) -> Any:
    """Validate a body that may be left out entirely (then every field takes its default)."""
    body = await request.get_json() if request.is_json and await request.get_data() else {}
    try:
        return model.model_validate(body)
    except ValidationError as error:
        detail, errors = describe_validation_error(error)
        raise ApiError(422, detail, extra={"errors": errors}) from None


def client_address() -> str:
    return request.remote_addr or "unknown"


@bp.post("/signup")
@validate_request(SignupForm)
async def signup(data: SignupForm):
    auth = service()
    if not auth.settings.enable_signup and await User.exists():
        raise ApiError(403, messages.SIGNUP_DISABLED)
    user = await auth.create_user(
        email=data.email,
        name=data.name,
        password=data.password,
        role=auth.settings.default_user_role,
        profile_image_url=data.profile_image_url or "",
        may_become_primary=True,
    )
    host = current_app.extensions["colonnade"]
    await host.emit(UserSignedUp(actor=None, user_id=user.id))
    return await start_session(user)


@bp.post("/signin")
@validate_request(SigninForm)
async def signin(data: SigninForm):
    user = await service().check_signin(data.email, data.password, client_address())
    host = current_app.extensions["colonnade"]
    await host.emit(UserSignedIn(actor=None, user_id=user.id))
    return await start_session(user)


@bp.post("/signout")
async def signout():
    """Revoke the presented token (if it is valid) and clear the cookie; always succeeds."""
    actor = await current_actor()
    if actor is not None:
        await service().revoke(actor)
        await current_app.extensions["colonnade"].emit(UserSignedOut(actor=actor, user_id=actor.id))
    response = jsonify({"status": True})
    response.delete_cookie("token")
    return response


@bp.get("/me")
@bp.get("/")
@require()
async def me(actor: Actor):
    """The current session (Open WebUI's ``GET /api/v1/auths/``); API keys are refused."""
    if actor.credential != "session":
        raise ApiError(403, messages.HUMAN_SESSION_REQUIRED)
    user = await User.get(id=actor.id)
    # An actor authenticated by another plugin's ``actor_from_request`` may carry no token of ours.
    return await session_body(user, actor.extra.get("token"), actor.extra.get("exp"))


@bp.post("/add")
@require("users.manage")
@validate_request(AddUserForm)
async def add_user(data: AddUserForm, actor: Actor):
    """An admin creates an account (Open WebUI's ``POST /api/v1/auths/add``)."""
    return await create_account(data, actor)


async def create_account(data: AddUserForm, actor: Actor):
    auth = service()
    user = await auth.create_user(
        email=data.email,
        name=data.name,
        password=data.password,
        role=data.role or auth.settings.default_user_role,
        profile_image_url=data.profile_image_url or "",
    )
    await current_app.extensions["colonnade"].emit(UserCreated(actor=actor, user_id=user.id))
    body = user_json(user)
    return body, 201


@bp.post("/update/profile")
@require()
@validate_request(ProfileForm)
async def update_profile(data: ProfileForm, actor: Actor):
    user = await User.get(id=actor.id)
    changes = data.model_dump(exclude_none=True)
    for key, value in changes.items():
        setattr(user, key, value)
    user.updated_at = now()
    await user.save(update_fields=[*changes, "updated_at"])
    host = current_app.extensions["colonnade"]
    await host.emit(UserUpdated(actor=actor, user_id=user.id, fields=tuple(changes)))
    return user_json(user)


@bp.post("/update/timezone")
@require()
@validate_request(TimezoneForm)
async def update_timezone(data: TimezoneForm, actor: Actor):
    """Open WebUI's front-end reports the browser's time zone after sign-in."""
    await User.filter(id=actor.id).update(timezone=data.timezone, updated_at=now())
    return {"status": True}


@bp.post("/update/password")
@require()
@validate_request(PasswordForm)
async def update_password(data: PasswordForm, actor: Actor):
    """Change the caller's password; every session of the user (this one too) is revoked."""
    auth = service()
    user = await User.get(id=actor.id)
    if not await auth.passwords.verify(user.password_hash, data.password):
        raise ApiError(400, messages.INCORRECT_PASSWORD)
    await auth.set_password(user, data.new_password)
    return jsonify(True)


@bp.get("/api_key")
@require("auth.api_keys")
async def get_api_key(actor: Actor):
    """The caller's API key, without the key itself (it is shown once, at creation)."""
    api_key = await ApiKey.get_or_none(user_id=actor.id)
    if api_key is None:
        raise ApiError(404, messages.API_KEY_NOT_FOUND)
    return api_key_json(api_key)


@bp.post("/api_key")
@require("auth.api_keys")
async def create_api_key(actor: Actor):
    """Create the caller's API key, replacing any previous one. The response is the only time the
    key is shown."""
    auth = service()
    if not auth.settings.enable_api_keys:
        raise ApiError(403, messages.API_KEYS_DISABLED)
    form = await optional_body(ApiKeyForm)
    api_key, key = await auth.create_api_key(await User.get(id=actor.id), form.name)
    return {**api_key_json(api_key), "api_key": key}, 201


@bp.delete("/api_key")
@require("auth.api_keys")
async def delete_api_key(actor: Actor):
    deleted = await service().delete_api_keys(actor.id)
    if not deleted:
        raise ApiError(404, messages.API_KEY_NOT_FOUND)
    return jsonify(True)


def api_key_json(api_key: ApiKey) -> dict[str, Any]:
    return {
        "id": api_key.id,
        "name": api_key.name,
        "prefix": api_key.prefix,
        "created_at": api_key.created_at,
        "last_used_at": api_key.last_used_at,
        "expires_at": api_key.expires_at,
    }


@bp.get("/admin/details")
@require()
async def admin_details(actor: Actor):
    """Whom to ask for access: the primary admin's name and email (Open WebUI shows them to pending
    accounts)."""
    admin = await User.get_or_none(primary_marker=1)
    if admin is None:
        raise ApiError(404, messages.USER_NOT_FOUND)
    return {"name": admin.name, "email": admin.email}


@bp.get("/admin/config")
@require("users.manage")
async def admin_config(actor: Actor):
    """The sign-up and key settings in Open WebUI's ``AdminConfig`` names, read-only: they come from
    the ``[auth]`` section of the configuration file, which is the only place to change them."""
    settings = service().settings
    return {
        "SHOW_ADMIN_DETAILS": True,
        "ENABLE_SIGNUP": settings.enable_signup,
        "ENABLE_LOGIN_FORM": True,
        "ENABLE_API_KEYS": settings.enable_api_keys,
        "ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS": False,
        "DEFAULT_USER_ROLE": settings.default_user_role,
        "JWT_EXPIRES_IN": settings.jwt_expires_in,
    }
