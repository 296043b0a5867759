"""Filters (every operator, logic, grouping, value paths, case rules), paging, sorting and attribute
selection on ``GET /Users`` and ``GET /Groups``, and proof that filters become SQL."""

from __future__ import annotations

import pytest
import pytest_asyncio
from scim_helpers import ENTERPRISE

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def people(scim):
    """Four users, created in this order, and two groups."""
    ann = await scim.create_user(
        "ann@example.com", externalId="EXT-Ann", name={"givenName": "Ann", "familyName": "Lee"}, title="Engineer",
        emails=[{"value": "ann@example.com", "type": "work", "primary": True},
                {"value": "ann@home.org", "type": "home"}],
        phoneNumbers=[{"value": "+1 555 0100", "type": "mobile"}],
        **{ENTERPRISE: {"department": "R&D", "employeeNumber": "7"}},
    )
    bob = await scim.create_user(
        "bob@example.com", externalId="ext-bob", name={"givenName": "Bob", "familyName": "Stone"},
        title="Manager", emails=[{"value": "bob@work.example.com", "type": "work"}],
        **{ENTERPRISE: {"department": "Sales"}},
    )
    cid = await scim.create_user("Cid@Other.org", name={"givenName": "Cid"}, active=False)
    dee = await scim.create_user("dee@example.com", displayName="Dee O'Hara",
                                 emails=[{"value": "dee@example.com", "type": "other"}])
    team = await scim.create_group("Team", [ann["id"], bob["id"]], externalId="g-team")
    solo = await scim.create_group("Solo", [cid["id"]])
    return {"ann": ann["id"], "bob": bob["id"], "cid": cid["id"], "dee": dee["id"], "team": team["id"],
            "solo": solo["id"], "order": [ann["id"], bob["id"], cid["id"], dee["id"]]}


USER_FILTERS = [
    ('userName eq "ann@example.com"', ["ann"]),
    ('USERNAME EQ "ANN@EXAMPLE.COM"', ["ann"]),
    ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob@example.com"', ["bob"]),
    ('userName ne "ann@example.com"', ["bob", "cid", "dee"]),
    ('userName co "example"', ["ann", "bob", "dee"]),
    ('userName sw "c"', ["cid"]),
    ('userName ew "OTHER.ORG"', ["cid"]),
    ('userName gt "bob@example.com"', ["cid", "dee"]),
    ('userName ge "bob@example.com"', ["bob", "cid", "dee"]),
    ('userName lt "bob@example.com"', ["ann"]),
    ('userName le "bob@example.com"', ["ann", "bob"]),
    ('externalId eq "EXT-Ann"', ["ann"]),
    ('externalId eq "ext-ann"', []),  # externalId is caseExact
    ("externalId pr", ["ann", "bob"]),
    ("not (externalId pr)", ["cid", "dee"]),
    ('name.givenName eq "bob"', ["bob"]),
    ("name.familyName pr", ["ann", "bob"]),
    ('displayName co "o\'hara"', ["dee"]),
    ('title eq "Engineer" or title eq "Manager"', ["ann", "bob"]),
    ('title eq "Engineer" and userName sw "b"', []),
    ('title pr and (userName sw "a" or userName sw "b")', ["ann", "bob"]),
    ('userName sw "a" or userName sw "b" and title eq "Engineer"', ["ann"]),  # and binds tighter
    ("active eq false", ["cid"]),
    ("active eq true", ["ann", "bob", "dee"]),
    ('active ne "False"', ["ann", "bob", "dee"]),
    ('emails[type eq "work" and value co "@work."]', ["bob"]),
    ('emails[type eq "home"]', ["ann"]),
    ('emails[type eq "work"].value co "@work."', ["bob"]),
    ('emails[type eq "work"].value eq "ann@home.org"', []),  # the same value must match both
    ('emails[type eq "home"].value pr', ["ann"]),
    ('emails co "home.org"', ["ann"]),
    ('emails.value ew "example.com"', ["ann", "bob", "dee"]),
    ('emails.type eq "other"', ["dee"]),
    ("emails pr", ["ann", "bob", "dee"]),
    ("not (emails pr)", ["cid"]),
    ('emails[not (type eq "work")]', ["ann", "dee"]),
    ('phoneNumbers[type eq "mobile"]', ["ann"]),
    ('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "r&d"', ["ann"]),
    ('department eq "Sales"', ["bob"]),
    ('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr', ["ann"]),
    ('meta.created gt "2000-01-01T00:00:00Z"', ["ann", "bob", "cid", "dee"]),
    ('meta.lastModified lt "2000-01-01T00:00:00+00:00"', []),
    ('meta.resourceType eq "User"', ["ann", "bob", "cid", "dee"]),
    ('displayName eq null', []),
    ('userName co "%"', []),  # LIKE wildcards in a value are literal characters
    ('userName sw "_"', []),
    ('displayName co "_"', []),
]


