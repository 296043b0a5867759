"""A fake Ollama server speaking Ollama's wire protocol, scriptable per test.

``create_app()`` returns a Quart application whose ``app.ollama`` (an :class:`OllamaScript`) says what it
answers::

    upstream = await fake_upstream("ollama")
    script = upstream.app.ollama
    script.reply_with(["Hel", "lo"])            # the content chunks of the next answers
    script.fail("/api/chat", 500, "boom")       # answer that path with {"error": "boom"} and a status
    script.malformed_at = 1                     # the second stream line is not JSON
    script.truncate = True                      # streams end without their "done": true line
    script.stall = asyncio.Event()              # streams wait after their first line until it is set
    script.stall_after = 0                      # ... or before sending anything (whole answers too)
    await script.stalled.wait()                 # ... and tell the test when they got there
    await script.cancelled.wait()               # a stream was abandoned by its client

Streams are NDJSON (``application/x-ndjson``), one object per line, the last with ``"done": true`` and
eval counts, exactly as ``ollama serve`` answers; ``"stream": false`` gives one JSON object. Unknown
models are a 404 ``{"error": "model \\"x\\" not found, try pulling it first"}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

CREATED_AT = "2026-01-01T00:00:00.000000Z"


def tag_entry(name: str, family: str = "llama", size: int = 2_019_393_189) -> dict[str, Any]:
    """One ``/api/tags`` entry shaped as Ollama sends it."""
    return {
        "name": name,
        "model": name,
        "modified_at": CREATED_AT,
        "size": size,
        "digest": hashlib.sha256(name.encode()).hexdigest(),
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": [family],
            "parameter_size": "3.2B",
            "quantization_level": "Q4_K_M",
        },
    }


@dataclass
class OllamaScript:
    """What the fake answers; tests change it between requests."""

    models: list[dict[str, Any]] = field(
        default_factory=lambda: [tag_entry("llama3.2:latest"), tag_entry("nomic-embed-text:latest", "bert")]
    )
    version: str = "0.6.5"
    chunks: list[str] = field(default_factory=lambda: ["Hello", " from", " Ollama"])
    #: ``{path: (status, message)}``: answer ``{"error": message}`` with ``status``.
    errors: dict[str, tuple[int, str]] = field(default_factory=dict)
    #: Index of the stream line replaced by a line that is not JSON.
    malformed_at: int | None = None
    #: Streams stop before their ``done`` line.
    truncate: bool = False
    #: When set, streams wait on it after ``stall_after`` lines (0: before sending anything).
    stall: asyncio.Event | None = None
    stall_after: int = 1
    #: Set once a stream reached the stall.
    stalled: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set when a stream is abandoned by its client (the connection closed mid-stream).
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set when a stream was sent to its end.
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    #: Length of the vectors ``/api/embed`` and ``/api/embeddings`` return.
    dimensions: int = 4

    def reply_with(self, chunks: list[str]) -> None:
        self.chunks = list(chunks)

    def fail(self, path: str, status: int, message: str) -> None:
        self.errors[path] = (status, message)

    def names(self) -> list[str]:
        return [entry["name"] for entry in self.models]

    def knows(self, model: Any) -> bool:
        return isinstance(model, str) and (
            model in self.names() or (":" not in model and f"{model}:latest" in self.names())
        )

    def vector(self, text: str) -> list[float]:
        seed = sum(map(ord, text)) or 1
        return [round(((seed * (i + 3)) % 97) / 97, 6) for i in range(self.dimensions)]


def _counts(prompt_tokens: int, eval_tokens: int) -> dict[str, Any]:
    return {
        "total_duration": 4_883_583_458,
        "load_duration": 1_334_875,
        "prompt_eval_count": prompt_tokens,
        "prompt_eval_duration": 342_546_000,
        "eval_count": eval_tokens,
        "eval_duration": 4_535_599_000,
    }


def create_app() -> Any:
    """A fresh fake Ollama server with its own :class:`OllamaScript` at ``app.ollama``."""
    from quart import Quart, Response, request

    app = Quart("fake_ollama")
    script = app.ollama = OllamaScript()

    def error(status: int, message: str) -> Response:
        return Response(json.dumps({"error": message}), status=status, content_type="application/json")

    async def checked_body(path: str) -> tuple[dict[str, Any] | None, Response | None]:
        if path in script.errors:
            return None, error(*script.errors[path])
        body = await request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            return None, error(400, "invalid request body")
        model = body.get("model") or body.get("name")
        if path != "/api/pull" and not script.knows(model):
            return None, error(404, f'model "{model}" not found, try pulling it first')
        return body, None

    async def stream(lines: list[dict[str, Any]]) -> AsyncIterator[bytes]:
        sent = 0
        try:
            if script.stall is not None and script.stall_after == 0:
                script.stalled.set()
                await script.stall.wait()
            for index, line in enumerate(lines):
                if script.truncate and index == len(lines) - 1:
                    break
                if script.malformed_at == index:
                    yield b"this is not json\n"
                else:
                    # Raw UTF-8 as Ollama (Go) writes it: U+0085 stays unescaped inside strings.
                    yield json.dumps(line, ensure_ascii=False).encode() + b"\n"
                sent += 1
                if script.stall is not None and sent == script.stall_after:
                    script.stalled.set()
                    await script.stall.wait()
            script.finished.set()
        except (asyncio.CancelledError, GeneratorExit):
            script.cancelled.set()
            raise

    async def whole_answer_stall() -> None:
        """``"stream": false`` answers wait on the stall too when ``stall_after`` is 0."""
        if script.stall is None or script.stall_after != 0:
            return
        script.stalled.set()
        try:
            await script.stall.wait()
        except asyncio.CancelledError:
            script.cancelled.set()
            raise

    def ndjson(lines: list[dict[str, Any]]) -> Response:
        response = Response(stream(lines), content_type="application/x-ndjson")
        response.timeout = None
        return response

    def prompt_tokens(body: dict[str, Any]) -> int:
        text = body.get("prompt") or " ".join(
            str(message.get("content") or "") for message in body.get("messages") or ()
        )
        return max(1, len(str(text).split()))

    @app.get("/")
    async def root() -> Response:
        return Response("Ollama is running", content_type="text/plain")

    @app.get("/api/tags")
    async def tags() -> Any:
        if "/api/tags" in script.errors:
            return error(*script.errors["/api/tags"])
        return {"models": script.models}

    @app.get("/api/version")
    async def version() -> Any:
        if "/api/version" in script.errors:
            return error(*script.errors["/api/version"])
        return {"version": script.version}

    @app.post("/api/chat")
    async def chat() -> Any:
        body, failure = await checked_body("/api/chat")
        if failure is not None:
            return failure
        model = body["model"]
        final = {
            "model": model,
            "created_at": CREATED_AT,
            "done": True,
            "done_reason": "stop",
            **_counts(prompt_tokens(body), len(script.chunks)),
        }
        if body.get("stream", True) is False:
            await whole_answer_stall()
            message = {"role": "assistant", "content": "".join(script.chunks)}
            return {**final, "message": message}
        lines: list[dict[str, Any]] = [
            {
                "model": model,
                "created_at": CREATED_AT,
                "message": {"role": "assistant", "content": chunk},
                "done": False,
            }
            for chunk in script.chunks
        ]
        lines.append({**final, "message": {"role": "assistant", "content": ""}})
        return ndjson(lines)

    @app.post("/api/generate")
    async def generate() -> Any:
        body, failure = await checked_body("/api/generate")
        if failure is not None:
            return failure
        model = body["model"]
        final = {
            "model": model,
            "created_at": CREATED_AT,
            "done": True,
            "done_reason": "stop",
            "context": [1, 2, 3],
            **_counts(prompt_tokens(body), len(script.chunks)),
        }
        if body.get("stream", True) is False:
            await whole_answer_stall()
            return {**final, "response": "".join(script.chunks)}
        lines: list[dict[str, Any]] = [
            {"model": model, "created_at": CREATED_AT, "response": chunk, "done": False}
            for chunk in script.chunks
        ]
        lines.append({**final, "response": ""})
        return ndjson(lines)

    @app.post("/api/embed")
    async def embed() -> Any:
        body, failure = await checked_body("/api/embed")
        if failure is not None:
            return failure
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        return {
            "model": body["model"],
            "embeddings": [script.vector(text) for text in texts],
            "total_duration": 14_143_917,
            "load_duration": 1_019_500,
            "prompt_eval_count": sum(len(text.split()) for text in texts),
        }

    @app.post("/api/embeddings")
    async def embeddings() -> Any:
        body, failure = await checked_body("/api/embeddings")
        if failure is not None:
            return failure
        return {"embedding": script.vector(str(body.get("prompt", "")))}

    @app.post("/api/show")
    async def show() -> Any:
        body, failure = await checked_body("/api/show")
        if failure is not None:
            return failure
        model = body.get("model") or body.get("name")
        entry = next(e for e in script.models if e["name"] in (model, f"{model}:latest"))
        return {
            "modelfile": f"FROM {entry['name']}\n",
            "parameters": 'stop "<|eot_id|>"',
            "template": "{{ .Prompt }}",
            "details": entry["details"],
            "model_info": {"general.architecture": entry["details"]["family"]},
            "capabilities": ["completion"],
            "modified_at": CREATED_AT,
        }

    @app.post("/api/pull")
    async def pull() -> Any:
        body, failure = await checked_body("/api/pull")
        if failure is not None:
            return failure
        model = body.get("model") or body.get("name")
        if not isinstance(model, str) or not model:
            return error(400, "model is required")
        name = model if ":" in model else f"{model}:latest"
        if not script.knows(name):
            script.models.append(tag_entry(name))
        if body.get("stream", True) is False:
            return {"status": "success"}
        total = 2_000_000
        return ndjson(
            [
                {"status": "pulling manifest"},
                {
                    "status": "pulling 6a0746a1ec1a",
                    "digest": "sha256:6a0746a1ec1a",
                    "total": total,
                    "completed": 0,
                },
                {
                    "status": "pulling 6a0746a1ec1a",
                    "digest": "sha256:6a0746a1ec1a",
                    "total": total,
                    "completed": total,
                },
                {"status": "verifying sha256 digest"},
                {"status": "writing manifest"},
                {"status": "success"},
            ]
        )

    return app
