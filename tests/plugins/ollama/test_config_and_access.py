"""Configuration errors stop the start; a ``permission_allowed`` plugin can hide single Ollama models."""

from __future__ import annotations

import pytest

from colonnade.errors import StartupError
from colonnade.hookspecs import hookimpl
from colonnade.plugins.ollama.translate import ChunkWriter, ollama_chat_body, openai_completion


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"upstreams": [{"base_url": "localhost:11434"}]}, "plugins.ollama.upstreams.0.base_url"),
        (
            {"upstreams": [{"base_url": "http://a", "name": "x"}, {"base_url": "http://b", "name": "x"}]},
            "unique",
        ),
        ({"upstreams": [{"base_url": "http://a", "prefix_id": "has.dot"}]}, "prefix_id"),
        ({"upstream": []}, "plugins.ollama.upstream"),
    ],
)
async def test_bad_configuration_is_a_startup_error(make_app, section, message):
    with pytest.raises(StartupError, match=message):
        await make_app(config={"plugins": {"ollama": section}}, load_plugins=["ollama"])


class HideQwen:
    __name__ = "hide_qwen"

    @hookimpl
    def permission_allowed(self, actor, action, resource):
        if action == "ollama.use" and isinstance(resource, str) and resource.startswith("qwen"):
            return False
        return None


@pytest.mark.asyncio
async def test_a_plugin_can_hide_a_model(make_app, fake_upstream, auth_headers, ollama_config):
    fake = await fake_upstream("ollama")
    fake.app.ollama.models.append({**fake.app.ollama.models[0], "name": "qwen3:8b", "model": "qwen3:8b"})
    app = await make_app(config=ollama_config(fake), load_plugins=["ollama"], plugins=[HideQwen()])
    client = app.test_client()
    headers = await auth_headers(app)
    listed = (await (await client.get("/ollama/api/tags", headers=headers)).get_json())["models"]
    assert [entry["name"] for entry in listed] == ["llama3.2:latest", "nomic-embed-text:latest"]
    response = await client.post(
        "/ollama/api/chat", json={"model": "qwen3:8b", "stream": False}, headers=headers
    )
    assert response.status_code == 404
    assert all(request.path != "/api/chat" for request in fake.requests)


def test_tool_calls_thinking_and_formats_translate_both_ways():
    body = ollama_chat_body(
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}
                    ],
                },
                {"role": "tool", "name": "add", "content": "2"},
            ],
            "tools": [{"type": "function", "function": {"name": "add", "parameters": {}}}],
            "response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}},
            "num_ctx": 8192,
            "max_completion_tokens": 9,
        },
        "m",
    )
    assert body["messages"] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "add", "arguments": {"a": 1}}}],
        },
        {"role": "tool", "content": "2", "tool_name": "add"},
    ]
    assert body["format"] == {"type": "object"} and body["options"] == {"num_ctx": 8192, "num_predict": 9}
    assert body["stream"] is False and body["tools"][0]["function"]["name"] == "add"
    assert (
        ollama_chat_body({"messages": [], "response_format": {"type": "json_object"}}, "m")["format"]
        == "json"
    )

    writer = ChunkWriter("m")
    line = {
        "message": {
            "role": "assistant",
            "content": "",
            "thinking": "hmm",
            "tool_calls": [{"function": {"name": "add", "arguments": {"a": 1}}}],
        },
        "done": False,
    }
    (chunk,) = writer.chunks(line)
    delta = chunk["choices"][0]["delta"]
    assert delta["reasoning_content"] == "hmm" and delta["role"] == "assistant"
    assert delta["tool_calls"][0]["function"] == {"name": "add", "arguments": '{"a": 1}'}
    assert delta["tool_calls"][0]["index"] == 0 and delta["tool_calls"][0]["id"].startswith("call_")
    (last,) = writer.chunks({"done": True, "done_reason": "stop", "prompt_eval_count": 3, "eval_count": 1})
    assert last["choices"][0]["finish_reason"] == "tool_calls" and last["usage"]["total_tokens"] == 4

    whole = openai_completion({"message": {"content": "x"}, "done_reason": "length", "eval_count": 2}, "m")
    assert whole["choices"][0]["finish_reason"] == "length" and whole["usage"]["completion_tokens"] == 2


@pytest.mark.asyncio
async def test_upstream_keys_are_never_shown(make_app, auth_headers):
    config = {"upstreams": [{"base_url": "http://ollama.test", "api_key": "sk-ollama-secret"}]}
    app = await make_app(config={"plugins": {"ollama": config}}, load_plugins=["ollama"])
    response = await app.test_client().get("/api/plugins", headers=await auth_headers(app, role="admin"))
    assert response.status_code == 200
    text = (await response.get_data()).decode()
    assert "ollama.test" in text and "sk-ollama-secret" not in text