@pytest.mark.parametrize(("text", "expected"), USER_FILTERS, ids=[text for text, _ in USER_FILTERS])
async def test_user_filters(scim, people, text, expected):
    found = await scim.ids("Users", filter=text)
    assert sorted(found) == sorted(people[name] for name in expected)


async def test_filters_on_ids_and_groups(scim, people):
    assert await scim.ids("Users", filter=f'id eq "{people["dee"]}"') == [people["dee"]]
    members = await scim.ids("Users", filter=f'groups.value eq "{people["team"]}"')
    assert sorted(members) == sorted([people["ann"], people["bob"]])
    assert await scim.ids("Users", filter='groups[display eq "solo"]') == [people["cid"]]
    assert sorted(await scim.ids("Users", filter="not (groups pr)")) == [people["dee"]]


GROUP_FILTERS = [
    ('displayName eq "team"', ["team"]),
    ('displayName sw "S"', ["solo"]),
    ('externalId eq "g-team"', ["team"]),
    ('members[value eq "{cid}"]', ["solo"]),
    ('members.value eq "{ann}" or members.value eq "{cid}"', ["team", "solo"]),
    ('members.display eq "Bob Stone"', ["team"]),
    ('members[type eq "User" and value eq "{bob}"]', ["team"]),
    ("members pr", ["team", "solo"]),
    ('meta.resourceType eq "Group"', ["team", "solo"]),
    ('meta.resourceType eq "User"', []),
]


@pytest.mark.parametrize(("text", "expected"), GROUP_FILTERS, ids=[text for text, _ in GROUP_FILTERS])
async def test_group_filters(scim, people, text, expected):
    found = await scim.ids("Groups", filter=text.format(**people))
    assert sorted(found) == sorted(people[name] for name in expected)


BAD_FILTERS = [
    "userName",
    'userName eq',
    'userName xx "a"',
    'userName eq "a" and',
    '(userName eq "a"',
    'userName eq "a")',
    'userName eq unquoted',
    'nosuch eq "a"',
    'name eq "a"',
    'addresses.country eq "US"',
    'active gt true',
    'active eq "yes"',
    'active eq 1',
    'userName eq 5',
    'meta.created co "2020"',
    'meta.created gt "yesterday"',
    'meta.created gt "2020-01-01T00:00:00"',
    'userName gt null',
    'emails[type eq "work"].value',
    'emails[type eq "work"].value xx "a"',
    'emails[type eq "work"].nosuch eq "a"',
    'emails[nosuch eq "x"]',
    'title[value eq "x"]',
    'emails[value eq "x" and emails[type eq "y"]]',
    '"quoted" eq "x"',
    "urn:nothing:here:attr eq \"x\"",
    "(" * 40 + 'userName pr' + ")" * 40,
    'userName eq "' + "x" * 5000 + '"',
    "",
]


@pytest.mark.parametrize("text", BAD_FILTERS)
async def test_bad_filters_are_invalid_filter(scim, text):
    answer = await scim.list("Users", status=400, filter=text)
    assert answer.body["scimType"] == "invalidFilter", answer.body


async def test_paging(scim, people):
    everyone = await scim.ids("Users")
    assert sorted(everyone) == sorted(people["order"])
    page = await scim.list("Users", startIndex=2, count=2)
    assert page.body["totalResults"] == 4 and page.body["itemsPerPage"] == 2 and page.body["startIndex"] == 2
    assert [r["id"] for r in page.body["Resources"]] == everyone[1:3]  # a stable order: created, then id
    assert (await scim.list("Users", startIndex=0)).body["startIndex"] == 1
    empty = await scim.list("Users", count=0)
    assert empty.body["totalResults"] == 4 and empty.body["Resources"] == []
    assert (await scim.list("Users", count=-5)).body["itemsPerPage"] == 0
    beyond = await scim.list("Users", startIndex=10)
    assert beyond.body["totalResults"] == 4 and beyond.body["Resources"] == []
    for bad in ({"count": "many"}, {"startIndex": "1.5"}):
        answer = await scim.list("Users", status=400, **bad)
        assert answer.body["scimType"] == "invalidValue"


