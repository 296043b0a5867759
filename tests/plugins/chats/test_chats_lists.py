"""Listing chats: pagination, ordering, title and message search, archived and pinned filters, and the
archive and pin toggles."""

from __future__ import annotations

import pytest

from colonnade.plugins.chats.models import Chat

pytestmark = pytest.mark.asyncio


async def five_chats(chats) -> list[str]:
    """Five chats titled c0..c4 with updated_at 100..500, so c4 is the newest."""
    ids = []
    for index in range(5):
        chat = await chats.create(title=f"c{index}")
        await Chat.filter(id=chat["id"]).update(updated_at=100 * (index + 1))
        ids.append(chat["id"])
    return ids


async def titles(chats, url: str, headers=None) -> list[str]:
    response = await chats.client.get(url, headers=headers or chats.headers)
    assert response.status_code == 200, await response.get_data()
    return [item["title"] for item in await response.get_json()]


async def test_list_is_newest_first_and_pages(chats):
    await five_chats(chats)
    assert await titles(chats, "/api/chats") == ["c4", "c3", "c2", "c1", "c0"]
    assert await titles(chats, "/api/chats?page=1&limit=2") == ["c4", "c3"]
    assert await titles(chats, "/api/chats?page=3&limit=2") == ["c0"]
    assert await titles(chats, "/api/chats?page=4&limit=2") == []
    assert await titles(chats, "/api/chats?sort_by=title&sort_dir=asc") == ["c0", "c1", "c2", "c3", "c4"]


async def test_list_items_have_open_webui_keys(chats):
    await chats.create()
    (item,) = await (await chats.client.get("/api/v1/chats/list", headers=chats.headers)).get_json()
    assert {"id", "title", "updated_at", "created_at", "last_read_at", "active", "archived"} <= set(item)


async def test_page_size_comes_from_config(make_chats_env):
    env = await make_chats_env({"plugins": {"chats": {"page_size": 2}}})
    await five_chats(env)
    assert await titles(env, "/api/v1/chats/?page=2") == ["c2", "c1"]
    assert len(await titles(env, "/api/v1/chats/")) == 5  # no page: everything, as in Open WebUI


async def test_title_search_is_case_insensitive(chats):
    await chats.create(title="Paris trip")
    await chats.create(title="Budget")
    assert await titles(chats, "/api/chats?query=PARIS") == ["Paris trip"]


async def test_search_route_matches_titles_and_message_content(chats):
    found = await chats.create(title="Plain")
    await chats.append(found["id"], content="the word zeppelin is here")
    await chats.create(title="Zeppelin history")
    await chats.create(title="Other")
    assert sorted(await titles(chats, "/api/v1/chats/search?text=zeppelin")) == ["Plain", "Zeppelin history"]


async def test_search_tokens_narrow_the_search(chats):
    archived = await chats.create(title="alpha archived")
    await chats.client.post(f"/api/chats/{archived['id']}/archive", headers=chats.headers)
    pinned = await chats.create(title="alpha pinned")
    await chats.client.post(f"/api/chats/{pinned['id']}/pin", headers=chats.headers)
    tagged = await chats.create(title="alpha tagged")
    await chats.client.post(
        f"/api/v1/chats/{tagged['id']}/tags", json={"name": "Work"}, headers=chats.headers
    )
    await chats.create(title="beta")
    search = "/api/v1/chats/search?text="
    assert sorted(await titles(chats, search + "alpha")) == ["alpha pinned", "alpha tagged"]
    assert await titles(chats, search + "alpha archived:true") == ["alpha archived"]
    assert await titles(chats, search + "alpha pinned:true") == ["alpha pinned"]
    assert await titles(chats, search + "tag:work") == ["alpha tagged"]
    assert await titles(chats, "/api/chats?tag=Work") == ["alpha tagged"]


async def test_archive_toggles_and_filters(chats):
    ids = await five_chats(chats)
    url = f"/api/chats/{ids[0]}/archive"
    response = await chats.client.post(url, headers=chats.headers)
    assert response.status_code == 200 and (await response.get_json())["archived"] is True
    assert "c0" not in await titles(chats, "/api/chats")
    assert await titles(chats, "/api/chats?archived=true") == ["c0"]
    assert await titles(chats, "/api/v1/chats/archived") == ["c0"]
    assert (
        await (await chats.client.get("/api/v1/chats/archived/count", headers=chats.headers)).get_json() == 1
    )
    again = await chats.client.post(f"/api/v1/chats/{ids[0]}/archive", headers=chats.headers)
    assert (await again.get_json())["archived"] is False


