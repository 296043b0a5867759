"""Every failure is JSON ``{"detail": "..."}`` with the right status, and never a traceback."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio
from pydantic import BaseModel, Field
from quart import Blueprint, abort, jsonify
from quart_schema import validate_querystring, validate_request

from colonnade import ApiError, hookimpl

pytestmark = pytest.mark.asyncio


class Item(BaseModel):
    name: str = Field(min_length=1)
    count: int = Field(ge=0)


class Paging(BaseModel):
    page: int = Field(default=1, ge=1)


def faulty_blueprint() -> Blueprint:
    """Routes that fail in every way a view can (a fresh blueprint per app)."""
    bp = Blueprint("faulty", __name__, url_prefix="/api/faulty")

    @bp.get("/boom")
    async def boom():
        raise RuntimeError("secret internals: password=hunter2")

    @bp.get("/api-error")
    async def api_error():
        raise ApiError(418, "I am a teapot", headers={"X-Why": "test"}, extra={"hint": "tea"})

    @bp.get("/abort")
    async def aborts():
        abort(404, "No such faulty thing")

    @bp.post("/items")
    @validate_request(Item)
    async def create(data: Item):
        return data.model_dump(), 201

    @bp.get("/unserialisable")
    async def unserialisable():
        return {"value": object()}

    @bp.get("/users/<user_id>")
    async def user_by_id(user_id: str):
        from colonnade.auth.models import User

        user = await User.get_or_none(id=user_id)
        return {"found": user is not None}

    @bp.get("/items")
    @validate_querystring(Paging)
    async def listing(query_args: Paging):
        return jsonify({"page": query_args.page})

    return bp


class Faulty:
    """A test plugin serving ``faulty_blueprint``."""

    __name__ = "faulty"

    @hookimpl
    def register_blueprints(self, host):
        return [faulty_blueprint()]


@pytest_asyncio.fixture
async def faulty_app(make_app):
    return await make_app({"server": {"max_body_size": 1024}}, plugins=[Faulty()])


def assert_json_detail(body: dict) -> None:
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in json.dumps(body)


async def test_unknown_path_is_404_json(client):
    for path in ("/nope", "/api/nope", "/api/v1/nope/deeper"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.mimetype == "application/json"
        assert await response.get_json() == {"detail": "Not found"}


async def test_wrong_method_is_405_json_with_allow(client):
    response = await client.delete("/api/auth/signin")
    assert response.status_code == 405
    assert await response.get_json() == {"detail": "Method not allowed"}
    assert "POST" in response.headers["Allow"]


async def test_unexpected_exception_is_500_json_without_details(faulty_app, caplog):
    response = await faulty_app.test_client().get("/api/faulty/boom")
    assert response.status_code == 500
    body = await response.get_json()
    assert body == {"detail": "Internal server error"}
    assert "hunter2" not in await response.get_data(as_text=True)
    # The operator still gets the traceback, in the log.
    assert any(record.exc_info and "hunter2" in str(record.exc_info[1]) for record in caplog.records)


async def test_failures_outside_the_view_are_json_500_too(faulty_app):
    # Tests run Quart in testing mode, which re-raises what escapes the handlers; production does not.
    faulty_app.config["PROPAGATE_EXCEPTIONS"] = False
    response = await faulty_app.test_client().get("/api/faulty/unserialisable")
    assert response.status_code == 500
    assert await response.get_json() == {"detail": "Internal server error"}


async def test_api_error_and_abort_keep_their_status_detail_and_headers(faulty_app):
    client = faulty_app.test_client()
    response = await client.get("/api/faulty/api-error")
    assert response.status_code == 418
    assert await response.get_json() == {"detail": "I am a teapot", "hint": "tea"}
    assert response.headers["X-Why"] == "test"
    aborted = await client.get("/api/faulty/abort")
    assert aborted.status_code == 404
    assert await aborted.get_json() == {"detail": "No such faulty thing"}


async def test_schema_errors_are_422_with_a_field_list(faulty_app):
    client = faulty_app.test_client()
    ok = await client.post("/api/faulty/items", json={"name": "a", "count": 1})
    assert ok.status_code == 201
    for body, fields in [
        ({"name": "", "count": -1}, {("name",), ("count",)}),
        ({"name": "a", "count": "many"}, {("count",)}),
        ({"count": 1}, {("name",)}),
        ([1, 2], {()}),
        ("just a string", {()}),
        (None, {()}),
    ]:
        response = await client.post("/api/faulty/items", json=body)
        assert response.status_code == 422, body
        data = await response.get_json()
        assert_json_detail(data)
        assert data["detail"].startswith("Invalid request")
        assert {tuple(item["loc"]) for item in data["errors"]} == fields
        assert "input" not in json.dumps(data["errors"])  # values sent are not echoed back


async def test_querystring_errors_are_422(faulty_app):
    client = faulty_app.test_client()
    assert await (await client.get("/api/faulty/items?page=2")).get_json() == {"page": 2}
    for query in ("page=0", "page=two", "page=1.5"):
        response = await client.get(f"/api/faulty/items?{query}")
        assert response.status_code == 422, query
        assert (await response.get_json())["errors"][0]["loc"] == ["page"]


async def test_malformed_json_is_400(faulty_app):
    client = faulty_app.test_client()
    for raw in (b"{", b"{'name': 'a'}", b'{"name": "a",}', b"\xff\xfe"):
        response = await client.post(
            "/api/faulty/items", data=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, raw
        data = await response.get_json()
        assert_json_detail(data)
        assert "JSON" in data["detail"]


async def test_integers_beyond_64_bits_are_422_and_store_nothing(app):
    # They used to reach the JSON column encoder (orjson stops at 64 bits) and answer a 500.
    client = app.test_client(use_cookies=False)
    signup = await client.post(
        "/api/auth/signup", json={"name": "Ada", "email": "ada@example.com", "password": "a passphrase"}
    )
    headers = {"Authorization": f"Bearer {(await signup.get_json())['token']}"}
    path = "/api/v1/users/user/settings/update"
    assert (await client.post(path, json={"ui": {"n": 2**63 - 1}}, headers=headers)).status_code == 200
    for number in (2**63, -(2**63) - 1, 10**40):
        raw = b'{"ui": {"n": ' + str(number).encode() + b"}}"
        response = await client.post(path, data=raw, headers={**headers, "Content-Type": "application/json"})
        assert response.status_code == 422, number
        body = await response.get_json()
        assert_json_detail(body)
        assert "64-bit" in body["detail"]
    stored = await client.get("/api/v1/users/user/settings", headers=headers)
    assert await stored.get_json() == {"ui": {"n": 2**63 - 1}}


async def test_json_nested_too_deep_is_422_and_stores_nothing(app):
    # Past 255 levels the JSON column encoder failed, past about 1,000 the decoder: both were 500s.
    client = app.test_client(use_cookies=False)
    signup = await client.post(
        "/api/auth/signup", json={"name": "Ada", "email": "ada@example.com", "password": "a passphrase"}
    )
    token = (await signup.get_json())["token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    path = "/api/v1/users/user/settings/update"

    def nested(depth: int) -> bytes:
        return b'{"ui": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"

    accepted = await client.post(path, data=nested(128), headers=headers)
    assert accepted.status_code == 200
    kept = await accepted.get_json()
    for depth in (129, 300, 5000):
        response = await client.post(path, data=nested(depth), headers=headers)
        assert response.status_code == 422, depth
        body = await response.get_json()
        assert_json_detail(body)
        assert "nested more than 128 levels" in body["detail"]
    assert await (await client.get("/api/v1/users/user/settings", headers=headers)).get_json() == kept


async def test_nul_characters_and_lone_surrogates_are_refused_before_the_database(app):
    # PostgreSQL's text and jsonb cannot hold NUL: each of these was a 500 there (SQLite stored them).
    client = app.test_client(use_cookies=False)
    signup = await client.post(
        "/api/auth/signup", json={"name": "Ada", "email": "ada@example.com", "password": "a passphrase"}
    )
    session = await signup.get_json()
    headers = {"Authorization": f"Bearer {session['token']}", "Content-Type": "application/json"}
    for path, raw in (
        ("/api/v1/users/user/settings/update", b'{"ui": "a\\u0000b"}'),
        ("/api/v1/users/user/settings/update", b'{"a\\u0000": 1}'),
        ("/api/v1/users/user/settings/update", b'{"ui": ["\\u0000"]}'),
        ("/api/v1/auths/update/profile", b'{"name": "A\\u0000da", "profile_image_url": "/user.png"}'),
        ("/api/v1/auths/signin", b'{"email": "ada@example.com\\u0000", "password": "a passphrase"}'),
        # A lone surrogate is not text: UTF-8 (SQLite too) cannot write it.
        ("/api/v1/users/user/settings/update", b'{"ui": "a\\ud800b"}'),
        ("/api/v1/users/user/settings/update", b'{"\\uDFFF": 1}'),
    ):
        response = await client.post(path, data=raw, headers=headers)
        assert response.status_code == 422, (path, raw)
        body = await response.get_json()
        assert_json_detail(body)
        assert "NUL" in body["detail"] or "surrogate" in body["detail"]
    for url in (f"/api/v1/users/{session['id']}%00", "/api/v1/users/?query=a%00b", "/api/v1/users/a%00b"):
        response = await client.get(url, headers=headers)
        assert response.status_code == 400, url
        assert "NUL" in (await response.get_json())["detail"]
    # An escaped backslash followed by u0000 is six ordinary characters, and a pair of surrogate escapes one
    # character: both are stored.
    literal = await client.post(
        "/api/v1/users/user/settings/update", data=b'{"ui": "\\\\u0000 \\ud83d\\ude00"}', headers=headers
    )
    assert literal.status_code == 200 and await literal.get_json() == {"ui": "\\u0000 \U0001f600"}
    me = await (await client.get("/api/v1/auths/", headers=headers)).get_json()
    assert me["name"] == "Ada"


async def test_body_without_json_content_type_is_415(faulty_app):
    client = faulty_app.test_client()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        response = await client.post(
            "/api/faulty/items", data=b'{"name": "a", "count": 1}', headers={"Content-Type": content_type}
        )
        assert response.status_code == 415, content_type
        assert (await response.get_json())["detail"] == "Unsupported media type: send application/json"
    # No body at all is a validation error, not a media-type one.
    empty = await client.post("/api/faulty/items")
    assert empty.status_code == 422
    assert "JSON" in (await empty.get_json())["detail"]


async def test_oversized_body_is_413(faulty_app):
    client = faulty_app.test_client()
    big = {"name": "x" * 2000, "count": 1}
    for path in ("/api/faulty/items", "/api/auth/signin", "/api/auth/signup"):
        response = await client.post(path, json=big)
        assert response.status_code == 413, path
        assert await response.get_json() == {"detail": "Request body too large"}


async def test_a_value_too_long_for_its_column_is_400_not_500(faulty_app):
    client = faulty_app.test_client()
    assert await (await client.get("/api/faulty/users/abc")).get_json() == {"found": False}
    response = await client.get("/api/faulty/users/" + "x" * 300)
    assert response.status_code == 400
    assert await response.get_json() == {"detail": "Invalid request: a value does not fit its field (id)"}


async def test_handle_exception_hook_renders_unexpected_errors(make_app):
    class Renderer:
        __name__ = "renderer"

        def __init__(self):
            self.seen = []

        @hookimpl
        def handle_exception(self, host, request, exception):
            self.seen.append((request.path, type(exception).__name__))
            if isinstance(exception, RuntimeError):
                return jsonify({"detail": "rendered by a plugin"}), 503
            return None

    faulty, renderer = Faulty(), Renderer()
    app = await make_app(plugins=[faulty, renderer])
    client = app.test_client()
    response = await client.get("/api/faulty/boom")
    assert response.status_code == 503
    assert await response.get_json() == {"detail": "rendered by a plugin"}
    assert renderer.seen == [("/api/faulty/boom", "RuntimeError")]
    # Errors with a status of their own never reach the hook.
    assert (await client.get("/api/faulty/api-error")).status_code == 418
    assert (await client.get("/nope")).status_code == 404
    assert renderer.seen == [("/api/faulty/boom", "RuntimeError")]


async def test_a_failing_handle_exception_hook_still_gives_a_json_500(make_app):
    class Broken:
        __name__ = "broken"

        @hookimpl
        def handle_exception(self, host, request, exception):
            raise ValueError("the renderer itself fails")

    app = await make_app(plugins=[Faulty(), Broken()])
    response = await app.test_client().get("/api/faulty/boom")
    assert response.status_code == 500
    assert await response.get_json() == {"detail": "Internal server error"}