async def test_count_is_capped(make_scim):
    env = await make_scim({"max_results": 2, "page_size": 1})
    for _ in range(3):
        await env.create_user()
    assert (await env.list("Users")).body["itemsPerPage"] == 1
    assert (await env.list("Users", count=50)).body["itemsPerPage"] == 2
    config = await env.call("GET", "/ServiceProviderConfig", headers={})
    assert config.body["filter"]["maxResults"] == 2


async def test_sorting(scim, people):
    by_name = await scim.ids("Users", sortBy="userName")
    assert by_name == [people[n] for n in ("ann", "bob", "cid", "dee")]
    descending = await scim.ids("Users", sortBy="name.givenName", sortOrder="DESCENDING", filter="name.givenName pr")
    assert descending == [people["cid"], people["bob"], people["ann"]]
    assert (await scim.ids("Users", sortBy="emails"))[0] == people["ann"]
    assert await scim.ids("Groups", sortBy="displayName") == [people["solo"], people["team"]]
    for bad in ({"sortBy": "nosuch"}, {"sortBy": "groups"}, {"sortBy": "userName", "sortOrder": "up"}):
        answer = await scim.list("Users", status=400, **bad)
        assert answer.body["scimType"] == "invalidValue"


async def test_attributes_and_excluded_attributes(scim, people):
    only = await scim.list("Users", filter='userName eq "ann@example.com"', attributes="userName,name.givenName")
    assert only.body["Resources"] == [{"schemas": only.body["Resources"][0]["schemas"], "id": people["ann"],
                                       "userName": "ann@example.com", "name": {"givenName": "Ann"}}]
    emails = await scim.call("GET", f"/Users/{people['ann']}", query={"attributes": "emails.value,department"})
    assert emails.body["emails"] == [{"value": "ann@example.com"}, {"value": "ann@home.org"}]
    assert emails.body[ENTERPRISE] == {"department": "R&D"}
    without = await scim.call("GET", f"/Users/{people['ann']}",
                              query={"excludedAttributes": "emails,meta,name.familyName,groups"})
    assert "emails" not in without.body and "meta" not in without.body and "groups" not in without.body
    assert without.body["name"] == {"givenName": "Ann"} and without.body["userName"] == "ann@example.com"
    groups = await scim.list("Groups", excludedAttributes="members")
    assert all("members" not in group for group in groups.body["Resources"])
    assert all("version" not in group["meta"] for group in groups.body["Resources"])


async def test_filters_become_sql(scim):
    from colonnade.plugins.scim.filters import parse_filter
    from colonnade.plugins.scim.models import ScimUser
    from colonnade.plugins.scim.queries import to_query

    sql = ScimUser.filter(to_query("User", parse_filter('userName eq "Ann@Example.com"'))).sql()
    assert 'WHERE "user_name_key"=' in sql  # the unique index, compared with a bound parameter
    nested = ScimUser.filter(to_query("User", parse_filter('emails[type eq "work" and value co "x"]'))).sql()
    assert "scim_user_value" in nested and "IN (SELECT" in nested.upper().replace("  ", " ")


async def test_values_longer_than_their_column(scim, people):
    """No value equals a string longer than its column can hold, and such a string is never handed to
    the database (which would refuse it)."""
    long_id, long_text = "x" * 40, "x" * 300
    for attr, value in (("id", long_id), ("userName", long_text), ("externalId", long_text),
                        ("emails.value", long_text), ("emails.type", "w" * 70), ("groups.value", long_id),
                        ("timezone", "z" * 70)):
        assert await scim.ids("Users", filter=f'{attr} eq "{value}"') == [], attr
        assert await scim.ids("Users", filter=f'{attr} co "{value}"') == [], attr
    assert sorted(await scim.ids("Users", filter=f'id ne "{long_id}"')) == sorted(people["order"])
    assert sorted(await scim.ids("Users", filter=f'userName gt "b{long_text}"')) == sorted(
        [people["cid"], people["dee"]])
    assert sorted(await scim.ids("Users", filter=f'userName le "b{long_text}"')) == sorted(
        [people["ann"], people["bob"]])
    assert await scim.ids("Groups", filter=f'members.value eq "{long_id}"') == []
