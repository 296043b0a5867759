"""Helpers for the pipelines plugin's tests (the fixtures are in ``conftest.py``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).parent / "samples"
WORKER_MODULE = "colonnade.plugins.pipelines.worker"


def sample(name: str) -> str:
    """The source of ``samples/<name>.py``."""
    return (SAMPLES / f"{name}.py").read_text()


def worker_processes() -> list[int]:
    """Pids of the live (not zombie) pipeline worker processes that are children of this process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if fields.get("PPid", "").strip() != str(os.getpid()) or WORKER_MODULE not in cmdline:
            continue
        if fields.get("State", "").startswith("Z"):
            continue
        found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in state


def sse_events(raw: bytes) -> list[Any]:
    """The ``data:`` payloads of an SSE body, ``[DONE]`` as the string ``"[DONE]"``."""
    events = []
    for line in raw.split(b"\n"):
        if line.startswith(b"data: "):
            payload = line[6:]
            events.append("[DONE]" if payload == b"[DONE]" else json.loads(payload))
    return events


def content_of_stream(events: list[Any]) -> str:
    return "".join(
        (choice.get("delta") or {}).get("content") or ""
        for event in events
        if isinstance(event, dict)
        for choice in event.get("choices", [])
    )


@dataclass
class Served:
    """A started application served on loopback, for real clients."""

    app: Any
    url: str
    admin: dict[str, str]
    clients: list[Any] = field(default_factory=list)

    def sdk(self, headers: dict[str, str] | None = None) -> Any:
        import openai

        token = (headers or self.admin)["Authorization"].removeprefix("Bearer ")
        client = openai.AsyncOpenAI(api_key=token, base_url=self.url + "/api", max_retries=0, timeout=30)
        self.clients.append(client)
        return client


def chat(model: str, text: str, **extra: Any) -> dict[str, Any]:
    """A chat-completions body with one user message."""
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


async def ask(client: Any, headers: dict[str, str], model: str, text: str, **extra: Any) -> Any:
    """``POST /api/chat/completions`` with one user message; the test client's response."""
    return await client.post("/api/chat/completions", json=chat(model, text, **extra), headers=headers)


async def reply_of(response: Any) -> str:
    """The assistant's content of a ``chat.completion`` response."""
    return (await response.get_json())["choices"][0]["message"]["content"]


async def json_of(client: Any, path: str, headers: dict[str, str]) -> Any:
    """``GET path`` and its JSON."""
    return await (await client.get(path, headers=headers)).get_json()
