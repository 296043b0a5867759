"""``GET /Users``, ``GET /Groups`` (and their ``POST .../.search``): filter, sort and page in the
database, then render one page.

``startIndex`` is 1-based (below 1 counts as 1), ``count`` defaults to ``page_size`` and is capped at
``max_results`` (negative counts as 0, which answers ``totalResults`` alone). Without ``sortBy`` the
order is creation time, then id, so pages are stable.
"""

from __future__ import annotations

from typing import Any

from collections.abc import Mapping

from quart import current_app

from colonnade.plugins.scim import definitions as d
from colonnade.plugins.scim.errors import invalid_value
from colonnade.plugins.scim.filters import parse_filter
from colonnade.plugins.scim.models import ScimGroup, ScimUser
from colonnade.plugins.scim.queries import sort_field, to_query
from colonnade.plugins.scim.resources import Selection

#: Largest startIndex accepted (keeps the SQL offset a sane integer).
MAX_START = 10_000_000


def _integer(params: Mapping[str, Any], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return default
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise invalid_value(f"{name} must be an integer")
    try:
        return int(raw)
    except ValueError:
        raise invalid_value(f"{name} must be an integer") from None


def _text(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid_value(f"{name} must be a string")
    return value


def page_arguments(params: Mapping[str, Any]) -> tuple[int, int]:
    config = current_app.extensions["colonnade"].plugin_config("scim")
    start = min(max(_integer(params, "startIndex", 1), 1), MAX_START)
    count = min(max(_integer(params, "count", config.page_size), 0), config.max_results)
    return start, count


def queries(resource_type: str, text: str | None, sort_by: str | None, descending: bool, start: int,
            count: int) -> tuple[Any, Any]:
    """The count query and the page query of a listing (``bench/scim.py`` explains these very ones).

    :raises ScimError: ``invalidFilter`` for a bad filter, ``invalidValue`` for a bad ``sortBy``.
    """
    is_user = resource_type == "User"
    query = (ScimUser if is_user else ScimGroup).all()
    if text is not None:
        query = query.filter(to_query(resource_type, parse_filter(text)))
    link = "user" if is_user else "group"
    column = sort_field(resource_type, sort_by) if sort_by else f"{link}__created_at"
    sign = "-" if descending else ""
    page = query.order_by(sign + column, sign + f"{link}_id").offset(start - 1).limit(count).select_related(link)
    return query, page


async def list_resources(
    rt: d.ScimResourceType, params: Mapping[str, Any], selection: Selection, base_url: str
) -> dict[str, Any]:
    """One ListResponse page.

    :param params: ``filter``, ``startIndex``, ``count``, ``sortBy``, ``sortOrder``: the query string
        of a GET, or the body of a ``.search``.
    """
    from colonnade.plugins.scim.groups import render_groups
    from colonnade.plugins.scim.users import render_users

    start, count = page_arguments(params)
    order = (_text(params, "sortOrder") or "ascending").lower()
    if order not in ("ascending", "descending"):
        raise invalid_value("sortOrder must be ascending or descending")
    query, page = queries(rt.name, _text(params, "filter"), _text(params, "sortBy") or None,
                          order == "descending", start, count)
    rows: list[Any] = await page if count else []
    # A first page that is not full holds every match: no need to count them again (lookups such as
    # userName eq answer in one query fewer).
    total = len(rows) if (start == 1 and len(rows) < count) else await query.count()
    if rt.name == "User":
        resources = await render_users(rows, base_url)
    else:
        resources = await render_groups(rows, base_url, with_members=selection.wants("members"))
    return {
        "schemas": [d.LIST_RESPONSE],
        "totalResults": total,
        "itemsPerPage": len(resources),
        "startIndex": start,
        "Resources": [selection.apply(resource) for resource in resources],
    }
