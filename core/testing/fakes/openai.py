"""A fake OpenAI API speaking the real wire protocol: ``/v1/models``, ``/v1/chat/completions``,
``/v1/embeddings``, ``/v1/audio/speech``, ``/v1/audio/transcriptions``, ``/v1/images/generations`` and
``/v1/images/edits``.

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
    control.transcript = "hello there"   # what /v1/audio/transcriptions hears
    control.image_url = "https://..."    # /v1/images/* answer this url instead of base64 data

and read back ``control.stream_closed`` (set when a stream ends, finished or cut off) and
``control.cancelled`` (true when the client went away mid-stream). Azure's paths
(``/openai/deployments/<name>/chat/completions?api-version=...`` with an ``api-key`` header) are
answered too, with ``control.deployments`` recording the deployment names used. The multipart
uploads of ``/v1/audio/transcriptions`` and ``/v1/images/edits`` are parsed and kept in
``control.uploads`` (:class:`Upload`: form fields and files), newest last. Speech is a tiny but valid
file of the asked ``response_format`` with its content type (``SPEECH``: WAV, PCM and MP3 complete,
the others their format's signature and a few bytes); images are a valid 1x1 PNG (``PNG``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import time
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any


def _png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)  # 1x1, 8 bits, RGBA
    pixels = zlib.compress(b"\x00\x2a\x7f\xd4\xff")  # filter byte + one opaque pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _wav(samples: int = 240, rate: int = 24000) -> bytes:
    data = b"\x00\x00" * samples  # 10 ms of 16-bit mono silence
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )


#: A valid 1x1 PNG: what the image endpoints draw.
PNG = _png_1x1()
#: response_format -> (content type, a tiny file of that format): what ``/v1/audio/speech`` says.
SPEECH: dict[str, tuple[str, bytes]] = {
    # One MPEG-1 Layer III frame (128 kbit/s, 44.1 kHz, 417 bytes) of silence.
    "mp3": ("audio/mpeg", b"\xff\xfb\x90\x64" + bytes(413)),
    "wav": ("audio/wav", _wav()),
    "pcm": ("audio/pcm", bytes(480)),  # raw 24 kHz 16-bit mono, as OpenAI sends it
    "opus": ("audio/opus", b"OggS\x00\x02" + bytes(58)),
    "aac": ("audio/aac", b"\xff\xf1\x50\x80\x01\x7f\xfc" + bytes(4)),
    "flac": ("audio/flac", b"fLaC\x80\x00\x00\x22" + bytes(34)),
}
#: The voices ``/v1/audio/speech`` accepts.
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse")


@dataclass
class Upload:
    """One multipart request the fake received: its form fields and its files."""

    path: str
    fields: dict[str, str]
    #: (field name, filename, content type, bytes), in the order sent.
    files: list[tuple[str, str, str, bytes]]


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
    #: Let the event loop run between a stream's events, so that concurrent streams interleave as a model
    #: server's do; ``False`` writes each stream in one go (the benchmark's ``--whole-streams``).
    interleave: bool = True
    stream_closed: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: bool = False
    deployments: list[str] = field(default_factory=list)
    #: What ``/v1/audio/transcriptions`` answers as the transcript.
    transcript: str = "Hello from the fake microphone."
    #: When set, the image endpoints answer this URL instead of base64 data, as DALL-E does by default.
    image_url: str | None = None
    uploads: list[Upload] = field(default_factory=list)

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

    def admitted(deployment: str | None) -> Any:
        """What to answer instead of serving (a wrong key, a scripted failure), or ``None``; an Azure
        deployment the request named is recorded."""
        answer = refused() or scripted_failure()
        if answer is None and deployment is not None:
            control.deployments.append(deployment)
        return answer

    async def stalled() -> None:
        """Wait while a test holds ``control.stall``."""
        if control.stall is not None:
            await control.stall.wait()

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
        if (answer := admitted(deployment)) is not None:
            return answer
        body = await request.get_json()
        model = body.get("model") or deployment
        if body.get("stream") and not control.ignore_stream:
            return stream(model, body)
        await stalled()
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
                await stalled()
                for number, piece in enumerate(pieces):
                    if control.malformed and number == 0:
                        yield b"data: {not json\n\n"
                        continue
                    yield event({"content": piece})
                    if control.interleave:
                        await asyncio.sleep(0)
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
        if (answer := admitted(deployment)) is not None:
            return answer
        body = await request.get_json()
        await stalled()
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

    def invalid(message: str, param: str | None = None, status: int = 400) -> Any:
        error = {"message": message, "type": "invalid_request_error", "param": param, "code": None}
        return {"error": error}, status

    async def upload(kind: str) -> Upload:
        form = await request.form
        files = await request.files
        received = [
            (name, stored.filename or "", stored.content_type or "", stored.read())
            for name, stored in files.items(multi=True)
        ]
        control.uploads.append(Upload(kind, dict(form.items()), received))
        return control.uploads[-1]

    @app.post("/v1/audio/speech")
    @app.post("/openai/deployments/<deployment>/audio/speech")
    async def speech(deployment: str | None = None) -> Any:
        if (answer := admitted(deployment)) is not None:
            return answer
        body = await request.get_json()
        for required in ("model", "input", "voice"):
            if not body.get(required):
                return invalid(f"Missing required parameter: '{required}'.", required)
        if len(body["input"]) > 4096:
            return invalid("input: string too long, at most 4096 characters", "input")
        if body["voice"] not in VOICES:
            return invalid(f"Invalid value for 'voice': '{body['voice']}'.", "voice")
        audio_format = body.get("response_format", "mp3")
        if audio_format not in SPEECH:
            return invalid(f"Invalid value for 'response_format': '{audio_format}'.", "response_format")
        if not 0.25 <= float(body.get("speed", 1.0)) <= 4.0:
            return invalid("speed must be between 0.25 and 4.0", "speed")
        await stalled()
        content_type, audio = SPEECH[audio_format]

        async def pieces() -> Any:  # sent in two pieces, as a streamed body
            yield audio[: len(audio) // 2]
            yield audio[len(audio) // 2 :]

        return Response(pieces(), content_type=content_type)

    @app.post("/v1/audio/transcriptions")
    @app.post("/openai/deployments/<deployment>/audio/transcriptions")
    async def transcriptions(deployment: str | None = None) -> Any:
        if (answer := admitted(deployment)) is not None:
            return answer
        received = await upload("audio/transcriptions")
        if not any(name == "file" for name, *_ in received.files):
            return invalid("Missing required parameter: 'file'.", "file")
        if not received.fields.get("model") and deployment is None:
            return invalid("Missing required parameter: 'model'.", "model")
        await stalled()
        answer_format = received.fields.get("response_format", "json")
        if answer_format == "text":
            return Response(control.transcript + "\n", content_type="text/plain")
        if answer_format == "verbose_json":
            return {
                "task": "transcribe",
                "language": received.fields.get("language") or "english",
                "duration": 0.01,
                "text": control.transcript,
                "segments": [],
            }
        if answer_format != "json":
            return invalid(f"Invalid value for 'response_format': '{answer_format}'.", "response_format")
        return {"text": control.transcript}

    def images_answer(body: dict[str, Any]) -> Any:
        model = str(body.get("model") or "dall-e-2")
        if not body.get("prompt"):
            return invalid("Missing required parameter: 'prompt'.", "prompt")
        answer_format = body.get("response_format")
        if model.startswith("gpt-image") and answer_format is not None:
            return invalid("Unknown parameter: 'response_format'.", "response_format")
        answer_format = answer_format or ("b64_json" if model.startswith("gpt-image") else "url")
        if answer_format not in ("url", "b64_json"):
            return invalid(f"Invalid value for 'response_format': '{answer_format}'.", "response_format")
        count = int(body.get("n") or 1)
        if not 1 <= count <= 10 or (model == "dall-e-3" and count != 1):
            return invalid(f"Invalid 'n': {count} images are not allowed for {model}.", "n")
        data = []
        for number in range(count):
            if answer_format == "url":
                url = control.image_url or f"{request.host_url}files/image-{number}.png"
                image: dict[str, Any] = {"url": url}
            else:
                image = {"b64_json": base64.b64encode(PNG).decode()}
            if model == "dall-e-3":
                image["revised_prompt"] = f"A detailed picture of {body['prompt']}"
            data.append(image)
        return {"created": int(time.time()), "data": data}

    @app.post("/v1/images/generations")
    @app.post("/openai/deployments/<deployment>/images/generations")
    async def generations(deployment: str | None = None) -> Any:
        if (answer := admitted(deployment)) is not None:
            return answer
        body = await request.get_json()
        await stalled()
        return images_answer(body)

    @app.post("/v1/images/edits")
    @app.post("/openai/deployments/<deployment>/images/edits")
    async def edits(deployment: str | None = None) -> Any:
        if (answer := admitted(deployment)) is not None:
            return answer
        received = await upload("images/edits")
        if not any(name in ("image", "image[]") for name, *_ in received.files):
            return invalid("Missing required parameter: 'image'.", "image")
        for name, filename, content_type, data in received.files:
            if not data.startswith((b"\x89PNG", b"\xff\xd8", b"RIFF")):
                return invalid(f"Invalid image file {filename!r}: not a PNG, JPEG or WEBP file.", name)
        await stalled()
        return images_answer(dict(received.fields))

    @app.get("/files/<name>")
    async def image_file(name: str) -> Any:
        return Response(PNG, content_type="image/png")

    return app
