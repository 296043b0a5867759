"""Never a 500: 1,500 seeded random requests (PATCH operations, filters, sorting, attribute lists, PUT and
POST bodies) built from awkward values, each answered 2xx or a SCIM 4xx."""

from __future__ import annotations

import random

import pytest
from scim_helpers import GROUP_SCHEMA, PATCH_OP, USER_SCHEMA

pytestmark = pytest.mark.asyncio

VALUES = [None, True, False, 0, 1.5, -1, "", "x", "True", "false", [], [None], [{}], [{"value": None}], {}, {"value": 5},
          {"value": "x"}, [{"value": "a@b.co", "primary": "yes"}], "a" * 300, {"a": {"b": {"c": []}}}, ["a", "b"], [[1]]]
PATHS = [None, "", "userName", "name", "name.givenName", "emails", 'emails[type eq "work"]', 'emails[type eq "work"].value',
         "members", 'members[value eq "x"]', "active", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
         "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "meta", "groups", "addresses", 'addresses[type eq "w"].x',
         "[", "]", "a..b", "emails[", 'emails[value pr].display', "phoneNumbers.value", "x.y.z", "$ref", "members.value",
         'emails[type eq "work" or value co 1]', "displayName", "externalId", "id"]
FILTERS = ['userName eq "x"', "(", ")", "not", "not (", 'emails[type eq "w"', "a eq", 'x eq "\\u"', 'userName eq "\\"', "and",
           'userName pr or', 'meta.created gt 5', 'groups.value eq true', 'members[display co "x"]', "emails[value eq null]",
           'name.givenName gt 1.5e3', "urn:x", "urn:", ":", ".", "a.b.c eq 1", "\x00", "userName eq \"\x00\"", "[]", "emails[]"]

async def test_random_bad_input_never_fails_the_server(scim):
    rng = random.Random(7)
    user = await scim.create_user("fuzz@example.com")
    group = await scim.create_group("fuzz", [user["id"]])
    fails = []
    for i in range(1500):
        kind = rng.choice(["user_patch", "group_patch", "filter", "user_put", "group_put", "user_post", "group_post"])
        if kind.endswith("patch"):
            ops = [{"op": rng.choice(["add", "replace", "remove", "Add", "REPLACE", "x", None, 5]),
                    **({"path": rng.choice(PATHS)} if rng.random() < 0.8 else {}),
                    **({"value": rng.choice(VALUES + [{"displayName": "z", "name.givenName": 3}])} if rng.random() < 0.8 else {})}
                   for _ in range(rng.randint(1, 3))]
            target = f"/Users/{user['id']}" if kind == "user_patch" else f"/Groups/{group['id']}"
            a = await scim.call("PATCH", target, {"schemas": [PATCH_OP], "Operations": ops})
        elif kind == "filter":
            f = rng.choice(FILTERS)
            a = await scim.call("GET", rng.choice(["/Users", "/Groups"]), query={"filter": f, "sortBy": rng.choice(["", "x", "userName", "emails", "meta.created", "members"]), "attributes": rng.choice(["", "x", "name.x", "emails[", "members.value"])})
        else:
            body = {"schemas": [USER_SCHEMA if "user" in kind else GROUP_SCHEMA]}
            for _ in range(rng.randint(0, 4)):
                body[rng.choice(["userName", "displayName", "emails", "members", "name", "active", "externalId", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "addresses", "phoneNumbers", "timezone"])] = rng.choice(VALUES)
            if kind.endswith("put"):
                target = f"/Users/{user['id']}" if kind == "user_put" else f"/Groups/{group['id']}"
                a = await scim.call("PUT", target, body)
            else:
                a = await scim.call("POST", "/Users" if "user" in kind else "/Groups", body)
        if a.status >= 500:
            fails.append((kind, a.status, a.body))
    assert not fails, fails[:5]
    # The resources are still whole and valid.
    await scim.get("Users", user["id"])
    await scim.get("Groups", group["id"])


async def test_values_no_column_can_hold_are_scim_400s(scim):
    """Found by fuzzing: these were 500s (RecursionError, UnicodeEncodeError, PostgreSQL refusing NUL)."""
    deep = b'{"schemas": ["' + USER_SCHEMA.encode() + b'"], "userName": "d@example.com", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    answer = await scim.call("POST", "/Users", raw=deep)
    assert answer.status == 400 and answer.body["scimType"] == "invalidValue"
    for user_name in ("s\ud800@example.com", "nul\x00@example.com"):
        answer = await scim.call("POST", "/Users", raw=_body_with(user_name))
        assert answer.status == 400 and answer.body["scimType"] == "invalidValue", answer.body
    group = {"schemas": [GROUP_SCHEMA], "displayName": "nul\x00"}
    answer = await scim.call("POST", "/Groups", group)
    assert answer.status == 400 and answer.body["scimType"] == "invalidValue"
    for written in ('userName eq "\\ud800"', 'userName eq "\\u0000"', "userName gt 123456789012345678901234567890"):
        answer = await scim.call("GET", "/Users", query={"filter": written})
        assert answer.status == 400 and answer.body["scimType"] == "invalidFilter", (written, answer.body)
    listed = await scim.call("GET", "/Users")
    assert listed.status == 200 and listed.body["totalResults"] == 0  # nothing was stored


def _body_with(user_name: str) -> bytes:
    import json

    # json.dumps writes the NUL and the lone surrogate as \u escapes, as a client would send them.
    return json.dumps({"schemas": [USER_SCHEMA], "userName": user_name}).encode()
