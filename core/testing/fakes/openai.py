"""A fake OpenAI API speaking the real wire protocol: ``/v1/models``, ``/v1/chat/completions``, ``/v1/embeddings``.

Serve it with ``upstream = await fake_upstream("openai")``; its base URL for an OpenAI client or a
connection is ``upstream.base_url + "/v1"``. Tests script it through ``upstream.app.control``
(:class:`FakeOpenAI`)::

    control = upstream.app.control
    control.api_key = "sk-test"          # answer 401 to any other bearer key
    control.chunks = ["Hel", "lo"]       # streamed content pieces (default: the reply in 3 pieces)
    control.fail(503, "overloaded")      # every POST answers this status and OpenAI error body
    control.malformed = True             # the stream's second event is not JSON
    control.ignore_stream = True         # answer JSON even to a stream request (some servers do)
    control.stall = asyncio.Event()      # streams wait on it after the first chunk, others before answering
    control.embed = my_vector            # /v1/embeddings answers my_vector(text) for each input

and read back ``control.stream_closed`` (set when a stream ends, finished or cut off) and
``control.cancelled`` (true when the client went away mid-stream). Azure's paths
(``/openai/deployments/<name>/chat/completions?api-version=...`` with an ``api-key`` header) are
answered too, with ``control.deployments`` recording the deployment names used.
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import time
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeOpenAI:
    """What the fake answers; change it between requests."""

    api_key: str | None = None
    models: list[str] = field(default_factory=lambda: ["gpt-4o-mini", "text-embedding-3-small"])
    reply: str = "Hello from the fake upstream."
    chunks: list[str] | None = None
    chunk_count: int | None = None  # stream this many pieces of ``reply`` (cycled) instead
    embedding_size: int = 4
    #: When set, ``/v1/embeddings`` answers ``embed(text)`` for each input (content-aware vectors).
    embed: Any = None
    status: int | None = None
    error_body: Any = None
    malformed: bool = False
    stall: asyncio.Event | None = None
    send_done: bool = True
    ignore_stream: bool = False  # answer one JSON body even when a stream is asked for
    stream_closed: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: bool = False
    deployments: list[str] = field(default_factory=list)

    def fail(self, status: int, message: str = "fake failure", **error: Any) -> None:
        """Answer every POST with ``status`` and an OpenAI error body."""
        self.status = status
        self.error_body = {"error": {"message": message, "type": "fake_error", "code": None, **error}}

    def pieces(self) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        if self.chunk_count is not None:
            words = self.reply.split() or ["x"]
            return [words[i % len(words)] + " " for i in range(self.chunk_count)]
        third = max(1, len(self.reply) // 3)
        return [self.reply[:third], self.reply[third : 2 * third], self.reply[2 * third :]]


def create_app() -> Any:
    from quart import Quart, Response, request

    app = Quart("fake_openai")
    control = app.control = FakeOpenAI()  # type: ignore[attr-defined]

    def refused() -> Any:
        if control.api_key is None:
            return None
        given = request.headers.get("Authorization", "")
        azure_key = request.headers.get("api-key")
        if given == f"Bearer {control.api_key}" or azure_key == control.api_key:
            return None
        body = {
            "error": {
                "message": "Incorrect API key provided.",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
        }
        return body, 401

    def scripted_failure() -> Any:
        if control.status is None:
            return None
        return Response(
            control.error_body if isinstance(control.error_body, str) else json.dumps(control.error_body),
            status=control.status,
            content_type="application/json" if not isinstance(control.error_body, str) else "text/plain",
        )

    @app.get("/v1/models")
    @app.get("/openai/models")
    async def models() -> Any:
        if (answer := refused()) is not None:
            return answer
        created = int(time.time())
        data = [
            {"id": model, "object": "model", "created": created, "owned_by": "fake"}
            for model in control.models
        ]
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions")
    @app.post("/openai/deployments/<deployment>/chat/completions")
    async def chat(deployment: str | None = None) -> Any:
        if (answer := refused() or scripted_failure()) is not None:
            return answer
        body = await request.get_json()
        if deployment is not None:
            control.deployments.append(deployment)
        model = body.get("model") or deployment
        if body.get("stream") and not control.ignore_stream:
            return stream(model, body)
        if control.stall is not None:
            await control.stall.wait()
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": control.reply},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
        }

    def stream(model: str, body: dict[str, Any]) -> Any:
        ident = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        created = int(time.time())
        pieces = control.pieces()
        control.stream_closed = asyncio.Event()
        control.cancelled = False

        def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
            chunk = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(chunk)}\n\n".encode()

        async def events() -> Any:
            finished = False
            try:
                yield event({"role": "assistant", "content": ""})
                if control.stall is not None:
                    await control.stall.wait()
                for number, piece in enumerate(pieces):
                    if control.malformed and number == 0:
                        yield b"data: {not json\n\n"
                        continue
                    yield event({"content": piece})
                yield event({}, "stop")
                if control.send_done:
                    yield b"data: [DONE]\n\n"
                finished = True
            finally:
                control.cancelled = not finished
                control.stream_closed.set()

        response = Response(events(), content_type="text/event-stream")
        response.timeout = None
        return response

    @app.post("/v1/embeddings")
    @app.post("/openai/deployments/<deployment>/embeddings")
    async def embeddings(deployment: str | None = None) -> Any:
        if (answer := refused() or scripted_failure()) is not None:
            return answer
        body = await request.get_json()
        if deployment is not None:
            control.deployments.append(deployment)
        if control.stall is not None:
            await control.stall.wait()
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
        vectors = [
            list(control.embed(str(text)))
            if control.embed is not None
            else [round((len(str(text)) + index + k) / 10, 3) for k in range(control.embedding_size)]
            for index, text in enumerate(inputs)
        ]
        if body.get("encoding_format") == "base64":  # what the OpenAI SDK asks for by default
            encoded: list[Any] = [base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() for v in vectors]
        else:
            encoded = vectors
        data = [
            {"object": "embedding", "index": index, "embedding": vector}
            for index, vector in enumerate(encoded)
        ]
        return {
            "object": "list",
            "data": data,
            "model": body.get("model") or deployment,
            "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
        }

    return app
