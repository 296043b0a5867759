"""Headless bootstrap: create the configured admin at start when there are no users yet."""

from __future__ import annotations

import logging
from typing import Any

from colonnade.auth.models import User

log = logging.getLogger("colonnade.auth")


async def create_configured_admin(host: Any) -> None:
    settings = host.settings.auth
    if not settings.admin_email or settings.admin_password is None or await User.exists():
        return
    service = host.state("auth").service
    user = await service.create_user(
        email=settings.admin_email,
        name=settings.admin_name,
        password=settings.admin_password.get_secret_value(),
        role="admin",
        may_become_primary=True,
    )
    log.info("created the configured admin account %s", user.email)
