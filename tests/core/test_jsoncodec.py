"""``colonnade.jsoncodec``: orjson's speed, the standard library's answers."""

from __future__ import annotations

import json

import pytest

from colonnade import jsoncodec


@pytest.mark.parametrize(
    "text",
    [
        '{"choices":[{"delta":{"content":"h\\u00e9"}}]}',
        '{"content":"\\ud83d"}',  # half an emoji: orjson refuses it, json does not
        '{"value":NaN}',
        '[1, 2.5, null, true, "x"]',
    ],
)
def test_loads_answers_what_json_answers(text):
    expected = json.loads(text)
    got = jsoncodec.loads(text.encode())
    assert json.dumps(got) == json.dumps(expected)


def test_loads_still_refuses_what_is_not_json():
    with pytest.raises(ValueError):
        jsoncodec.loads(b"{not json")


def test_dumps_is_compact_utf8_json():
    value = {"b": "é", "a": [1, None, True]}
    assert jsoncodec.dumps(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    big = {"n": 2**70, 3: "int key"}
    assert json.loads(jsoncodec.dumps(big)) == {"n": 2**70, "3": "int key"}
