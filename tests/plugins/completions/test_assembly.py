"""``colonnade.plugins.completions.assembly``: a stream of chunks made back into one answer."""

from __future__ import annotations

import json

from colonnade.plugins.completions.assembly import Assembler


def chunk(delta: dict, index: int = 0, finish: str | None = None, **extra) -> dict:
    return {
        "id": "chatcmpl-7",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def test_text_of_each_choice_is_joined_in_order():
    assembler = Assembler("asked-model")
    assembler.add(chunk({"role": "assistant", "content": ""}))
    assembler.add(chunk({"reasoning_content": "Think"}))
    assembler.add(chunk({"reasoning_content": "ing."}))
    for piece in ("Hel", "lo", "!"):
        assembler.add(chunk({"content": piece}))
    assembler.add(chunk({"content": "Other"}, index=1))
    assembler.add(chunk({}, finish="stop"))
    assembler.add(chunk({}, index=1, finish="length", usage={"total_tokens": 9}))

    assert assembler.content == "Hello!"
    assert assembler.response() == {
        "id": "chatcmpl-7",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello!", "reasoning_content": "Thinking."},
                "finish_reason": "stop",
            },
            {"index": 1, "message": {"role": "assistant", "content": "Other"}, "finish_reason": "length"},
        ],
        "usage": {"total_tokens": 9},
    }


def test_tool_calls_streamed_in_pieces_are_put_together_by_index():
    assembler = Assembler("m")
    assembler.add(chunk({"tool_calls": [{"index": 0, "id": "call_a", "function": {"name": "weather"}}]}))
    assembler.add(chunk({"tool_calls": [{"index": 1, "id": "call_b", "function": {"name": "time"}}]}))
    for piece in ('{"ci', 'ty": "Pa', 'ris"}'):
        assembler.add(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    assembler.add(chunk({"tool_calls": [{"index": 1, "function": {"arguments": {"zone": "UTC"}}}]}))
    assembler.add(chunk({}, finish="tool_calls"))

    [choice] = assembler.response()["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"] == [
        {
            "index": 0,
            "id": "call_a",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
        },
        # An object where OpenAI's shape has text is sent on as its JSON.
        {
            "index": 1,
            "id": "call_b",
            "type": "function",
            "function": {"name": "time", "arguments": '{"zone": "UTC"}'},
        },
    ]
    assert json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}


def test_a_long_answer_is_assembled_whole():
    assembler = Assembler("m")
    pieces = [f"token{number} " for number in range(20_000)]
    for piece in pieces:
        assembler.add(chunk({"content": piece}))
    assert assembler.content == "".join(pieces)
    assert assembler.response()["choices"][0]["message"]["content"] == "".join(pieces)


def test_what_is_not_a_chunk_is_left_out():
    assembler = Assembler("fallback-model")
    assembler.add("data: nonsense")
    assembler.add({"choices": ["not a choice", {"index": 0, "delta": ["not", "a", "delta"]}]})
    assembler.add({"choices": [{"index": 0, "delta": {"content": 42, "tool_calls": ["not a call"]}}]})
    response = assembler.response()
    assert response["model"] == "fallback-model"
    assert response["id"] == "chatcmpl-assembled"
    assert response["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": None}
    ]


def test_nothing_received_is_an_empty_answer():
    assert Assembler("m").response()["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": None}
    ]
    assert Assembler("m").content == ""
