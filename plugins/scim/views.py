"""The SCIM endpoints, at ``/scim/v2`` and Open WebUI's ``/api/v1/scim/v2`` (registered only when
``[plugins.scim] token`` is set).

Discovery (``ServiceProviderConfig``, ``ResourceTypes``, ``Schemas``) is public, like Open WebUI's;
Users and Groups need ``Authorization: Bearer <token>``, compared in constant time. Session tokens and
API keys of users are not SCIM tokens and are refused. Every answer is ``application/scim+json`` and
every error the SCIM error schema.
"""

from __future__ import annotations

import json
from typing import Any

from quart import Blueprint, Response, current_app, request
from tortoise.exceptions import IntegrityError, ValidationError

from colonnade.actors import Actor
from colonnade.auth.events import UserCreated, UserDeleted, UserUpdated
from colonnade.errors import ApiError, JSONBodyRefused, load_storable_json
from colonnade.plugins.scim import definitions as d
from colonnade.plugins.scim import groups as group_store
from colonnade.plugins.scim import users as user_store
from colonnade.plugins.scim.auth import check_token
from colonnade.plugins.scim.discovery import all_schemas
from colonnade.plugins.scim.errors import CONTENT_TYPE, ScimError, invalid_syntax, invalid_value
from colonnade.plugins.scim.events import ScimResourceChanged
from colonnade.plugins.scim.listing import list_resources
from colonnade.plugins.scim.patch import apply_patch, operations_of
from colonnade.plugins.scim.resources import Selection, canonical

bp = Blueprint("scim", __name__)
PREFIXES = {"scim": "/scim/v2", "scim_v1": "/api/v1/scim/v2"}

#: The actor of every SCIM write (events, ``scim_prepare_resource``): not a user of this service.
SCIM_ACTOR = Actor(id="scim", role="pending", name="SCIM client", credential="scim_token")


def host() -> Any:
    return current_app.extensions["colonnade"]


def base_url() -> str:
    return request.url_root.rstrip("/") + PREFIXES.get(request.blueprint or "scim", "/scim/v2")


