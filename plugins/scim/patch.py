"""PATCH (RFC 7644 section 3.5.2) applied to a resource in canonical form, in memory.

The view reads the current resource, applies every operation here, then stores the result through
the same checks as a PUT: all operations succeed or nothing is written. Accepted on top of the RFC,
because identity providers send them: op names in any case (Entra ID's ``"Replace"``), booleans as
strings (``"False"``), a path-less ``replace`` whose value object has paths as keys
(``{"name.givenName": "Ann"}``), a ``remove`` of ``members`` with a value list (which members to
remove), and ``add``/``replace`` on ``emails[type eq "work"].value`` when no email has that type yet
(it is added).
"""

from __future__ import annotations

import copy
from typing import Any

from colonnade.plugins.scim import definitions as d
from colonnade.plugins.scim.errors import ScimError, invalid_path, invalid_syntax, invalid_value
from colonnade.plugins.scim.filters import (
    Compare,
    Logical,
    Not,
    PatchPath,
    Present,
    equalities,
    matches,
    parse_patch_path,
)
from colonnade.plugins.scim.resources import coerce

#: Operations one PATCH request may carry.
MAX_OPERATIONS = 1000


def operations_of(body: Any) -> list[dict[str, Any]]:
    """The ``Operations`` of a PatchOp body; ``invalidSyntax`` when it is not one."""
    if not isinstance(body, dict):
        raise invalid_syntax("the body must be a JSON object")
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or d.PATCH_OP not in schemas:
        raise invalid_syntax(f"schemas must list {d.PATCH_OP}")
    operations = next((value for key, value in body.items() if key.lower() == "operations"), None)
    if not isinstance(operations, list) or not operations:
        raise invalid_syntax("Operations must be a non-empty list")
    if len(operations) > MAX_OPERATIONS:
        raise invalid_syntax(f"at most {MAX_OPERATIONS} operations per request")
    for operation in operations:
        if not isinstance(operation, dict):
            raise invalid_syntax("every operation must be an object")
    return operations


def apply_patch(rt: d.ScimResourceType, resource: dict[str, Any], operations: list[dict[str, Any]]) -> dict[str, Any]:
    """A patched copy of ``resource`` (canonical form); the input is left alone."""
    result = copy.deepcopy(resource)
    for operation in operations:
        fields = {key.lower(): value for key, value in operation.items()}
        op = fields.get("op")
        op = op.lower() if isinstance(op, str) else op
        if op not in ("add", "replace", "remove"):
            raise invalid_syntax(f"unknown op {operation.get('op')!r}: use add, replace or remove")
        path = fields.get("path")
        if path is not None and not isinstance(path, str):
            raise invalid_path("path must be a string")
        if op != "remove" and "value" not in fields:
            raise invalid_value(f"{op} needs a value")
        value = fields.get("value")
        if not path:
            if op == "remove":
                raise ScimError(400, "remove needs a path", "noTarget")
            if not isinstance(value, dict):
                raise invalid_value(f"{op} without a path needs an object value")
            for key, item in value.items():
                if isinstance(key, str) and key.lower() != "schemas":
                    _apply_one(rt, result, op, key, item, pathless=True)
            continue
        _apply_one(rt, result, op, path, value)
    return result


