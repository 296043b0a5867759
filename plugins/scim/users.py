"""SCIM Users on the core's accounts: rendering, and create / replace / delete through the core.

The account itself (email, name, time zone, ``active``) is the core ``auth_user`` row, changed through
``AuthService`` where the core has a service for it (``create_user``, ``set_active``, which also ends
the account's sessions and API keys). What only SCIM knows lives in ``scim_user`` and
``scim_user_value``. A user is visible to SCIM only when it has a ``scim_user`` row (it was
provisioned); local accounts are not listed and answer 404.
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from colonnade.auth.models import Group, User, now, plausible_id
from colonnade.auth.service import normalise_email
from colonnade.errors import ApiError
from colonnade.plugins.scim import definitions as d
from colonnade.plugins.scim.errors import ScimError, invalid_value, not_found
from colonnade.plugins.scim.models import ScimGroup, ScimUser, ScimUserValue
from colonnade.plugins.scim.resources import iso, stamp

NAME_PARTS = {
    "formatted": "formatted_name",
    "familyName": "family_name",
    "givenName": "given_name",
    "middleName": "middle_name",
    "honorificPrefix": "honorific_prefix",
    "honorificSuffix": "honorific_suffix",
}
PLAIN = {
    "externalId": "external_id",
    "nickName": "nick_name",
    "title": "title",
    "userType": "user_type",
    "preferredLanguage": "preferred_language",
    "locale": "locale",
}
ENTERPRISE = {
    "employeeNumber": "employee_number",
    "costCenter": "cost_center",
    "organization": "organization",
    "division": "division",
    "department": "department",
}
MULTI = ("emails", "phoneNumbers")


async def get_account(user_id: str) -> ScimUser:
    """The provisioned user with this id, or a SCIM 404."""
    account = await ScimUser.get_or_none(user_id=user_id).select_related("user") if plausible_id(user_id) else None
    if account is None:
        raise not_found("User", user_id)
    return account


async def render_users(accounts: list[ScimUser], base_url: str) -> list[dict[str, Any]]:
    """The SCIM resources of a page of accounts (``user`` loaded), in three queries at most."""
    ids = [account.user_id for account in accounts]
    values: dict[str, list[ScimUserValue]] = {}
    if ids:
        for row in await ScimUserValue.filter(user_id__in=ids).order_by("user_id", "attribute", "position"):
            values.setdefault(row.user_id, []).append(row)
    groups: dict[str, list[tuple[str, str]]] = {}
    if ids:
        rows = await Group.filter(members__id__in=ids, id__in=Subquery(ScimGroup.all().values("group_id"))).values_list(
            "id", "name", "members__id"
        )
        for group_id, name, user_id in sorted(rows, key=lambda row: row[1]):
            groups.setdefault(user_id, []).append((group_id, name))
    return [render_user(a, values.get(a.user_id, []), groups.get(a.user_id, []), base_url) for a in accounts]


def render_user(
    account: ScimUser, values: list[ScimUserValue], groups: list[tuple[str, str]], base_url: str
) -> dict[str, Any]:
    user: User = account.user
    resource: dict[str, Any] = {"schemas": [d.CORE_USER], "id": user.id}
    if account.external_id:
        resource["externalId"] = account.external_id
    resource["userName"] = account.user_name
    name = {key: getattr(account, column) for key, column in NAME_PARTS.items() if getattr(account, column)}
    if name:
        resource["name"] = name
    resource["displayName"] = user.name
    for key, column in PLAIN.items():
        if key != "externalId" and getattr(account, column):
            resource[key] = getattr(account, column)
    if user.timezone:
        resource["timezone"] = user.timezone
    resource["active"] = user.active
    for attribute in MULTI:
        items = [_value_json(row) for row in values if row.attribute == attribute]
        if items:
            resource[attribute] = items
    if account.addresses:
        resource["addresses"] = account.addresses
    if groups:
        resource["groups"] = [
            {"value": group_id, "$ref": f"{base_url}/Groups/{group_id}", "display": name, "type": "direct"}
            for group_id, name in groups
        ]
    enterprise = {key: getattr(account, column) for key, column in ENTERPRISE.items() if getattr(account, column)}
    if account.manager_id:
        enterprise["manager"] = {"value": account.manager_id, "$ref": f"{base_url}/Users/{account.manager_id}"}
    if enterprise:
        resource["schemas"].append(d.ENTERPRISE_USER)
        resource[d.ENTERPRISE_USER] = enterprise
    resource["meta"] = {
        "resourceType": "User",
        "created": iso(user.created_at),
        "lastModified": iso(user.updated_at),
        "location": f"{base_url}/Users/{user.id}",
    }
    return stamp(resource)


def _value_json(row: ScimUserValue) -> dict[str, Any]:
    item: dict[str, Any] = {"value": row.value}
    if row.display:
        item["display"] = row.display
    if row.type:
        item["type"] = row.type
    if row.primary:
        item["primary"] = True
    return item


# -- writing ----------------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _values(resource: dict[str, Any], attribute: str) -> list[dict[str, Any]]:
    items = resource.get(attribute) or []
    for item in items:
        if not _text(item.get("value")):
            raise invalid_value(f"every one of {attribute} needs a value")
        if len(item.get("type") or "") > 64:
            raise invalid_value(f"a type of {attribute} is longer than 64 characters")
    if sum(1 for item in items if item.get("primary")) > 1:
        raise invalid_value(f"at most one of {attribute} may be primary")
    return items


async def plan_user(resource: dict[str, Any], current: ScimUser | None) -> dict[str, Any]:
    """Check a canonical User and work out every column it sets; nothing is written.

    :raises ScimError: ``invalidValue`` (400) for a missing or bad value, ``uniqueness`` (409) when the
        userName or the sign-in email belongs to another account.
    """
    current_id = current.user_id if current else None
    user_name = _text(resource.get("userName"))
    if user_name is None:
        raise invalid_value("userName is required")
    taken = ScimUser.filter(user_name_key=user_name.lower())
    if await (taken.exclude(user_id=current_id) if current_id else taken).exists():
        raise ScimError(409, f"userName {user_name!r} is already taken", "uniqueness")
    emails = _values(resource, "emails")
    phones = _values(resource, "phoneNumbers")
    sign_in = next((item for item in emails if item.get("primary")), emails[0] if emails else None)
    try:
        email = normalise_email(sign_in["value"] if sign_in else user_name)
    except ApiError:
        where = "the primary email" if sign_in else "userName (there is no email)"
        raise invalid_value(f"{where} is not an email address: an account signs in with one") from None
    others = User.filter(email=email)
    if await (others.exclude(id=current_id) if current_id else others).exists():
        raise ScimError(409, f"another account already uses the email {email}", "uniqueness")
    name = resource.get("name") or {}
    given_family = " ".join(part for part in (name.get("givenName"), name.get("familyName")) if part)
    display = _text(resource.get("displayName")) or _text(name.get("formatted")) or given_family or user_name
    timezone = _text(resource.get("timezone"))
    if timezone and len(timezone) > 64:
        raise invalid_value("timezone is longer than 64 characters")
    enterprise = resource.get(d.ENTERPRISE_USER) or {}
    manager = _text((enterprise.get("manager") or {}).get("value"))
    if manager and (manager == current_id or not await ScimUser.filter(user_id=manager).exists()):
        raise invalid_value(f"manager {manager!r} is not another provisioned user")
    columns = {
        "user_name": user_name,
        "user_name_key": user_name.lower(),
        **{column: _text(name.get(key)) for key, column in NAME_PARTS.items()},
        **{column: _text(resource.get(key)) for key, column in PLAIN.items()},
        **{column: _text(enterprise.get(key)) for key, column in ENTERPRISE.items()},
        "manager_id": manager,
        "addresses": resource.get("addresses") or None,
    }
    return {
        "account": columns,
        "core": {"email": email, "name": display.strip(), "timezone": timezone},
        "active": resource.get("active"),
        "values": [(attribute, items) for attribute, items in (("emails", emails), ("phoneNumbers", phones))],
    }


async def create_user(host: Any, plan: dict[str, Any], role: str) -> ScimUser:
    service = host.state("auth").service
    active = plan["active"] if plan["active"] is not None else True
    async with in_transaction():
        try:
            user = await service.create_user(
                password=None, role=role, active=active, **plan["core"]
            )
        except ApiError as error:
            raise ScimError(409 if error.status == 409 else 400, error.detail,
                            "uniqueness" if error.status == 409 else "invalidValue") from None
        account = await ScimUser.create(user=user, **plan["account"])
        await _write_values(user.id, plan["values"])
    account.user = user
    return account


async def replace_user(host: Any, account: ScimUser, plan: dict[str, Any]) -> list[str]:
    """Write a checked plan over an account; returns the core fields that changed."""
    user: User = account.user
    service = host.state("auth").service
    changed = [key for key, value in plan["core"].items() if getattr(user, key) != value]
    async with in_transaction():
        for key, value in plan["core"].items():
            setattr(user, key, value)
        user.updated_at = now()
        await user.save(update_fields=[*plan["core"], "updated_at"])
        if plan["active"] is not None and plan["active"] != user.active:
            await service.set_active(user, plan["active"])  # disabling ends sessions and API keys
            changed.append("active")
        for key, value in plan["account"].items():
            setattr(account, key, value)
        await account.save(update_fields=list(plan["account"]))
        await ScimUserValue.filter(user_id=user.id).delete()
        await _write_values(user.id, plan["values"])
    return changed


async def _write_values(user_id: str, values: list[tuple[str, list[dict[str, Any]]]]) -> None:
    rows = [
        ScimUserValue(
            user_id=user_id,
            attribute=attribute,
            value=item["value"].strip(),
            display=_text(item.get("display")),
            type=_text(item.get("type")),
            primary=bool(item.get("primary")),
            position=position,
        )
        for attribute, items in values
        for position, item in enumerate(items)
    ]
    if rows:
        await ScimUserValue.bulk_create(rows)


async def delete_user(account: ScimUser) -> None:
    """Delete the core account (its SCIM rows, memberships, sessions and keys go with it)."""
    async with in_transaction():
        await ScimUser.filter(manager_id=account.user_id).update(manager_id=None)
        await account.user.delete()