def scim_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False) if body is not None else ""
    response = Response(text, status=status, content_type=CONTENT_TYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


@bp.errorhandler(ScimError)
async def scim_error(error: ScimError) -> Response:
    return scim_response(error.body(), error.status, error.headers)


@bp.errorhandler(ValidationError)
async def value_too_long(error: ValidationError) -> Response:
    # A filter value longer than its column (an id of 40 characters, say) reaches the ORM.
    return await scim_error(ScimError(400, "a value is longer than its attribute can hold", "invalidValue"))


@bp.errorhandler(ApiError)
async def api_error(error: ApiError) -> Response:
    return scim_response(ScimError(error.status, error.detail).body(), error.status, error.headers)


# -- discovery (public) -----------------------------------------------------------------------------


def _no_filter() -> None:
    if "filter" in request.args:
        raise ScimError(403, "discovery endpoints do not take a filter")


def _list(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schemas": [d.LIST_RESPONSE], "totalResults": len(resources), "itemsPerPage": len(resources),
            "startIndex": 1, "Resources": resources}


@bp.get("/ServiceProviderConfig")
async def service_provider_config() -> Response:
    return scim_response(d.service_provider_config(base_url(), host().plugin_config("scim").max_results))


@bp.get("/ResourceTypes")
async def resource_types() -> Response:
    _no_filter()
    described = host().state("scim").resource_types.values()
    return scim_response(_list([rt.document(base_url()) for rt in described]))


@bp.get("/ResourceTypes/<name>")
async def resource_type(name: str) -> Response:
    found = host().state("scim").resource_types.get(name)
    if found is None:
        raise ScimError(404, f"resource type {name} not found")
    return scim_response(found.document(base_url()))


@bp.get("/Schemas")
async def schemas() -> Response:
    _no_filter()
    described = all_schemas(host().state("scim").resource_types)
    return scim_response(_list([schema.document(base_url()) for schema in described.values()]))


@bp.get("/Schemas/<schema_id>")
async def schema(schema_id: str) -> Response:
    found = all_schemas(host().state("scim").resource_types).get(schema_id)
    if found is None:
        raise ScimError(404, f"schema {schema_id} not found")
    return scim_response(found.document(base_url()))


# -- helpers ----------------------------------------------------------------------------------------


async def read_body(schema: str | None) -> dict[str, Any]:
    """The JSON object of the request; ``invalidSyntax`` when it is not one or lacks ``schema``."""
    media = (request.mimetype or "").lower()
    if media not in ("application/scim+json", "application/json"):
        raise ScimError(415, "send the body as application/scim+json (or application/json)")
    try:
        body = load_storable_json(await request.get_data())
    except JSONBodyRefused as refused:  # valid JSON no column can hold: NUL, a lone surrogate, ...
        raise invalid_value(str(refused)) from None
    except (ValueError, UnicodeDecodeError):
        raise invalid_syntax("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise invalid_syntax("the body must be a JSON object")
    if schema is not None:
        listed = body.get("schemas")
        if not isinstance(listed, list) or schema.lower() not in {str(item).lower() for item in listed}:
            raise invalid_syntax(f"schemas must list {schema}")
    return body


def check_version(current: dict[str, Any]) -> None:
    """Honour ``If-Match``: 412 when the resource changed since the client read it."""
    header = request.headers.get("If-Match")
    if header is None:
        return
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    if "*" not in wanted and current["meta"]["version"].removeprefix("W/") not in wanted:
        raise ScimError(412, "the resource changed since that version (If-Match does not match)")


def selection(rt: d.ScimResourceType) -> Selection:
    return Selection(rt, request.args.get("attributes"), request.args.get("excludedAttributes"))


def one(resource: dict[str, Any], rt: d.ScimResourceType, status: int = 200) -> Response:
    headers = {"ETag": resource["meta"]["version"]}
    if status == 201:
        headers["Location"] = resource["meta"]["location"]
    return scim_response(selection(rt).apply(resource), status, headers)


async def prepare(resource_type: str, operation: str, resource: dict[str, Any]) -> None:
    from colonnade.calling import await_me_maybe

    caller = host().pm.hook.scim_prepare_resource
    for result in caller(host=host(), resource_type=resource_type, operation=operation, resource=resource,
                         actor=SCIM_ACTOR):
        await await_me_maybe(result)


async def changed(resource_type: str, resource_id: str, operation: str) -> None:
    await host().emit(ScimResourceChanged(actor=SCIM_ACTOR, resource_type=resource_type,
                                          resource_id=resource_id, operation=operation))


def uniqueness() -> ScimError:
    return ScimError(409, "another resource took that unique value meanwhile", "uniqueness")


# -- Users ------------------------------------------------------------------------------------------


async def rendered_user(account: Any) -> dict[str, Any]:
    return (await user_store.render_users([account], base_url()))[0]


@bp.get("/Users")
@check_token
async def list_users() -> Response:
    return scim_response(await list_resources(d.USER, request.args, selection(d.USER), base_url()))


async def search(rt: d.ScimResourceType) -> Response:
    """``POST /<endpoint>/.search``: the query parameters of a list, as a SearchRequest body."""
    body = await read_body(d.SEARCH_REQUEST)
    params = {key: body.get(key) for key in ("filter", "startIndex", "count", "sortBy", "sortOrder")}
    lists = {}
    for key in ("attributes", "excludedAttributes"):
        value = body.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise invalid_value(f"{key} must be a list of attribute names")
        lists[key] = ",".join(value) if value else None
    chosen = Selection(rt, lists["attributes"], lists["excludedAttributes"])
    return scim_response(await list_resources(rt, params, chosen, base_url()))


@bp.post("/Users/.search")
@check_token
async def search_users() -> Response:
    return await search(d.USER)


@bp.post("/Groups/.search")
@check_token
async def search_groups() -> Response:
    return await search(d.GROUP)


@bp.post("/Users")
@check_token
async def create_user() -> Response:
    resource = canonical(d.USER, await read_body(d.CORE_USER))
    await prepare("User", "create", resource)
    plan = await user_store.plan_user(canonical(d.USER, resource), None)
    try:
        account = await user_store.create_user(host(), plan, host().plugin_config("scim").default_role)
    except IntegrityError:
        raise uniqueness() from None
    await host().emit(UserCreated(actor=SCIM_ACTOR, user_id=account.user_id))
    await changed("User", account.user_id, "create")
    return one(await rendered_user(account), d.USER, 201)


@bp.get("/Users/<user_id>")
@check_token
async def get_user(user_id: str) -> Response:
    resource = await rendered_user(await user_store.get_account(user_id))
    if request.headers.get("If-None-Match", "").strip() == resource["meta"]["version"]:
        return scim_response(None, 304, {"ETag": resource["meta"]["version"]})
    return one(resource, d.USER)


async def _store_user(account: Any, current: dict[str, Any], resource: dict[str, Any], operation: str) -> Response:
    await prepare("User", operation, resource)
    resource = canonical(d.USER, resource)
    if resource == canonical(d.USER, current):
        return one(current, d.USER)  # nothing changes: no write, the version stays (Entra ID repeats values)
    plan = await user_store.plan_user(resource, account)
    try:
        fields = await user_store.replace_user(host(), account, plan)
    except IntegrityError:
        raise uniqueness() from None
    await host().emit(UserUpdated(actor=SCIM_ACTOR, user_id=account.user_id, fields=tuple(fields)))
    await changed("User", account.user_id, operation)
    return one(await rendered_user(await user_store.get_account(account.user_id)), d.USER)


@bp.put("/Users/<user_id>")
@check_token
async def replace_user(user_id: str) -> Response:
    account = await user_store.get_account(user_id)
    current = await rendered_user(account)
    check_version(current)
    return await _store_user(account, current, canonical(d.USER, await read_body(d.CORE_USER)), "replace")


@bp.patch("/Users/<user_id>")
@check_token
async def patch_user(user_id: str) -> Response:
    account = await user_store.get_account(user_id)
    current = await rendered_user(account)
    check_version(current)
    operations = operations_of(await read_body(None))
    patched = apply_patch(d.USER, canonical(d.USER, current), operations)
    return await _store_user(account, current, patched, "patch")


@bp.delete("/Users/<user_id>")
@check_token
async def delete_user(user_id: str) -> Response:
    account = await user_store.get_account(user_id)
    current = await rendered_user(account)
    check_version(current)
    await prepare("User", "delete", current)
    if account.user.is_primary_admin:
        raise ScimError(403, "the primary admin cannot be deleted")
    await user_store.delete_user(account)
    await host().emit(UserDeleted(actor=SCIM_ACTOR, user_id=user_id))
    await changed("User", user_id, "delete")
    return scim_response(None, 204)


# -- Groups -----------------------------------------------------------------------------------------


async def rendered_group(row: Any) -> dict[str, Any]:
    return (await group_store.render_groups([row], base_url()))[0]


@bp.get("/Groups")
@check_token
async def list_groups() -> Response:
    return scim_response(await list_resources(d.GROUP, request.args, selection(d.GROUP), base_url()))


@bp.post("/Groups")
@check_token
async def create_group() -> Response:
    resource = canonical(d.GROUP, await read_body(d.CORE_GROUP))
    await prepare("Group", "create", resource)
    plan = await group_store.plan_group(canonical(d.GROUP, resource), None)
    row = await group_store.create_group(plan)
    await changed("Group", row.group_id, "create")
    return one(await rendered_group(row), d.GROUP, 201)


@bp.get("/Groups/<group_id>")
@check_token
async def get_group(group_id: str) -> Response:
    resource = await rendered_group(await group_store.get_scim_group(group_id))
    if request.headers.get("If-None-Match", "").strip() == resource["meta"]["version"]:
        return scim_response(None, 304, {"ETag": resource["meta"]["version"]})
    return one(resource, d.GROUP)


async def _store_group(row: Any, current: dict[str, Any], resource: dict[str, Any], operation: str) -> Response:
    await prepare("Group", operation, resource)
    resource = canonical(d.GROUP, resource)
    if resource == canonical(d.GROUP, current):
        return one(current, d.GROUP)  # nothing changes: no write, the version stays
    plan = await group_store.plan_group(resource, row)
    await group_store.replace_group(row, plan)
    await changed("Group", row.group_id, operation)
    return one(await rendered_group(await group_store.get_scim_group(row.group_id)), d.GROUP)


@bp.put("/Groups/<group_id>")
@check_token
async def replace_group(group_id: str) -> Response:
    row = await group_store.get_scim_group(group_id)
    current = await rendered_group(row)
    check_version(current)
    return await _store_group(row, current, canonical(d.GROUP, await read_body(d.CORE_GROUP)), "replace")


@bp.patch("/Groups/<group_id>")
@check_token
async def patch_group(group_id: str) -> Response:
    row = await group_store.get_scim_group(group_id)
    current = await rendered_group(row)
    check_version(current)
    operations = operations_of(await read_body(None))
    patched = apply_patch(d.GROUP, canonical(d.GROUP, current), operations)
    return await _store_group(row, current, patched, "patch")


@bp.delete("/Groups/<group_id>")
@check_token
async def delete_group(group_id: str) -> Response:
    row = await group_store.get_scim_group(group_id)
    current = await rendered_group(row)
    check_version(current)
    await prepare("Group", "delete", current)
    await group_store.delete_group(row)
    await changed("Group", group_id, "delete")
    return scim_response(None, 204)


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def unknown(rest: str) -> Response:
    raise ScimError(404, f"no SCIM endpoint at /{rest}")
