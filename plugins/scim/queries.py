"""Filters and ``sortBy`` turned into Tortoise queries (so into SQL), never evaluated in Python.

Each resource type has a *scope*: what each attribute path is in the database. A single-valued
attribute is a column (of ``scim_user`` / ``scim_group`` or, through the one-to-one link, of the core
``auth_user`` / ``auth_group``); a multi-valued one (``emails``, ``members``, ``groups``) is a
sub-query over its own rows, so ``emails[type eq "work" and value co "@x"]`` asks for one row that
matches both, and ``or``/``not`` never multiply results. ``userName`` compares its lower-cased copy,
which is the unique index: ``userName eq "..."`` is an index lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.expressions import Q, Subquery

from colonnade.auth.models import ID_LENGTH, Group, User
from colonnade.plugins.scim import definitions as d
from colonnade.plugins.scim.errors import ScimError, invalid_filter, invalid_value
from colonnade.plugins.scim.filters import (
    AttrPath,
    Compare,
    Logical,
    Not,
    Present,
    ValuePath,
    compare_values,
    parse_attr_path,
)
from colonnade.plugins.scim.models import ScimGroup, ScimUserValue

@dataclass(frozen=True)
class Column:
    """A column compared with the attribute's type and case rules.

    :param lowered: The column holds a lower-cased copy: compare with the value lower-cased, exactly.
    """

    field: str
    attribute: d.ScimAttribute
    lowered: bool = False
    #: The longest value the column holds (the ORM refuses to compare with a longer one).
    max_length: int = 255


@dataclass(frozen=True)
class Constant:
    """An attribute whose value is the same for every resource (``members.type`` is ``User``)."""

    value: Any
    attribute: d.ScimAttribute
    #: A never-NULL column of the model queried, to say "no row" when the comparison is false.
    key: str = "id"


@dataclass(frozen=True)
class Related:
    """A multi-valued attribute: ``wrap(q)`` selects the resources with a row matching ``q``."""

    wrap: Callable[[Q], Q]
    columns: dict[str, Column | Constant]
    attribute: d.ScimAttribute


@dataclass
class Scope:
    """What each attribute path of one resource type is in the database."""

    resource_type: d.ScimResourceType
    targets: dict[str, Column | Constant | Related] = field(default_factory=dict)

    def target(self, path: AttrPath) -> tuple[Column | Constant | Related, str | None]:
        """The target of ``path`` and, for a multi-valued attribute, the sub-attribute named."""
        resolved = d.resolve(self.resource_type, path.urn, path.attr, path.sub)
        if resolved is None:
            raise invalid_filter(f"unknown attribute {path}")
        direct = self.targets.get(resolved.key)
        if direct is not None:
            return direct, None
        whole = self.targets.get(d.Resolved(resolved.schema, resolved.attribute).key)
        if isinstance(whole, Related) and resolved.sub is not None:
            return whole, resolved.sub.name
        raise invalid_filter(f"attribute {path} cannot be filtered on")


#: Columns shorter than the usual 255 characters.
_LENGTHS = {"user_id": ID_LENGTH, "group_id": ID_LENGTH, "user__timezone": 64, "type": 64}


def _attr(resource_type: d.ScimResourceType, key: str) -> d.ScimAttribute:
    urn, _, name = key.rpartition(":") if key.startswith("urn:") else (None, "", key)
    attr, _, sub = name.partition(".")
    resolved = d.resolve(resource_type, urn, attr, sub or None)
    assert resolved is not None, key
    return resolved.sub or resolved.attribute


def _user_scope() -> Scope:
    rt = d.USER
    scope = Scope(rt)
    plain = {
        "id": "user_id",
        "externalId": "external_id",
        "name.formatted": "formatted_name",
        "name.familyName": "family_name",
        "name.givenName": "given_name",
        "name.middleName": "middle_name",
        "name.honorificPrefix": "honorific_prefix",
        "name.honorificSuffix": "honorific_suffix",
        "displayName": "user__name",
        "nickName": "nick_name",
        "title": "title",
        "userType": "user_type",
        "preferredLanguage": "preferred_language",
        "locale": "locale",
        "timezone": "user__timezone",
        "active": "user__active",
        "meta.created": "user__created_at",
        "meta.lastModified": "user__updated_at",
        f"{d.ENTERPRISE_USER}:employeeNumber": "employee_number",
        f"{d.ENTERPRISE_USER}:costCenter": "cost_center",
        f"{d.ENTERPRISE_USER}:organization": "organization",
        f"{d.ENTERPRISE_USER}:division": "division",
        f"{d.ENTERPRISE_USER}:department": "department",
        f"{d.ENTERPRISE_USER}:manager.value": "manager_id",
    }
    for key, column in plain.items():
        scope.targets[key] = Column(column, _attr(rt, key), max_length=_LENGTHS.get(column, 255))
    scope.targets["userName"] = Column("user_name_key", _attr(rt, "userName"), lowered=True)
    scope.targets["meta.resourceType"] = Constant("User", d.META.sub("resourceType"), "user_id")  # type: ignore[arg-type]
    for name in ("emails", "phoneNumbers"):
        attribute = _attr(rt, name)
        scope.targets[name] = Related(
            _values_of(name),
            {sub: Column(sub, attribute.sub(sub), max_length=_LENGTHS.get(sub, 255))  # type: ignore[arg-type]
             for sub in ("value", "display", "type", "primary")},
            attribute,
        )
    groups = _attr(rt, "groups")
    scope.targets["groups"] = Related(
        lambda q: Q(user_id__in=Subquery(User.filter(q, groups__id__in=Subquery(ScimGroup.all().values("group_id"))).values("id"))),
        {
            "value": Column("groups__id", groups.sub("value"), max_length=ID_LENGTH),  # type: ignore[arg-type]
            "display": Column("groups__name", groups.sub("display")),  # type: ignore[arg-type]
            "type": Constant("direct", groups.sub("type")),  # type: ignore[arg-type]
        },
        groups,
    )
    return scope


def _values_of(name: str) -> Callable[[Q], Q]:
    return lambda q: Q(user_id__in=Subquery(ScimUserValue.filter(q, attribute=name).values("user_id")))


def _group_scope() -> Scope:
    rt = d.GROUP
    scope = Scope(rt)
    for key, column in {
        "id": "group_id",
        "externalId": "external_id",
        "displayName": "group__name",
        "meta.created": "group__created_at",
        "meta.lastModified": "group__updated_at",
    }.items():
        scope.targets[key] = Column(column, _attr(rt, key), max_length=_LENGTHS.get(column, 255))
    scope.targets["meta.resourceType"] = Constant("Group", d.META.sub("resourceType"), "group_id")  # type: ignore[arg-type]
    members = _attr(rt, "members")
    scope.targets["members"] = Related(
        lambda q: Q(group_id__in=Subquery(Group.filter(q).values("id"))),
        {
            "value": Column("members__id", members.sub("value"), max_length=ID_LENGTH),  # type: ignore[arg-type]
            "display": Column("members__name", members.sub("display")),  # type: ignore[arg-type]
            "type": Constant("User", members.sub("type")),  # type: ignore[arg-type]
        },
        members,
    )
    return scope


SCOPES = {"User": _user_scope(), "Group": _group_scope()}


def to_query(resource_type: str, node: Any) -> Q:
    """The ``Q`` selecting the resources a parsed filter matches (on ``ScimUser`` / ``ScimGroup``)."""
    return _translate(node, SCOPES[resource_type])


def _translate(node: Any, scope: Scope) -> Q:
    if isinstance(node, Logical):
        left, right = _translate(node.left, scope), _translate(node.right, scope)
        return (left & right) if node.op == "and" else (left | right)
    if isinstance(node, Not):
        return ~_translate(node.inner, scope)
    if isinstance(node, ValuePath):
        target, sub = scope.target(node.path)
        if not isinstance(target, Related):
            raise invalid_filter(f"{node.path} is not multi-valued: it takes no [filter]")
        return target.wrap(_translate_inner(node.inner, target))
    target, sub = scope.target(node.path)
    if isinstance(target, Related):
        inner_path = AttrPath(None, sub or "value")
        if isinstance(node, Present) and sub is None:
            return target.wrap(Q())
        inner = Present(inner_path) if isinstance(node, Present) else Compare(inner_path, node.op, node.value)
        return target.wrap(_translate_inner(inner, target))
    if isinstance(node, Present):
        return _present(target)
    return _compare(target, node.op, node.value, str(node.path))


def _translate_inner(node: Any, related: Related) -> Q:
    """A value filter (inside ``[...]``) on the rows of one multi-valued attribute."""
    if isinstance(node, Logical):
        left, right = _translate_inner(node.left, related), _translate_inner(node.right, related)
        return (left & right) if node.op == "and" else (left | right)
    if isinstance(node, Not):
        return ~_translate_inner(node.inner, related)
    if isinstance(node, ValuePath) or node.path.sub is not None or node.path.urn is not None:
        raise invalid_filter(f"invalid attribute {node.path} inside a value filter")
    name = related.attribute.sub(node.path.attr)
    target = related.columns.get(name.name) if name else None
    if target is None:
        raise invalid_filter(f"{related.attribute.name}.{node.path.attr} cannot be filtered on")
    if isinstance(node, Present):
        return _present(target)
    return _compare(target, node.op, node.value, f"{related.attribute.name}.{node.path.attr}")


def _present(target: Column | Constant) -> Q:
    if isinstance(target, Constant):
        return Q()
    if target.attribute.type == "string" or target.attribute.type == "reference":
        return Q(**{f"{target.field}__isnull": False}) & ~Q(**{target.field: ""})
    return Q(**{f"{target.field}__isnull": False})


LOOKUPS = {"eq": "", "co": "contains", "sw": "startswith", "ew": "endswith", "gt": "gt", "ge": "gte",
           "lt": "lt", "le": "lte"}


def _compare(target: Column | Constant, op: str, value: Any, where: str) -> Q:
    attribute = target.attribute
    value = _typed(attribute, op, value, where)
    if isinstance(target, Constant):
        matched = compare_values(target.value, op, value, attribute.case_exact)
        return Q() if matched else Q(**{f"{target.key}__isnull": True})
    if value is None:  # eq null: not present; ne null: present
        present = _present(target)
        return ~present if op == "eq" else present
    if isinstance(value, str) and len(value) > target.max_length:
        return _beyond(target, op, value)
    if op == "ne":
        return ~_compare(target, "eq", value, where)
    case_insensitive = attribute.type in ("string", "reference") and not attribute.case_exact
    if target.lowered:
        value, case_insensitive = value.lower(), False
    lookup = LOOKUPS[op]
    if case_insensitive and op in ("eq", "co", "sw", "ew"):
        lookup = "i" + (lookup or "exact")
    return Q(**{f"{target.field}__{lookup}" if lookup else target.field: value})


def _beyond(target: Column, op: str, value: str) -> Q:
    """A comparison with a string longer than any the column holds, without handing it to the ORM: no
    value equals it, and order comparisons depend only on its first ``max_length`` characters."""
    if op == "eq":
        return Q(**{f"{target.field}__isnull": True}) & Q(**{f"{target.field}__isnull": False})
    if op == "ne":
        return _present(target)
    if op in ("co", "sw", "ew"):
        return _compare(target, "eq", value, "")  # nothing holds a longer string
    prefix = value[: target.max_length]
    if target.lowered:
        prefix = prefix.lower()
    lookup = "gt" if op in ("gt", "ge") else "lte"
    return Q(**{f"{target.field}__{lookup}": prefix})


def _typed(attribute: d.ScimAttribute, op: str, value: Any, where: str) -> Any:
    """The comparison value as the column holds it; ``invalidFilter`` when the operator or the value
    does not suit the attribute's type."""
    if value is None:
        if op not in ("eq", "ne"):
            raise invalid_filter(f"{where} {op} null: only eq and ne compare with null")
        return None
    if attribute.type == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if op not in ("eq", "ne") or not isinstance(value, bool):
            raise invalid_filter(f"{where} is a boolean: compare it with eq or ne and true or false")
        return value
    if attribute.type == "dateTime":
        if op in ("co", "sw", "ew") or not isinstance(value, str):
            raise invalid_filter(f"{where} is a dateTime: compare it with eq, ne, gt, ge, lt or le and a date")
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise invalid_filter(f"{where}: {value!r} is not an ISO 8601 date and time") from None
        if moment.tzinfo is None:
            raise invalid_filter(f"{where}: {value!r} needs a time zone (Z or +hh:mm)")
        return int(moment.timestamp())
    if not isinstance(value, str) or isinstance(value, bool):
        raise invalid_filter(f"{where} is a string: compare it with a quoted string")
    return value


def sort_field(resource_type: str, sort_by: str) -> str:
    """The column that ``sortBy`` names; ``invalidValue`` when it is not a sortable attribute."""
    path = parse_attr_path(sort_by, invalid_value)
    scope = SCOPES[resource_type]
    try:
        target, sub = scope.target(path)
    except ScimError:
        raise invalid_value(f"cannot sort by {sort_by!r}") from None
    if resource_type == "User" and isinstance(target, Related) and target.attribute.name == "emails" and sub in (None, "value"):
        return "user__email"  # the primary email, the one the account signs in with
    if not isinstance(target, Column):
        raise invalid_value(f"cannot sort by {sort_by!r}: sort by a single-valued attribute")
    return target.field
