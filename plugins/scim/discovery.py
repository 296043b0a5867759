"""The resource types this service describes: User and Group, plus those of ``scim_resource_types``."""

from __future__ import annotations

from typing import Any

from colonnade.errors import StartupError
from colonnade.plugins.scim import definitions as d


def collect_resource_types(host: Any) -> dict[str, d.ScimResourceType]:
    """``{name: ScimResourceType}``; a name or schema described twice stops the start."""
    found: dict[str, d.ScimResourceType] = {rt.name: rt for rt in d.BUILT_IN}
    schemas = {schema.id for rt in d.BUILT_IN for schema in schemas_of(rt)}
    for items in host.pm.hook.scim_resource_types(host=host):
        for rt in items or ():
            if not isinstance(rt, d.ScimResourceType):
                raise StartupError(f"scim_resource_types returned {rt!r}, not a ScimResourceType")
            if rt.name in found:
                raise StartupError(f"SCIM resource type {rt.name!r} is described twice")
            for schema in schemas_of(rt):
                if schema.id in schemas:
                    raise StartupError(f"SCIM schema {schema.id!r} is described twice")
                schemas.add(schema.id)
            found[rt.name] = rt
    return found


def schemas_of(rt: d.ScimResourceType) -> list[d.ScimSchema]:
    return [rt.schema, *(schema for schema, _ in rt.extensions)]


def all_schemas(resource_types: dict[str, d.ScimResourceType]) -> dict[str, d.ScimSchema]:
    return {schema.id: schema for rt in resource_types.values() for schema in schemas_of(rt)}
