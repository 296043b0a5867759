"""SCIM 2.0 provisioning (RFC 7643 / RFC 7644): identity providers create, change and remove the
core's users and groups through ``/scim/v2`` (and Open WebUI's ``/api/v1/scim/v2``).

Users and Groups with filters (turned into SQL), sorting, paging, attribute selection, PATCH (with the
variants Entra ID and Okta send), ETags and the enterprise user extension. ``active: false`` disables
the account and ends its sessions and API keys. Details: ``docs/api/scim.md``.

Implements: add_hookspecs, register_config_models, register_db_models, register_events,
register_blueprints (only when ``[plugins.scim] token`` is set), startup.
Owns: ``scim_resource_types``, ``scim_prepare_resource``. Emits: ``scim.resource_changed``.
Config: ``[plugins.scim]`` (``token``, ``default_role``, ``page_size``, ``max_results``).
State: ``host.state("scim").resource_types`` (every described resource type, by name).
"""

from __future__ import annotations

from typing import Any

from colonnade.hookspecs import hookimpl


@hookimpl
def add_hookspecs(pm: Any) -> None:
    from colonnade.plugins.scim import hookspecs

    pm.add_hookspecs(hookspecs)


@hookimpl
def register_config_models() -> dict[str, Any]:
    from colonnade.plugins.scim.config import ScimConfig

    return {"scim": ScimConfig}


@hookimpl
def register_db_models() -> dict[str, list[str]]:
    return {"scim": ["colonnade.plugins.scim.models"]}


@hookimpl
def register_events() -> list[type]:
    from colonnade.plugins.scim.events import ALL_EVENTS

    return ALL_EVENTS


@hookimpl
def register_blueprints(host: Any) -> list[Any]:
    if host.plugin_config("scim").token is None:
        return []
    from colonnade.plugins.scim import views

    return [(views.bp, {"url_prefix": prefix, "name": name}) for name, prefix in views.PREFIXES.items()]


@hookimpl
def startup(host: Any) -> None:
    from colonnade.plugins.scim.discovery import collect_resource_types

    host.state("scim").resource_types = collect_resource_types(host)
