"""SCIM Groups on the core's groups: rendering, and create / replace / delete.

``displayName`` is the core group's name (unique regardless of case), ``members`` its members; what only
SCIM knows (externalId) lives in ``scim_group``. Members must be provisioned users: nested groups are
refused. A group is visible to SCIM only when it has a ``scim_group`` row.
"""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from colonnade.auth.models import Group, User, now, plausible_id
from colonnade.plugins.scim import definitions as d
from colonnade.plugins.scim.errors import ScimError, invalid_value, not_found
from colonnade.plugins.scim.models import ScimGroup, ScimUser
from colonnade.plugins.scim.resources import iso, stamp

#: Members one group may have through SCIM (one request's worth is checked in one query).
MAX_MEMBERS = 100_000


async def get_scim_group(group_id: str) -> ScimGroup:
    found = await ScimGroup.get_or_none(group_id=group_id).select_related("group") if plausible_id(group_id) else None
    if found is None:
        raise not_found("Group", group_id)
    return found


async def render_groups(rows: list[ScimGroup], base_url: str, *, with_members: bool = True) -> list[dict[str, Any]]:
    """The SCIM resources of a page of groups (``group`` loaded), members in one query."""
    members: dict[str, list[tuple[str, str]]] = {}
    if with_members and rows:
        pairs = await User.filter(groups__id__in=[row.group_id for row in rows]).values_list(
            "groups__id", "id", "name"
        )
        for group_id, user_id, name in sorted(pairs, key=lambda pair: (pair[2], pair[1])):
            members.setdefault(group_id, []).append((user_id, name))
    resources = [render_group(row, members.get(row.group_id, []), base_url) for row in rows]
    if not with_members:  # a version over a resource without its members would not be its version
        for resource in resources:
            resource["meta"].pop("version")
    return resources


def render_group(row: ScimGroup, members: list[tuple[str, str]], base_url: str) -> dict[str, Any]:
    group: Group = row.group
    resource: dict[str, Any] = {"schemas": [d.CORE_GROUP], "id": group.id}
    if row.external_id:
        resource["externalId"] = row.external_id
    resource["displayName"] = group.name
    if members:
        resource["members"] = [
            {"value": user_id, "$ref": f"{base_url}/Users/{user_id}", "display": name, "type": "User"}
            for user_id, name in members
        ]
    resource["meta"] = {
        "resourceType": "Group",
        "created": iso(group.created_at),
        "lastModified": iso(group.updated_at),
        "location": f"{base_url}/Groups/{group.id}",
    }
    return stamp(resource)


async def plan_group(resource: dict[str, Any], current: ScimGroup | None) -> dict[str, Any]:
    """Check a canonical Group; nothing is written.

    :raises ScimError: ``invalidValue`` for a missing name or a member that is not a provisioned user,
        ``uniqueness`` (409) for a name another group has. Members already in the group (an admin may add
        local accounts through the core API) are accepted as they are.
    """
    name = resource.get("displayName")
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise invalid_value("displayName is required")
    others = Group.filter(name__iexact=name)
    if await (others.exclude(id=current.group_id) if current else others).exists():
        raise ScimError(409, f"a group named {name!r} already exists", "uniqueness")
    members = resource.get("members") or []
    if len(members) > MAX_MEMBERS:
        raise invalid_value(f"a group has at most {MAX_MEMBERS} members")
    ids = []
    for member in members:
        value = member.get("value")
        if not isinstance(value, str) or not value:
            raise invalid_value("every member needs a value (a user id)")
        if str(member.get("type", "User")).lower() != "user":
            raise invalid_value(f"member {value!r}: only users can be members (no nested groups)")
        ids.append(value)
    unique = list(dict.fromkeys(ids))
    known = set(
        await ScimUser.filter(user_id__in=[i for i in unique if plausible_id(i)]).values_list("user_id", flat=True)
    )
    if current is not None:  # members an admin added through the core API may stay
        known |= set(await current.group.members.all().values_list("id", flat=True))
    missing = [i for i in unique if i not in known]
    if missing:
        raise invalid_value(f"members are not provisioned users: {', '.join(missing[:10])}")
    external_id = resource.get("externalId")
    return {"name": name, "external_id": external_id.strip() or None if isinstance(external_id, str) else None,
            "members": unique}


async def create_group(plan: dict[str, Any]) -> ScimGroup:
    async with in_transaction():
        try:
            group = await Group.create(name=plan["name"])
        except IntegrityError:
            raise ScimError(409, f"a group named {plan['name']!r} already exists", "uniqueness") from None
        row = await ScimGroup.create(group=group, external_id=plan["external_id"])
        await _set_members(group, plan["members"])
    row.group = group
    return row


async def replace_group(row: ScimGroup, plan: dict[str, Any]) -> None:
    group: Group = row.group
    async with in_transaction():
        group.name = plan["name"]
        group.updated_at = now()
        try:
            await group.save(update_fields=["name", "updated_at"])
        except IntegrityError:
            raise ScimError(409, f"a group named {plan['name']!r} already exists", "uniqueness") from None
        row.external_id = plan["external_id"]
        await row.save(update_fields=["external_id"])
        await _set_members(group, plan["members"])


async def _set_members(group: Group, wanted: list[str]) -> None:
    """Add and remove only the difference, so a PATCH adding one member to a large group stays cheap."""
    current = set(await group.members.all().values_list("id", flat=True))
    target = set(wanted)
    removed, added = current - target, [user_id for user_id in wanted if user_id not in current]
    if removed:
        await group.members.remove(*await User.filter(id__in=list(removed)))
    if added:
        await group.members.add(*await User.filter(id__in=added))


async def delete_group(row: ScimGroup) -> None:
    await row.group.delete()
