"""Resource bodies: read into canonical form, selected with ``attributes``/``excludedAttributes``,
versioned with ETags.

*Canonical form* is a dict keyed by the attribute names of the schema (whatever case the client
used), values coerced to their type (``"True"`` becomes ``True``, as Entra ID sends it), read-only and
unknown attributes dropped, and the extension's attributes under the extension URN, also when the
client sent them as ``"urn:...:User:department": ...`` keys.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from colonnade.plugins.scim import definitions as d
from colonnade.plugins.scim.errors import invalid_value

#: Longest string value accepted for any attribute (the columns hold 255 characters).
MAX_STRING = 255


def canonical(rt: d.ScimResourceType, body: dict[str, Any], *, keep_read_only: bool = False) -> dict[str, Any]:
    """``body`` in canonical form; ``invalidValue`` for a value of the wrong type."""
    result: dict[str, Any] = {}
    extensions = {schema.id.lower(): schema for schema, _ in rt.extensions}
    for key, value in body.items():
        if not isinstance(key, str) or key.lower() == "schemas":
            continue
        lowered = key.lower()
        if lowered in extensions:
            schema = extensions[lowered]
            if value is None:
                result[schema.id] = {}
                continue
            if not isinstance(value, dict):
                raise invalid_value(f"{schema.id} must be an object")
            part = result.setdefault(schema.id, {})
            part.update(_attributes(schema, value, keep_read_only, prefix=schema.id + ":"))
            continue
        prefixed = next((schema for low, schema in extensions.items() if lowered.startswith(low + ":")), None)
        if prefixed is not None:
            name = key[len(prefixed.id) + 1 :]
            part = result.setdefault(prefixed.id, {})
            part.update(_attributes(prefixed, {name: value}, keep_read_only, prefix=prefixed.id + ":"))
            continue
        if lowered.startswith(rt.schema.id.lower() + ":"):
            key = key[len(rt.schema.id) + 1 :]
        result.update(_attributes(rt.schema, {key: value}, keep_read_only))
    return result


def _attributes(schema: d.ScimSchema, body: dict[str, Any], keep_read_only: bool, prefix: str = "") -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in body.items():
        attribute = schema.attribute(key)
        if attribute is None or (attribute.mutability == "readOnly" and not keep_read_only):
            continue
        result[attribute.name] = coerce(attribute, value, prefix + attribute.name, keep_read_only)
    return result


def coerce(attribute: d.ScimAttribute, value: Any, where: str, keep_read_only: bool = False) -> Any:
    """``value`` as ``attribute``'s type; ``None`` stays ``None`` (the attribute is cleared)."""
    if value is None:
        return None
    if attribute.multi_valued:
        items = value if isinstance(value, list) else [value]
        single = d.ScimAttribute(**{**attribute.__dict__, "multi_valued": False})
        coerced = [coerce(single, item, where, keep_read_only) for item in items]
        return [item for item in coerced if item is not None]
    if attribute.type == "complex":
        if isinstance(value, (str, int)) and not isinstance(value, bool) and attribute.sub("value"):
            value = {"value": value}  # Entra ID sends the manager as a bare id
        if not isinstance(value, dict):
            raise invalid_value(f"{where} must be an object")
        result = {}
        for key, item in value.items():
            sub = attribute.sub(key) if isinstance(key, str) else None
            if sub is None or (sub.mutability == "readOnly" and not keep_read_only):
                continue
            coerced = coerce(sub, item, f"{where}.{sub.name}", keep_read_only)
            if coerced is not None:
                result[sub.name] = coerced
        return result
    if attribute.type == "boolean":
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if not isinstance(value, bool):
            raise invalid_value(f"{where} must be true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise invalid_value(f"{where} must be a string")
    value = str(value)
    if len(value) > MAX_STRING and attribute.mutability != "readOnly":
        raise invalid_value(f"{where} is longer than {MAX_STRING} characters")
    return value


def iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def version_of(resource: dict[str, Any]) -> str:
    """A weak ETag over everything but ``meta.location`` and ``meta.version`` (so both mounts agree)."""
    meta = {key: value for key, value in resource.get("meta", {}).items() if key not in ("location", "version")}
    digest = hashlib.sha256(
        json.dumps({**resource, "meta": meta}, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:20]
    return f'W/"{digest}"'


def stamp(resource: dict[str, Any]) -> dict[str, Any]:
    resource["meta"]["version"] = version_of(resource)
    return resource


# -- attributes / excludedAttributes --------------------------------------------------------------


def _names(rt: d.ScimResourceType, text: str | None) -> list[d.Resolved]:
    """Parse a comma-separated attribute list; unknown names are ignored (RFC 7644 section 3.9)."""
    from colonnade.plugins.scim.filters import parse_attr_path

    resolved = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        path = parse_attr_path(item, invalid_value)
        found = d.resolve(rt, path.urn, path.attr, path.sub)
        if found is not None:
            resolved.append(found)
    return resolved


class Selection:
    """Which attributes a response carries (``attributes`` and ``excludedAttributes``)."""

    def __init__(self, rt: d.ScimResourceType, attributes: str | None, excluded: str | None) -> None:
        self.rt = rt
        self.only = _names(rt, attributes) if attributes else None
        self.excluded = _names(rt, excluded) if excluded and not attributes else []

    def wants(self, name: str, schema: str | None = None) -> bool:
        """Whether the top-level attribute ``name`` (of ``schema``) appears at all (to skip loading)."""
        schema = schema or self.rt.schema.id
        if self.only is not None:
            return any(r.attribute.name == name and r.schema.id == schema for r in self.only)
        return not any(r.attribute.name == name and r.schema.id == schema and r.sub is None for r in self.excluded)

    def apply(self, resource: dict[str, Any]) -> dict[str, Any]:
        if self.only is None and not self.excluded:
            return resource
        result: dict[str, Any] = {}
        for key, value in resource.items():
            if key in ("schemas", "id"):
                result[key] = value
                continue
            schema = next((s for s, _ in self.rt.extensions if s.id == key), None)
            if schema is not None:
                kept_part = {k: self._keep(schema, k, v) for k, v in value.items()}
                part = {k: v for k, v in kept_part.items() if v is not None}
                if part:
                    result[key] = part
                continue
            kept = self._keep(self.rt.schema, key, value)
            if kept is not None:
                result[key] = kept
        return result

    def _keep(self, schema: d.ScimSchema, name: str, value: Any) -> Any:
        def subs(rules: list[d.Resolved]) -> list[str]:
            return [r.sub.name for r in rules if r.schema.id == schema.id and r.attribute.name == name and r.sub]

        def whole(rules: list[d.Resolved]) -> bool:
            return any(r.schema.id == schema.id and r.attribute.name == name and r.sub is None for r in rules)

        def pick(item: Any, keep: Any) -> Any:
            if not isinstance(item, dict):
                return item
            return {k: v for k, v in item.items() if keep(k)}

        if self.only is not None:
            if whole(self.only):
                return value
            wanted = subs(self.only)
            if not wanted:
                return None
            keep = lambda k: k in wanted  # noqa: E731
        else:
            if whole(self.excluded):
                return None
            unwanted = subs(self.excluded)
            if not unwanted:
                return value
            keep = lambda k: k not in unwanted  # noqa: E731
        if isinstance(value, list):
            picked = [pick(item, keep) for item in value]
            return [item for item in picked if item] or None
        picked = pick(value, keep)
        return picked or None
