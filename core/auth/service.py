"""The auth plugin's per-application service: credentials in, actors out; accounts and sessions.

One ``AuthService`` is built at start-up and kept in ``host.state("auth").service``. Views and other
plugins (SCIM provisions through ``create_user`` and ``deactivate``) go through it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError

from colonnade.actors import Actor
from colonnade.auth import messages
from colonnade.auth.models import ApiKey, User, new_session_stamp, now
from colonnade.auth.passwords import Passwords
from colonnade.auth.remembered import RememberedCallers, api_key_key, install_orm_signals, session_key
from colonnade.auth.stores import AttemptCounter, Revocations
from colonnade.auth.tokens import InvalidToken, IssuedToken, Tokens, load_or_create_secret
from colonnade.durations import parse_duration
from colonnade.errors import ApiError
from colonnade.rawsql import Statement, as_bool, fetch_one

if TYPE_CHECKING:
    from quart import Request

    from colonnade.host import Host

EMAIL_PATTERN = re.compile(r"^[^@\s]+@([^@\s]+\.[^@\s]+|localhost)$")
#: Activity timestamps are written at most this often per user, to keep requests read-only.
ACTIVITY_WRITE_INTERVAL = 60

# Every authenticated request runs one of these; written by hand, as one round trip each (see rawsql).
_ACTOR_COLUMNS = "u.id, u.role, u.email, u.name, u.active, u.session_stamp, u.last_active_at"
SESSION_USER = Statement(f"""
    SELECT {_ACTOR_COLUMNS},
           EXISTS (SELECT 1 FROM auth_revoked_token r WHERE r.jti = ?) AS revoked
    FROM auth_user u WHERE u.id = ?
""")
SESSION_USER_REVOKED_ELSEWHERE = Statement(f"SELECT {_ACTOR_COLUMNS} FROM auth_user u WHERE u.id = ?")
API_KEY_USER = Statement(f"""
    SELECT {_ACTOR_COLUMNS}, k.id AS api_key_id, k.expires_at, k.last_used_at AS key_last_used_at
    FROM auth_api_key k JOIN auth_user u ON u.id = k.user_id WHERE k.key_hash = ?
""")


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL_PATTERN.match(email):
        raise ApiError(400, messages.INVALID_EMAIL_FORMAT)
    return email


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def credential_from(request: Request) -> str | None:
    """The bearer token, ``x-api-key`` header or ``token`` cookie of a request, in that order."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.headers.get("x-api-key") or request.cookies.get("token") or None