async def test_archive_with_a_body_sets_the_flag(chats):
    created = await chats.create()
    url = f"/api/chats/{created['id']}/archive"
    for _ in range(2):  # setting is idempotent, unlike toggling
        response = await chats.client.post(url, json={"archived": True}, headers=chats.headers)
        assert (await response.get_json())["archived"] is True
    response = await chats.client.post(url, json={"archived": False}, headers=chats.headers)
    assert (await response.get_json())["archived"] is False


async def test_archive_and_unarchive_all(chats):
    await five_chats(chats)
    assert (
        await (await chats.client.post("/api/v1/chats/archive/all", headers=chats.headers)).get_json() is True
    )
    assert await titles(chats, "/api/chats") == []
    assert len(await titles(chats, "/api/v1/chats/archived")) == 5
    await chats.client.post("/api/v1/chats/unarchive/all", headers=chats.headers)
    assert len(await titles(chats, "/api/chats")) == 5


async def test_pin_toggles_and_filters(chats):
    ids = await five_chats(chats)
    response = await chats.client.post(f"/api/v1/chats/{ids[1]}/pin", headers=chats.headers)
    assert (await response.get_json())["pinned"] is True
    assert (
        await (await chats.client.get(f"/api/v1/chats/{ids[1]}/pinned", headers=chats.headers)).get_json()
        is True
    )
    assert await titles(chats, "/api/v1/chats/pinned") == ["c1"]
    assert await titles(chats, "/api/chats?pinned=true") == ["c1"]
    assert "c1" not in await titles(chats, "/api/chats?pinned=false")
    # Open WebUI's list leaves pinned chats out unless asked; the spec list includes them.
    assert "c1" not in await titles(chats, "/api/v1/chats/")
    assert "c1" in await titles(chats, "/api/v1/chats/?include_pinned=true")
    assert "c1" in await titles(chats, "/api/chats")
    unpinned = await chats.client.post(f"/api/chats/{ids[1]}/pin", headers=chats.headers)
    assert (await unpinned.get_json())["pinned"] is False


async def test_folder_filter(chats):
    created = await chats.create(title="in folder")
    await chats.client.post(
        f"/api/v1/chats/{created['id']}/folder", json={"folder_id": "f1"}, headers=chats.headers
    )
    await chats.create(title="loose")
    assert await titles(chats, "/api/chats?folder_id=f1") == ["in folder"]
    assert await titles(chats, "/api/v1/chats/") == ["loose"]
    assert len(await titles(chats, "/api/v1/chats/?include_folders=true")) == 2


async def test_lists_never_show_another_users_chats(chats):
    other = await chats.other_user()
    await chats.create(headers=other, title="theirs")
    mine = await chats.create(title="mine")
    await chats.client.post(f"/api/chats/{mine['id']}/pin", headers=chats.headers)
    for url in (
        "/api/chats",
        "/api/v1/chats/",
        "/api/v1/chats/pinned",
        "/api/v1/chats/archived",
        "/api/v1/chats/search?text=theirs",
        "/api/chats?query=theirs",
    ):
        assert "theirs" not in await titles(chats, url), url


@pytest.mark.parametrize(
    "query", ["page=0", "limit=0", "limit=5000", "sort_by=password", "sort_dir=up", "archived=maybe"]
)
async def test_bad_list_queries_are_4xx(chats, query):
    response = await chats.client.get(f"/api/chats?{query}", headers=chats.headers)
    assert 400 <= response.status_code < 500
    assert isinstance((await response.get_json())["detail"], str)


@pytest.mark.parametrize(
    "url",
    [
        "/api/chats?page=99999999999999999999",
        "/api/chats?page=9223372036854775807&limit=100",
        "/api/v1/chats/?page=1000001",
        "/api/v1/chats/archived?page=99999999999999999999",
        "/api/v1/chats/search?text=a&page=99999999999999999999",
    ],
)
async def test_pages_past_the_last_one_allowed_are_422_not_500(chats, url):
    # The offset (page times size) used to overflow the database's 64-bit integer.
    response = await chats.client.get(url, headers=chats.headers)
    assert response.status_code == 422
    assert "page" in (await response.get_json())["detail"]
    last = await chats.client.get("/api/v1/chats/?page=1000000", headers=chats.headers)
    assert last.status_code == 200 and await last.get_json() == []
