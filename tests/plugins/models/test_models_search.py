"""``GET /api/models/search``: by name, id and tag, paginated, only what the caller may read."""

from __future__ import annotations

import pytest
import pytest_asyncio

pytestmark = pytest.mark.asyncio


async def ids(client, caller, **params):
    response = await client.get("/api/models/search", query_string=params, headers=caller.headers)
    assert response.status_code == 200, await response.get_data()
    return [item["id"] for item in (await response.get_json())["items"]]


@pytest_asyncio.fixture
async def catalogue(creator, create_model):
    await create_model(
        creator, "coder", name="Python Coder", meta={"tags": [{"name": "Code"}, {"name": "python"}]}
    )
    await create_model(creator, "writer", name="Blog Writer", meta={"tags": [{"name": "writing"}]})
    await create_model(creator, "reviewer", name="Code Reviewer", base_model_id="qwen2.5-coder", meta={})


async def test_search_by_name_id_and_tag(client, creator, catalogue):
    assert await ids(client, creator, name="writer", order_by="name", direction="asc") == ["writer"]
    assert sorted(await ids(client, creator, name="CODE")) == ["coder", "reviewer"]
    assert await ids(client, creator, id="rev") == ["reviewer"]
    assert await ids(client, creator, tag="code") == ["coder"]
    assert await ids(client, creator, tag=" Python ") == ["coder"]
    assert await ids(client, creator, tag="nothing") == []
    # query matches name, id, base model and owner at once.
    assert await ids(client, creator, query="qwen") == ["reviewer"]
    assert sorted(await ids(client, creator, query="writ")) == ["writer"]
    assert await ids(client, creator, query="code", tag="python") == ["coder"]


async def test_search_orders_and_paginates(client, creator, catalogue):
    names = await ids(client, creator, order_by="name", direction="asc")
    assert names == ["writer", "reviewer", "coder"]  # Blog Writer, Code Reviewer, Python Coder
    response = await client.get(
        "/api/models/search",
        query_string={"order_by": "name", "direction": "asc", "limit": 2, "page": 2},
        headers=creator.headers,
    )
    page = await response.get_json()
    assert page["total"] == 3
    assert [item["id"] for item in page["items"]] == ["coder"]
    assert await ids(client, creator, limit=2, page=9) == []


async def test_tags_follow_meta_updates(client, creator, catalogue):
    await client.post(
        "/api/models/writer", json={"meta": {"tags": [{"name": "Essays"}]}}, headers=creator.headers
    )
    assert await ids(client, creator, tag="writing") == []
    assert await ids(client, creator, tag="essays") == ["writer"]


async def test_view_option_separates_own_and_shared(
    client, creator, new_caller, make_group, create_model, catalogue
):
    other = await new_caller("user")
    group_id = await make_group([other, creator], {"workspace": {"models": True}})
    await create_model(other, "others", access_control={"read": {"group_ids": [group_id]}})
    assert await ids(client, creator, view_option="shared") == ["others"]
    assert sorted(await ids(client, creator, view_option="created")) == ["coder", "reviewer", "writer"]
    assert await ids(client, other) == ["others"]


@pytest.mark.parametrize(
    "params",
    [
        {"page": 0},
        {"limit": 0},
        {"limit": 1000},
        {"order_by": "password"},
        {"direction": "up"},
        {"view_option": "all"},
    ],
)
async def test_bad_search_parameters_are_4xx(client, creator, params):
    response = await client.get("/api/models/search", query_string=params, headers=creator.headers)
    assert 400 <= response.status_code < 500
    assert "detail" in await response.get_json()


async def test_search_needs_a_signed_in_user(client, new_caller):
    assert (await client.get("/api/models/search")).status_code == 401
    pending = await new_caller("pending")
    assert (await client.get("/api/models/search", headers=pending.headers)).status_code == 403
