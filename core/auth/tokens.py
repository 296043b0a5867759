"""Session JWTs: HS256, ``exp`` always set, ``jti`` for revocation, the user's session stamp inside."""

from __future__ import annotations

import os
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ALGORITHM = "HS256"
#: Tokens whose signature was checked, remembered with their claims so that a client sending the same
#: token on every request pays for HMAC and JSON decoding once. Expiry is checked on every use.
VERIFIED_TOKENS_KEPT = 4096


class InvalidToken(Exception):
    """The token is malformed, tampered with, expired or not ours."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: int


class Tokens:
    """Issue and verify session tokens.

    :param secret: The HS256 signing secret.
    :param lifetime: Seconds a token stays valid.
    """

    def __init__(self, secret: str, lifetime: float) -> None:
        self._secret = secret
        self.lifetime = lifetime
        self._verified: dict[str, dict[str, Any]] = {}

    def issue(self, user_id: str, session_stamp: str, method: str = "password") -> IssuedToken:
        issued_at = int(time.time())
        expires_at = issued_at + int(self.lifetime)
        jti = str(uuid.uuid4())
        claims = {
            "id": user_id,
            "typ": "session",
            "auth_method": method,
            "session_stamp": session_stamp,
            "iat": issued_at,
            "exp": expires_at,
            "jti": jti,
        }
        import jwt  # on first use: PyJWT imports cryptography, 60 to 100 ms of every start

        return IssuedToken(jwt.encode(claims, self._secret, algorithm=ALGORITHM), jti, expires_at)

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token; ``InvalidToken`` otherwise (only HS256 is accepted, so a token
        claiming ``alg: none`` or another algorithm fails). Do not change the returned claims."""
        claims = self._verified.get(token)
        if claims is not None:
            if claims["exp"] > time.time():
                return claims
            del self._verified[token]
            raise InvalidToken("Signature has expired")
        import jwt

        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={"require": ["exp", "iat", "jti", "id"]},
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from None
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            del self._verified[next(iter(self._verified))]  # the oldest entry
        self._verified[token] = claims
        return claims


def load_or_create_secret(data_dir: Path) -> str:
    """The secret stored in ``<data_dir>/.secret_key``, generated (mode 0600) on first start."""
    path = data_dir / ".secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # Written aside, then linked into place: when several workers start at once exactly one link
    # succeeds, and no worker ever reads a half-written file.
    draft = data_dir / f".secret_key.{secrets.token_hex(4)}"
    draft.write_text(secret)
    draft.chmod(0o600)
    try:
        os.link(draft, path)
    except FileExistsError:
        secret = path.read_text().strip()
    finally:
        draft.unlink()
    return secret
