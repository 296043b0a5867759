"""The plain-JSON fast path past quart-schema's response conversion changes no response.

Values that are not plain JSON, response headers and applications that ask quart-schema for camelCase
must still go through its conversion; the fast path is only allowed where both give the same answer.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel
from quart import Quart
from quart_schema import QuartSchema, validate_response

from colonnade.fastpaths import _is_plain_result, install_fast_paths, is_plain_json


class Item(BaseModel):
    item_name: str
    count: int = 1


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Colour(str, enum.Enum):
    red = "red"


def _app(**config) -> Quart:
    app = Quart(__name__)
    app.config.update(config)
    QuartSchema(app)
    install_fast_paths(app)

    @app.get("/plain")
    async def plain():
        return {"status": True, "nested": [{"a": 1, "b": None, "c": 1.5}], "text": "é"}

    @app.get("/plain-list")
    async def plain_list():
        return [1, "two", {"three": [3]}], 201

    @app.get("/model")
    async def model():
        return Item(item_name="x")

    @app.get("/models-in-dict")
    async def models_in_dict():
        return {"items": [Item(item_name="y", count=2)], "point": Point(1, 2)}

    @app.get("/dataclass")
    async def dataclass():
        return Point(3, 4)

    @app.get("/headers")
    async def headers():
        return {"ok": True}, 200, {"X_Trace_Id": "abc"}

    @app.get("/validated")
    @validate_response(Item)
    async def validated():
        return {"item_name": "z", "count": 5}

    @app.get("/text")
    async def text():
        return "hello"

    @app.get("/snake")
    async def snake():
        return {"item_name": "w"}

    return app


def test_plain_json_is_recognised():
    assert is_plain_json({"a": [1, 2.5, None, True, {"b": "c"}]})
    assert is_plain_json([])
    assert not is_plain_json({1: "int key"})
    assert not is_plain_json({"when": datetime.now(UTC)})
    assert not is_plain_json({"colour": Colour.red})  # a str subclass may dump differently
    assert not is_plain_json({"items": (1, 2)})
    assert not is_plain_json([Item(item_name="x")])
    deep: list = []
    for _ in range(40):
        deep = [deep]
    assert not is_plain_json(deep)  # left to quart-schema rather than walked on the hot path


def test_results_with_headers_take_quart_schemas_path():
    assert _is_plain_result(({"a": 1}, 201))
    assert not _is_plain_result(({"a": 1}, {"X": "1"}))
    assert not _is_plain_result(({"a": 1}, 200, {"X": "1"}))


@pytest.mark.asyncio
async def test_plain_values_are_served_unchanged():
    client = _app().test_client()
    response = await client.get("/plain")
    assert response.status_code == 200
    assert await response.get_json() == {
        "status": True,
        "nested": [{"a": 1, "b": None, "c": 1.5}],
        "text": "é",
    }
    response = await client.get("/plain-list")
    assert response.status_code == 201
    assert await response.get_json() == [1, "two", {"three": [3]}]
    assert await (await client.get("/text")).get_data(as_text=True) == "hello"


@pytest.mark.asyncio
async def test_models_and_dataclasses_are_still_converted():
    client = _app().test_client()
    assert await (await client.get("/model")).get_json() == {"item_name": "x", "count": 1}
    assert await (await client.get("/dataclass")).get_json() == {"x": 3, "y": 4}
    assert await (await client.get("/models-in-dict")).get_json() == {
        "items": [{"item_name": "y", "count": 2}],
        "point": {"x": 1, "y": 2},
    }
    assert await (await client.get("/validated")).get_json() == {"item_name": "z", "count": 5}


@pytest.mark.asyncio
async def test_headers_are_still_kebab_cased():
    response = await _app().test_client().get("/headers")
    assert response.headers["X-Trace-Id"] == "abc"
    assert await response.get_json() == {"ok": True}


@pytest.mark.asyncio
async def test_camel_case_conversion_still_applies_to_plain_values():
    client = _app(QUART_SCHEMA_CONVERT_CASING=True).test_client()
    assert await (await client.get("/snake")).get_json() == {"itemName": "w"}


@pytest.mark.asyncio
async def test_urls_are_built_with_lazily_compiled_builders():
    from quart import url_for

    app = _app()

    @app.get("/items/<int:item_id>")
    async def item(item_id: int):
        return {"id": item_id}

    async with app.test_request_context("/"):
        assert url_for("item", item_id=3) == "/items/3"
        assert url_for("item", item_id=4, page=2) == "/items/4?page=2"
        assert url_for("item", item_id=5) == "/items/5"  # compiled once, then reused
    rule = next(rule for rule in app.url_map.iter_rules() if rule.endpoint == "item")
    assert rule._build_unknown.__name__ != "build_on_first_use"  # what url_for uses, now compiled
    assert rule._build.__name__ == "build_on_first_use"  # never used, never compiled
    assert rule.build({"item_id": 6}, append_unknown=False) == ("", "/items/6")
    assert (await (await app.test_client().get("/items/7")).get_json()) == {"id": 7}


def _standard_app(**config) -> Quart:
    """The same routes with Quart's own JSON provider (quart-schema's), for comparison."""
    app = _app(**config)
    app.json = type(app.json).__mro__[1](app)
    return app


@pytest.mark.asyncio
async def test_orjson_writes_what_the_standard_provider_writes():
    fast, standard = _app().test_client(), _standard_app().test_client()
    for path in ("/plain", "/plain-list", "/model", "/models-in-dict", "/dataclass", "/validated"):
        ours, theirs = await fast.get(path), await standard.get(path)
        assert (ours.status_code, await ours.get_json()) == (theirs.status_code, await theirs.get_json()), path
        assert ours.mimetype == "application/json"
    body = await (await fast.get("/plain")).get_data(as_text=True)
    assert body.startswith('{"status":true,"nested"')  # compact, keys in the order written


@pytest.mark.asyncio
async def test_values_orjson_refuses_take_the_standard_path():
    from quart import jsonify

    app = _app()
    async with app.app_context():
        big = jsonify({"big": 2**70, "when": datetime(2026, 1, 2, tzinfo=UTC), 3: "int key"})
        assert await big.get_json() == {"big": 2**70, "when": "2026-01-02T00:00:00Z", "3": "int key"}
        assert app.json.dumps({"b": 1, "a": 2}) == '{"b":1,"a":2}'
        assert app.json.dumps({"a": 1}, indent=2) == '{\n  "a": 1\n}'  # options: the standard path


@pytest.mark.asyncio
async def test_request_validation_reuses_one_type_adapter_per_model():
    import quart_schema.conversion as conversion
    from quart_schema import validate_request

    app = _app()

    @app.post("/items")
    @validate_request(Item)
    async def create(data: Item):
        return {"item_name": data.item_name, "count": data.count}

    client = app.test_client()
    ok = await client.post("/items", json={"item_name": "a", "count": 2})
    assert await ok.get_json() == {"item_name": "a", "count": 2}
    assert conversion.TypeAdapter(Item) is conversion.TypeAdapter(Item)
    bad = await client.post("/items", json={"item_name": "a", "count": "many"})
    assert bad.status_code == 400  # still validated, with the same adapter
    assert conversion.TypeAdapter(list[Item]) is conversion.TypeAdapter(list[Item])