class AuthService:
    """Accounts, sessions and API keys for one application."""

    def __init__(self, host: Host) -> None:
        settings = host.settings.auth
        self.host = host
        self.settings = settings
        secret = settings.secret_key.get_secret_value() if settings.secret_key else None
        self.tokens = Tokens(
            secret or load_or_create_secret(host.settings.server.data_dir),
            parse_duration(settings.jwt_expires_in),
        )
        self.passwords = Passwords(
            settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
        )
        self.revocations = Revocations(host.redis)
        self.account_attempts = AttemptCounter(
            settings.signin_attempts_per_account, settings.signin_window, host.redis, "account"
        )
        self.address_attempts = AttemptCounter(
            settings.signin_attempts_per_address, settings.signin_window, host.redis, "address"
        )
        #: Rows behind credentials, remembered between requests on PostgreSQL (see ``start``).
        self.remembered = RememberedCallers()

    async def start(self) -> None:
        """On PostgreSQL, with ``remember_callers`` on, start listening for changes to accounts so
        that callers need not be looked up on every request."""
        client = User._meta.db
        if self.settings.remember_callers and client.capabilities.dialect == "postgres":
            install_orm_signals()
            await self.remembered.listen(client)

    async def close(self) -> None:
        await self.remembered.close()

    # -- authentication --------------------------------------------------------------------------

    async def actor_for(self, credential: str) -> Actor | None:
        """The actor a credential stands for, or ``None`` when it is not valid now."""
        if credential.startswith("sk-"):
            return await self._actor_for_api_key(credential)
        try:
            claims = self.tokens.verify(credential)
        except InvalidToken:
            return None
        if claims.get("typ") != "session":
            return None
        jti = claims["jti"]
        if self.revocations.shared and await self.revocations.is_revoked(jti):
            return None
        key = session_key(jti)
        row = self.remembered.recall(key)
        if row is None:
            started = self.remembered.lookup_started()
            if self.revocations.shared:
                row = await fetch_one(User, SESSION_USER_REVOKED_ELSEWHERE, [claims["id"]], inline=True)
            else:
                # The revocation table and the user in one round trip.
                row = await fetch_one(User, SESSION_USER, [jti, claims["id"]], inline=True)
                if row is not None and row["revoked"]:
                    return None
            if row is None or not as_bool(row["active"]):
                return None
            self.remembered.remember(key, row["id"], row, started)
        if row["session_stamp"] != claims.get("session_stamp"):
            return None
        await self._touch(row)
        return actor_of(row, "session", jti=jti, exp=claims["exp"], token=credential)

    async def _actor_for_api_key(self, key: str) -> Actor | None:
        if not self.settings.enable_api_keys:
            return None
        key_hash = hash_api_key(key)
        remembered_as = api_key_key(key_hash)
        row = self.remembered.recall(remembered_as)
        if row is None:
            started = self.remembered.lookup_started()
            row = await fetch_one(User, API_KEY_USER, [key_hash], inline=True)
            if row is None or not as_bool(row["active"]):
                return None
            self.remembered.remember(remembered_as, row["id"], row, started)
        current = now()
        if row["expires_at"] is not None and row["expires_at"] <= current:
            return None
        last_used = row["key_last_used_at"]
        if last_used is None or current - last_used >= ACTIVITY_WRITE_INTERVAL:
            await ApiKey.filter(id=row["api_key_id"]).update(last_used_at=current)
            row["key_last_used_at"] = current
        await self._touch(row)
        return actor_of(row, "api_key", api_key_id=row["api_key_id"])

    async def _touch(self, row: dict[str, Any]) -> None:
        """Record the user's activity, at most every :data:`ACTIVITY_WRITE_INTERVAL` seconds (also
        in a remembered ``row``, so that the requests before PostgreSQL's notice do not write it)."""
        current = now()
        if current - row["last_active_at"] >= ACTIVITY_WRITE_INTERVAL:
            await User.filter(id=row["id"]).update(last_active_at=current)
            row["last_active_at"] = current

    # -- accounts --------------------------------------------------------------------------------

    async def create_user(
        self,
        *,
        email: str,
        name: str,
        password: str | None,
        role: str,
        profile_image_url: str = "",
        may_become_primary: bool = False,
        **extra: Any,
    ) -> User:
        """Create an account; the very first one becomes the primary admin when ``may_become_primary``."""
        email = normalise_email(email)
        if await User.filter(email=email).exists():
            raise ApiError(409, messages.EMAIL_TAKEN)
        password_hash = await self.passwords.hash(password) if password else None
        fields = dict(
            email=email,
            name=name.strip() or email,
            password_hash=password_hash,
            role=role,
            profile_image_url=profile_image_url,
            **extra,
        )
        if may_become_primary and not await User.exists():
            try:
                return await User.create(**{**fields, "role": "admin", "primary_marker": 1})
            except IntegrityError:
                pass  # another first sign-up won the race, or the email was taken meanwhile
        try:
            return await User.create(**fields)
        except IntegrityError:
            raise ApiError(409, messages.EMAIL_TAKEN) from None

    async def check_signin(self, email: str, password: str, address: str) -> User:
        """The user whose credentials these are; 429 after too many failures, 401 on a mismatch."""
        email = email.strip().lower()
        for counter, key in ((self.account_attempts, email), (self.address_attempts, address)):
            wait = await counter.retry_after(key)
            if wait:
                raise ApiError(429, messages.RATE_LIMIT_EXCEEDED, headers={"Retry-After": str(wait)})
        user = await User.get_or_none(email=email)
        ok = await self.passwords.verify(user.password_hash if user else None, password)
        if not ok or user is None or not user.active:
            await self.account_attempts.record_failure(email)
            await self.address_attempts.record_failure(address)
            raise ApiError(401, messages.INVALID_CRED, headers={"WWW-Authenticate": "Bearer"})
        await self.account_attempts.reset(email)
        if self.passwords.needs_rehash(user.password_hash):
            user.password_hash = await self.passwords.hash(password)
            await user.save(update_fields=["password_hash"])
        return user

    async def set_password(self, user: User, password: str) -> None:
        """Store a new password and revoke every existing session of the user."""
        user.password_hash = await self.passwords.hash(password)
        user.session_stamp = new_session_stamp()
        user.updated_at = now()
        await user.save(update_fields=["password_hash", "session_stamp", "updated_at"])

    async def revoke_sessions(self, user: User) -> None:
        """End every session of the user at once by rotating the stamp their tokens carry."""
        user.session_stamp = new_session_stamp()
        user.updated_at = now()
        await user.save(update_fields=["session_stamp", "updated_at"])

    async def set_active(self, user: User, active: bool) -> None:
        """Enable or disable an account; disabling revokes its sessions (API keys stop working too)."""
        user.active = active
        if not active:
            user.session_stamp = new_session_stamp()
        user.updated_at = now()
        await user.save(update_fields=["active", "session_stamp", "updated_at"])

    def issue(self, user: User, method: str = "password") -> IssuedToken:
        return self.tokens.issue(user.id, user.session_stamp, method)

    async def revoke(self, actor: Actor) -> None:
        if actor.credential == "session":
            await self.revocations.revoke(actor.extra["jti"], actor.extra["exp"])

    # -- API keys --------------------------------------------------------------------------------

    async def create_api_key(self, user: User, name: str = "") -> tuple[ApiKey, str]:
        """Replace the user's API key with a new one; the key itself is returned only here."""
        key = "sk-" + secrets.token_hex(16)
        await self.delete_api_keys(user.id)
        api_key = await ApiKey.create(user=user, key_hash=hash_api_key(key), prefix=key[:7], name=name)
        return api_key, key

    async def delete_api_keys(self, user_id: str) -> int:
        """Delete the user's API keys; how many there were."""
        deleted = await ApiKey.filter(user_id=user_id).delete()
        self.remembered.forget_user(user_id)
        return deleted


def actor_of(user: dict[str, Any], credential: str, **extra: Any) -> Actor:
    """The actor for a user row (``id``, ``role``, ``email`` and ``name``)."""
    return Actor(
        id=user["id"],
        role=user["role"],
        email=user["email"],
        name=user["name"],
        credential=credential,
        extra=extra,
    )


def user_json(user: User) -> dict[str, Any]:
    """A user in Open WebUI's ``UserModel`` shape (never the password hash or session stamp)."""
    return {
        "id": user.id,
        "email": user.email,
        "username": user.username,
        "role": user.role,
        "name": user.name,
        "profile_image_url": user.profile_image_url or f"/api/v1/users/{user.id}/profile/image",
        "bio": user.bio,
        "timezone": user.timezone,
        "active": user.active,
        "is_primary_admin": user.is_primary_admin,
        "info": user.info,
        "settings": user.settings,
        "oauth": user.oauth,
        "scim": user.scim,
        "last_active_at": user.last_active_at,
        "updated_at": user.updated_at,
        "created_at": user.created_at,
    }


def expires_in(issued: IssuedToken) -> int:
    return max(0, issued.expires_at - int(time.time()))
