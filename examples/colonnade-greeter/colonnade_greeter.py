"""Greeter: the smallest colonnade plugin with a route, a permission and a config section.

Implements: register_config_models, register_actions, register_blueprints.
Config: ``[plugins.greeter] greeting = "Hello"`` (optional: every key has a default).
Routes: ``GET /api/greeter`` greets the signed-in caller; it needs the ``greeter.greet`` action, which the
``user`` role and above have by default (``pending`` accounts get 403, anonymous callers 401).
"""

from __future__ import annotations

from typing import Any

from colonnade import Action, Actor, hookimpl, require
from pydantic import BaseModel, Field
from quart import Blueprint, current_app

bp = Blueprint("greeter", __name__)


class GreeterConfig(BaseModel):
    """``[plugins.greeter]``: validated at start, so a typo in the file stops the start with the key named."""

    greeting: str = Field("Hello", min_length=1, max_length=100)


@bp.get("")
@require("greeter.greet")
async def greet(actor: Actor) -> dict[str, Any]:
    """Greet the caller by name; ``@require`` has already answered 401/403 for anyone not allowed."""
    # The host is the per-application facade (Flask's extension convention), never a module global:
    # two applications in one process (as in tests) each see their own configuration.
    config: GreeterConfig = current_app.extensions["colonnade"].plugin_config("greeter")
    return {"message": f"{config.greeting}, {actor.name or actor.email}!", "user_id": actor.id}


@hookimpl
def register_config_models() -> dict[str, type[BaseModel]]:
    return {"greeter": GreeterConfig}


@hookimpl
def register_actions(host: Any) -> list[Action]:
    return [Action("greeter.greet", "Be greeted by the greeter example plugin", default_role="user")]


@hookimpl
def register_blueprints(host: Any) -> list[Any]:
    # Mounted at the spec prefix /api/<plugin name> (DESIGN.md C2).
    return [(bp, {"url_prefix": "/api/greeter"})]
