"""Helpers for the functions tests: the sample sources and creating functions through the HTTP API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).parent / "samples"

HELLO = [{"role": "user", "content": "Hello darn world"}]


def sample(name: str) -> str:
    """The source of ``samples/<name>.py``: a function in Open WebUI's format."""
    return (SAMPLES / f"{name}.py").read_text()


async def create(
    client: Any,
    headers: dict[str, str],
    function_id: str,
    source: str,
    *,
    name: str | None = None,
    active: bool = True,
    is_global: bool = False,
) -> dict[str, Any]:
    """Create a function through ``POST /api/functions`` and optionally activate it and make it global."""
    body = {
        "id": function_id,
        "name": name or function_id.replace("_", " ").title(),
        "content": source,
        "meta": {"description": f"{function_id} for the tests"},
    }
    response = await client.post("/api/functions", json=body, headers=headers)
    assert response.status_code == 200, await response.get_data()
    created = await response.get_json()
    if active:
        response = await client.post(f"/api/functions/{function_id}/toggle", headers=headers)
        assert (await response.get_json())["is_active"] is True
    if is_global:
        response = await client.post(f"/api/v1/functions/id/{function_id}/toggle/global", headers=headers)
        assert (await response.get_json())["is_global"] is True
    return created


def chunk(content: str | None = None, finish: str | None = None) -> dict[str, Any]:
    delta = {"content": content} if content is not None else {"role": "assistant"}
    return {
        "id": "chatcmpl-rec",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "recorder",
        "choices": [{"index": 0, "delta": delta if finish is None else {}, "finish_reason": finish}],
    }


class Recorder:
    """An LLM provider (``recorder``) that keeps every request it gets and answers ``reply``."""

    name = "recorder"

    def __init__(self, reply: str = "Hello darn world") -> None:
        self.reply = reply
        self.requests: list[dict[str, Any]] = []

    async def list_models(self, actor: Any) -> list[dict[str, Any]]:
        return [{"id": "rec-1", "name": "Recorder", "object": "model", "created": 1, "owned_by": "openai"}]

    async def complete(self, request: dict[str, Any], actor: Any) -> Any:
        self.requests.append(request)
        if request.get("stream"):
            return self._stream()
        return {
            "id": "chatcmpl-rec",
            "object": "chat.completion",
            "created": 1,
            "model": request["model"],
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": self.reply}, "finish_reason": "stop"}
            ],
        }

    async def _stream(self) -> Any:
        yield chunk()
        for number, word in enumerate(self.reply.split(" ")):
            yield chunk(word if number == 0 else f" {word}")
        yield chunk(finish="stop")


class RecorderPlugin:
    """A test plugin registering one :class:`Recorder`."""

    __name__ = "recorder_provider"

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    from colonnade import hookimpl

    @hookimpl
    def register_llm_providers(self, host: Any) -> list[Any]:
        return [self.recorder]


def tagging_filter(tag: str, priority: int, toggle: bool = False) -> str:
    """A small filter that appends ``tag`` to the system message on the way in."""
    return f'''"""
title: Tag {tag}
"""
from pydantic import BaseModel


class Filter:
    class Valves(BaseModel):
        priority: int = {priority}

    def __init__(self):
        self.valves = self.Valves()
        self.toggle = {toggle}

    def inlet(self, body: dict) -> dict:
        messages = body["messages"]
        if messages and messages[0]["role"] == "system":
            messages[0]["content"] += " {tag}"
        else:
            messages.insert(0, {{"role": "system", "content": "{tag}"}})
        return body
'''