def _apply_one(rt: d.ScimResourceType, resource: dict[str, Any], op: str, path_text: str, value: Any,
               pathless: bool = False) -> None:
    extension_keys = {schema.id.lower(): schema for schema, _ in rt.extensions}
    if pathless and path_text.lower() in extension_keys:
        # {"urn:...:enterprise:2.0:User": {"department": "x"}} without a path: each attribute in turn
        schema = extension_keys[path_text.lower()]
        if not isinstance(value, dict):
            raise invalid_value(f"{schema.id} must be an object")
        for key, item in value.items():
            _apply_one(rt, resource, op, f"{schema.id}:{key}", item)
        return
    path = parse_patch_path(path_text)
    resolved = d.resolve(rt, path.path.urn, path.path.attr, path.path.sub)
    if resolved is None:
        raise invalid_path(f"unknown attribute {path_text!r}")
    attribute, sub = resolved.attribute, resolved.sub
    if path.sub is not None:
        if sub is not None:
            raise invalid_path(f"invalid path {path_text!r}")
        sub = attribute.sub(path.sub)
        if sub is None:
            raise invalid_path(f"unknown attribute {path_text!r}")
    for checked in (attribute, sub):
        if checked is not None and checked.mutability == "readOnly":
            if pathless:  # Okta repeats the id in a path-less replace: read-only keys are skipped
                return
            raise ScimError(400, f"{path_text} is read-only", "mutability")
    container = resource
    if resolved.schema.id not in (d.CORE_USER, d.CORE_GROUP):
        container = resource.setdefault(resolved.schema.id, {})
        if not isinstance(container, dict):
            container = resource[resolved.schema.id] = {}
    where = str(path_text)
    if path.filter is not None:
        if not attribute.multi_valued:
            raise invalid_path(f"{attribute.name} is not multi-valued: it takes no [filter]")
        _apply_filtered(attribute, container, op, path, sub, value, where)
        return
    if sub is not None:  # name.givenName, manager.value
        if op == "remove":
            part = container.get(attribute.name)
            if isinstance(part, dict):
                part.pop(sub.name, None)
            return
        part = container.get(attribute.name)
        if not isinstance(part, dict):
            part = container[attribute.name] = {}
        part[sub.name] = coerce(sub, value, where)
        return
    if op == "remove":
        if attribute.multi_valued and value is not None:
            _remove_listed(attribute, container, value, where)
        else:
            container.pop(attribute.name, None)
        return
    new = coerce(attribute, value, where)
    if attribute.multi_valued and op == "add":
        existing = list(container.get(attribute.name) or [])
        for item in new or []:
            if item not in existing and not _same_value(attribute, item, existing):
                existing.append(item)
        container[attribute.name] = existing
    elif attribute.type == "complex" and not attribute.multi_valued and op == "add" and isinstance(new, dict):
        container[attribute.name] = {**(container.get(attribute.name) or {}), **new}
    else:
        container[attribute.name] = new


def _same_value(attribute: d.ScimAttribute, item: Any, existing: list[Any]) -> bool:
    """Whether a ``members``-like value is already there (members are compared by ``value`` only)."""
    if attribute.name != "members" or not isinstance(item, dict):
        return False
    return any(isinstance(other, dict) and other.get("value") == item.get("value") for other in existing)


def _remove_listed(attribute: d.ScimAttribute, container: dict[str, Any], value: Any, where: str) -> None:
    """``{"op": "remove", "path": "members", "value": [{"value": "id"}]}``: remove those values."""
    listed = coerce(attribute, value, where) or []
    gone = {item.get("value") for item in listed if isinstance(item, dict)}
    container[attribute.name] = [
        item for item in container.get(attribute.name) or [] if not (isinstance(item, dict) and item.get("value") in gone)
    ]


def _apply_filtered(attribute: d.ScimAttribute, container: dict[str, Any], op: str, path: PatchPath,
                    sub: d.ScimAttribute | None, value: Any, where: str) -> None:
    items = [item for item in container.get(attribute.name) or [] if isinstance(item, dict)]

    def case_exact(name: str) -> bool:
        found = attribute.sub(name)
        return found.case_exact if found else False

    for name in _filter_names(path.filter):
        if attribute.sub(name) is None:
            raise invalid_path(f"unknown attribute {attribute.name}.{name} in {where}")
    hits = [item for item in items if matches(path.filter, item, case_exact)]
    if op == "remove":
        if sub is None:
            container[attribute.name] = [item for item in items if item not in hits]
        else:
            for item in hits:
                item.pop(sub.name, None)
            container[attribute.name] = [item for item in items if item]
        return
    if not hits:
        seed = equalities(path.filter)
        if seed is None:
            raise ScimError(400, f"no value matches {where}", "noTarget")
        item = coerce(d.ScimAttribute(**{**attribute.__dict__, "multi_valued": False}), seed, where)
        items.append(item)
        hits = [item]
    for item in hits:
        if sub is not None:
            item[sub.name] = coerce(sub, value, where)
        else:
            replacement = coerce(d.ScimAttribute(**{**attribute.__dict__, "multi_valued": False}), value, where)
            if not isinstance(replacement, dict):
                raise invalid_value(f"{where} needs an object value")
            if op == "replace":
                item.clear()
            item.update(replacement)
    container[attribute.name] = items


def _filter_names(node: Any) -> list[str]:
    if isinstance(node, Logical):
        return _filter_names(node.left) + _filter_names(node.right)
    if isinstance(node, Not):
        return _filter_names(node.inner)
    if isinstance(node, (Compare, Present)):
        if node.path.sub is not None or node.path.urn is not None:
            raise invalid_path(f"invalid attribute {node.path} inside a value filter")
        return [node.path.attr]
    raise invalid_path("value filters cannot nest")
