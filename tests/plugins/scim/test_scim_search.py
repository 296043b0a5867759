"""``POST /Users/.search`` and ``POST /Groups/.search`` (RFC 7644 section 3.4.3): a list's query
parameters as a SearchRequest body."""

from __future__ import annotations

import pytest
from scim_helpers import validate_list

pytestmark = pytest.mark.asyncio

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


async def test_search_users_and_groups(scim):
    ann = await scim.create_user("ann@example.com", title="Engineer")
    bob = await scim.create_user("bob@example.com", title="Engineer")
    await scim.create_user("cid@example.com", title="Manager")
    group = await scim.create_group("team", [ann["id"]])
    answer = await scim.call("POST", "/Users/.search", {
        "schemas": [SEARCH], "filter": 'title eq "engineer"', "sortBy": "userName", "sortOrder": "descending",
        "startIndex": 1, "count": 10, "attributes": ["userName", "title"]})
    assert answer.status == 200, answer.body
    validate_list("User", answer.body)
    assert answer.body["totalResults"] == 2
    assert [r["id"] for r in answer.body["Resources"]] == [bob["id"], ann["id"]]
    assert set(answer.body["Resources"][0]) == {"schemas", "id", "userName", "title"}
    paged = await scim.call("POST", "/Users/.search", {"schemas": [SEARCH], "startIndex": 2, "count": 1,
                                                       "excludedAttributes": ["emails", "meta"]})
    assert paged.body["totalResults"] == 3 and paged.body["itemsPerPage"] == 1 and paged.body["startIndex"] == 2
    assert "meta" not in paged.body["Resources"][0]
    groups = await scim.call("POST", "/Groups/.search", {"schemas": [SEARCH], "filter": f'members.value eq "{ann["id"]}"'})
    assert groups.status == 200 and [g["id"] for g in groups.body["Resources"]] == [group["id"]]


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ({"filter": 'userName eq "x"'}, "invalidSyntax"),
        ({"schemas": [SEARCH], "filter": "userName eq"}, "invalidFilter"),
        ({"schemas": [SEARCH], "filter": 5}, "invalidValue"),
        ({"schemas": [SEARCH], "count": "many"}, "invalidValue"),
        ({"schemas": [SEARCH], "count": True}, "invalidValue"),
        ({"schemas": [SEARCH], "attributes": "userName"}, "invalidValue"),
        ({"schemas": [SEARCH], "sortBy": "groups"}, "invalidValue"),
        ({"schemas": [SEARCH], "sortOrder": "sideways"}, "invalidValue"),
    ],
)
async def test_bad_searches(scim, body, scim_type):
    answer = await scim.call("POST", "/Users/.search", body)
    assert answer.status == 400 and answer.body["scimType"] == scim_type, answer.body


async def test_search_needs_the_token(scim):
    answer = await scim.call("POST", "/Users/.search", {"schemas": [SEARCH]}, headers={})
    assert answer.status == 401
