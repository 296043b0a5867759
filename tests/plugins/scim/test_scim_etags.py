"""Versions: ``meta.version`` and ``ETag`` change with every change, ``If-Match`` guards writes (412),
``If-None-Match`` answers 304."""

from __future__ import annotations

import pytest
from scim_helpers import GROUP_SCHEMA, patch_body, user_body

pytestmark = pytest.mark.asyncio


async def test_if_match_guards_every_write(scim):
    user = await scim.create_user("etag@example.com")
    stale = user["meta"]["version"]
    moved = await scim.patch("Users", user["id"], {"op": "replace", "path": "title", "value": "One"})
    current = moved.body["meta"]["version"]
    assert current != stale
    for method, body in (("PUT", user_body("etag@example.com")),
                         ("PATCH", patch_body({"op": "replace", "path": "title", "value": "Two"})),
                         ("DELETE", None)):
        refused = await scim.call(method, f"/Users/{user['id']}", body, headers={**scim.headers, "If-Match": stale})
        assert refused.status == 412 and refused.body["status"] == "412", method
    assert (await scim.get("Users", user["id"]))["title"] == "One"
    ok = await scim.call("PATCH", f"/Users/{user['id']}", patch_body({"op": "replace", "path": "title", "value": "Two"}),
                         headers={**scim.headers, "If-Match": current})
    assert ok.status == 200 and ok.body["title"] == "Two"
    listed = await scim.call("PUT", f"/Users/{user['id']}", user_body("etag@example.com"),
                             headers={**scim.headers, "If-Match": f'W/"nope", {ok.body["meta"]["version"]}'})
    assert listed.status == 200
    anything = await scim.call("DELETE", f"/Users/{user['id']}", headers={**scim.headers, "If-Match": "*"})
    assert anything.status == 204


async def test_if_none_match_answers_304(scim):
    user = await scim.create_user()
    answer = await scim.call("GET", f"/Users/{user['id']}", headers={**scim.headers, "If-None-Match": user["meta"]["version"]})
    assert answer.status == 304 and answer.body is None and answer.headers["ETag"] == user["meta"]["version"]
    group = await scim.create_group("v")
    again = await scim.call("GET", f"/Groups/{group['id']}", headers={**scim.headers, "If-None-Match": group["meta"]["version"]})
    assert again.status == 304
    other = await scim.call("GET", f"/Groups/{group['id']}", headers={**scim.headers, "If-None-Match": 'W/"old"'})
    assert other.status == 200


async def test_group_versions_follow_membership(scim):
    user = await scim.create_user()
    group = await scim.create_group("versioned")
    added = await scim.patch("Groups", group["id"], {"op": "add", "path": "members", "value": [{"value": user["id"]}]})
    assert added.body["meta"]["version"] != group["meta"]["version"]
    stale = await scim.call("PUT", f"/Groups/{group['id']}", {"schemas": [GROUP_SCHEMA], "displayName": "x"},
                            headers={**scim.headers, "If-Match": group["meta"]["version"]})
    assert stale.status == 412
    refused = await scim.call("DELETE", f"/Groups/{group['id']}", headers={**scim.headers, "If-Match": group["meta"]["version"]})
    assert refused.status == 412
    # The user's resource lists the group, so the user's version moved too.
    assert (await scim.get("Users", user["id"]))["meta"]["version"] != user["meta"]["version"]


async def test_a_patch_that_changes_nothing_keeps_the_version(scim):
    user = await scim.create_user("same@example.com", title="Clerk")
    again = await scim.patch("Users", user["id"], {"op": "Replace", "path": "title", "value": "Clerk"},
                             {"op": "Replace", "path": "active", "value": "True"})
    assert again.body == user and again.headers["ETag"] == user["meta"]["version"]
    group = await scim.create_group("same", [user["id"]])
    repeated = await scim.patch("Groups", group["id"], {"op": "Add", "path": "members", "value": [{"value": user["id"]}]})
    assert repeated.body == group
