"""``GET /api/plugins``: every registered plugin, its version, where it came from and its hooks.

Essential core plugin. Implements: register_actions, register_blueprints.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, current_app

from colonnade.actors import Action
from colonnade.hookspecs import hookimpl
from colonnade.permissions import require
from colonnade.settings import redact

bp = Blueprint("introspection", __name__)


def describe_plugins(host: Any) -> list[dict[str, Any]]:
    """What ``colonnade plugins`` prints and ``/api/plugins`` returns, sorted by name."""
    plugins = []
    for name, info in sorted(host.pm.infos.items()):
        plugins.append(
            {
                "name": name,
                "version": info.version,
                "source": info.source,
                "requires": list(info.requires),
                "hooks": host.pm.hooks_of(name),
            }
        )
    return plugins


@bp.get("/api/plugins")
@bp.get("/api/v1/plugins")
@require("introspection.view")
async def list_plugins(actor: Any) -> dict[str, Any]:
    host = current_app.extensions["colonnade"]
    configs = {name: redact(model.model_dump(mode="json")) for name, model in host._plugin_configs.items()}
    return {"plugins": describe_plugins(host), "config": configs}


@hookimpl
def register_actions(host: Any) -> list[Action]:
    return [Action("introspection.view", "List plugins and their configuration", default_role="admin")]


@hookimpl
def register_blueprints(host: Any) -> list[Blueprint]:
    return [bp]
