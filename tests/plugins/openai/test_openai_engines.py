"""The ``openai`` TTS, STT and image engines, collected through their optional hooks, against the fake.

The ``audio`` and ``images`` features do not exist yet, so no hookspec defines ``register_tts_engines``,
``register_stt_engines`` or ``register_image_engines``: the application starts anyway (optional
hookimpls) and the tests call the hooks through ``host.pm.hook`` as those features will, with
``collect_named``. Timeouts are the plugin's own ``read_timeout``; the fake stalls on an event that is
never set, so no test sleeps.
"""

from __future__ import annotations

import asyncio
import io
import logging
import wave
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from openai_helpers import UPSTREAM_KEY, connection

from colonnade.calling import collect_named
from colonnade.errors import StartupError
from colonnade.plugins.openai.engine_shapes import (
    ImageEditRequest,
    ImageRequest,
    InputImage,
    SpeechRequest,
    TranscriptionRequest,
)
from colonnade.plugins.openai.upstreams import UpstreamError
from colonnade.testing import closed_port
from colonnade.testing.fakes.openai import PNG, SPEECH

pytestmark = pytest.mark.asyncio


@dataclass
class Engines:
    host: Any
    tts: Any
    stt: Any
    images: Any


@pytest_asyncio.fixture
async def engines(make_app: Any) -> Any:
    """``await engines([connection, ...], **openai_options)`` -> :class:`Engines` of a started app."""

    async def build(connections: list[dict[str, Any]], **options: Any) -> Engines:
        config = {"plugins": {"openai": {"connections": connections, **options}}}
        app = await make_app(config=config, load_plugins=["openai"])
        host = app.extensions["colonnade"]
        hook = host.pm.hook
        return Engines(
            host,
            collect_named(hook.register_tts_engines(host=host), kind="TTS engine")["openai"],
            collect_named(hook.register_stt_engines(host=host), kind="STT engine")["openai"],
            collect_named(hook.register_image_engines(host=host), kind="image engine")["openai"],
        )

    return build


def sent(fake: Any, path: str) -> list[Any]:
    return [recorded for recorded in fake.requests if recorded.path == path]


async def chunks_of(data: bytes, size: int) -> Any:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_the_engines_come_through_the_optional_hooks(engines, upstream):
    found = await engines([connection(upstream, name="main")])
    assert found.host.pm.hook.register_tts_engines.spec is None  # no feature defines the hook yet
    assert "tts-1" in await found.tts.list_models()
    assert {"id": "alloy", "name": "alloy"} in await found.tts.list_voices()
    assert await found.stt.list_models() == ["whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"]
    assert await found.images.list_models() == ["dall-e-2", "dall-e-3", "gpt-image-1", "gpt-image-1.5"]
    assert [request.path for request in upstream.requests] == []  # listing asks no upstream


async def test_speech_is_forwarded_and_streamed(engines, upstream):
    found = await engines([connection(upstream, name="main")])
    request = SpeechRequest(
        "Hello there",
        voice="nova",
        model="tts-1-hd",
        format="wav",
        speed=1.5,
        params={"instructions": "calm"},
    )
    speech = await found.tts.synthesize(request)
    assert speech.content_type == "audio/wav"
    pieces = [chunk async for chunk in speech.chunks]
    audio = b"".join(pieces)
    assert audio == SPEECH["wav"][1]
    assert wave.open(io.BytesIO(audio)).getframerate() == 24000
    (forwarded,) = sent(upstream, "/v1/audio/speech")
    assert forwarded.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert forwarded.json() == {
        "model": "tts-1-hd",
        "input": "Hello there",
        "voice": "nova",
        "response_format": "wav",
        "speed": 1.5,
        "instructions": "calm",
    }

    default = await found.tts.synthesize(SpeechRequest("Hi"))
    assert default.content_type == "audio/mpeg"
    assert (await default.read()).startswith(b"\xff\xfb")
    assert sent(upstream, "/v1/audio/speech")[-1].json() == {
        "model": "tts-1",
        "input": "Hi",
        "voice": "alloy",
        "response_format": "mp3",
    }


async def test_speech_refusals_keep_their_status_and_empty_text_is_not_sent(engines, upstream):
    found = await engines([connection(upstream, name="main")])
    with pytest.raises(UpstreamError) as refused:
        await found.tts.synthesize(SpeechRequest("Hi", voice="bogus"))
    assert refused.value.status == 400
    assert refused.value.detail == (
        "OpenAI upstream 'main' refused the request (400): Invalid value for 'voice': 'bogus'."
    )
    assert refused.value.error["param"] == "voice"

    with pytest.raises(UpstreamError) as empty:
        await found.tts.synthesize(SpeechRequest("  "))
    assert empty.value.status == 400
    assert len(sent(upstream, "/v1/audio/speech")) == 1

    upstream.app.control.status = 200  # a proxy page sent with 200 instead of audio
    upstream.app.control.error_body = "<html>proxy login</html>"
    with pytest.raises(UpstreamError) as not_audio:
        await found.tts.synthesize(SpeechRequest("Hi"))
    assert (not_audio.value.status, not_audio.value.detail) == (
        502,
        "OpenAI upstream 'main' sent text/plain instead of audio",
    )


async def test_a_transcription_is_sent_as_multipart(engines, upstream):
    found = await engines([connection(upstream, name="main")])
    upstream.app.control.transcript = "Guten Tag"
    recording = SPEECH["wav"][1]
    request = TranscriptionRequest(
        chunks_of(recording, 100),
        filename="clip.wav",
        content_type="audio/wav",
        language="de",
        prompt="Colonnade",
    )
    assert await found.stt.transcribe(request) == {"text": "Guten Tag"}
    (forwarded,) = sent(upstream, "/v1/audio/transcriptions")
    assert forwarded.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert forwarded.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    upload = upstream.app.control.uploads[-1]
    assert upload.fields == {
        "model": "whisper-1",
        "language": "de",
        "prompt": "Colonnade",
        "response_format": "json",
    }
    assert upload.files == [("file", "clip.wav", "audio/wav", recording)]

    webm = TranscriptionRequest(
        b"\x1aE\xdf\xa3", filename="note.webm", content_type="audio/webm", params={"temperature": 0}
    )
    result = await found.stt.transcribe(webm)
    assert result == {"text": "Guten Tag"}
    upload = upstream.app.control.uploads[-1]
    assert upload.fields == {"model": "whisper-1", "response_format": "json", "temperature": "0"}
    assert upload.files == [("file", "note.webm", "audio/webm", b"\x1aE\xdf\xa3")]


async def test_a_transcription_too_large_or_empty_is_not_sent(engines, upstream, monkeypatch):
    from colonnade.plugins.openai import audio

    found = await engines([connection(upstream, name="main")])
    monkeypatch.setattr(audio, "MAX_AUDIO_BYTES", 1024)  # the 25 MB limit, scaled down
    with pytest.raises(UpstreamError) as large:
        await found.stt.transcribe(TranscriptionRequest(chunks_of(bytes(4096), 512)))
    assert large.value.status == 413
    with pytest.raises(UpstreamError) as empty:
        await found.stt.transcribe(TranscriptionRequest(b""))
    assert empty.value.status == 400
    assert sent(upstream, "/v1/audio/transcriptions") == []

    upstream.app.control.status = 200
    upstream.app.control.error_body = {"transcript": "wrong key"}
    with pytest.raises(UpstreamError, match="sent a transcription in an unknown shape") as shape:
        await found.stt.transcribe(TranscriptionRequest(b"RIFF"))
    assert shape.value.status == 502
    upstream.app.control.error_body = "<html>proxy login</html>"
    with pytest.raises(UpstreamError) as page:
        await found.stt.transcribe(TranscriptionRequest(b"RIFF"))
    assert (page.value.status, page.value.detail) == (
        502,
        "OpenAI upstream 'main' sent a malformed answer (not JSON) for its transcription",
    )


async def test_images_are_generated_as_base64_or_links(engines, upstream):
    found = await engines([connection(upstream, name="main")])
    (image,) = await found.images.generate(ImageRequest("a red cube", model="dall-e-3", size="1024x1024"))
    assert (image.data, image.content_type, image.url) == (PNG, "image/png", None)
    assert image.revised_prompt == "A detailed picture of a red cube"
    forwarded = sent(upstream, "/v1/images/generations")[-1]
    assert forwarded.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert forwarded.json() == {
        "model": "dall-e-3",
        "prompt": "a red cube",
        "n": 1,
        "size": "1024x1024",
        "response_format": "b64_json",
    }

    request = ImageRequest("two cats", model="gpt-image-1", n=2, params={"quality": "low"})
    drawn = await found.images.generate(request)
    assert [image.data for image in drawn] == [PNG, PNG]
    assert sent(upstream, "/v1/images/generations")[-1].json() == {
        "model": "gpt-image-1",
        "prompt": "two cats",
        "n": 2,
        "quality": "low",
    }  # gpt-image models refuse response_format: it is not sent

    upstream.app.control.image_url = "https://images.example/cube.png"
    (linked,) = await found.images.generate(ImageRequest("a cube", params={"response_format": "url"}))
    assert (linked.data, linked.url) == (None, "https://images.example/cube.png")
    assert sent(upstream, "/v1/images/generations")[-1].json()["model"] == "dall-e-2"

    for bad in (ImageRequest(" "), ImageRequest("x", n=0), ImageRequest("x", n=11)):
        with pytest.raises(UpstreamError) as invalid:
            await found.images.generate(bad)
        assert invalid.value.status == 400
    assert len(sent(upstream, "/v1/images/generations")) == 3

    upstream.app.control.status = 200
    upstream.app.control.error_body = {"data": [{"b64_json": "%%%"}]}
    with pytest.raises(UpstreamError, match="sent an image that is not base64"):
        await found.images.generate(ImageRequest("x"))
    upstream.app.control.error_body = {"images": []}
    with pytest.raises(UpstreamError, match="sent images in an unknown shape"):
        await found.images.generate(ImageRequest("x"))


async def test_an_edit_uploads_the_images_and_the_mask(engines, upstream):
    found = await engines([connection(upstream, name="main")])
    mask = InputImage(PNG, "mask.png")
    request = ImageEditRequest("add a hat", [InputImage(PNG, "cat.png")], mask=mask, size="512x512")
    (edited,) = await found.images.edit(request)
    assert (edited.data, edited.content_type) == (PNG, "image/png")
    forwarded = sent(upstream, "/v1/images/edits")[-1]
    assert forwarded.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    upload = upstream.app.control.uploads[-1]
    assert upload.fields == {
        "model": "dall-e-2",
        "prompt": "add a hat",
        "n": "1",
        "size": "512x512",
        "response_format": "b64_json",
    }
    assert upload.files == [("image", "cat.png", "image/png", PNG), ("mask", "mask.png", "image/png", PNG)]

    pair = [InputImage(PNG, "a.png"), InputImage(PNG, "b.png")]
    several = ImageEditRequest("merge", pair, model="gpt-image-1")
    assert len(await found.images.edit(several)) == 1
    upload = upstream.app.control.uploads[-1]
    names = [(name, filename) for name, filename, *_ in upload.files]
    assert names == [("image[]", "a.png"), ("image[]", "b.png")]
    assert "response_format" not in upload.fields

    with pytest.raises(UpstreamError) as refused:
        await found.images.edit(ImageEditRequest("x", [InputImage(b"GIF89a", "x.gif", "image/gif")]))
    assert refused.value.status == 400 and "not a PNG" in refused.value.detail
    with pytest.raises(UpstreamError) as nothing:
        await found.images.edit(ImageEditRequest("x", []))
    assert nothing.value.status == 400
    assert len(sent(upstream, "/v1/images/edits")) == 3


async def test_azure_connections_use_deployment_paths(engines, upstream):
    azure = {
        "base_url": upstream.base_url,
        "api_key": UPSTREAM_KEY,
        "name": "azure",
        "azure": True,
        "api_version": "2025-04-01-preview",
        "model_ids": ["tts-1", "whisper-1", "dall-e-3"],
        "deployments": {"tts-1": "speech-prod", "whisper-1": "ears"},
    }
    found = await engines([azure])
    speech = await found.tts.synthesize(SpeechRequest("Hi", model="tts-1"))
    assert await speech.read() == SPEECH["mp3"][1]
    heard = await found.stt.transcribe(TranscriptionRequest(b"RIFF"))
    assert heard == {"text": "Hello from the fake microphone."}
    assert len(await found.images.generate(ImageRequest("a cube", model="dall-e-3"))) == 1
    (image,) = await found.images.edit(ImageEditRequest("a hat", [InputImage(PNG)], model="dall-e-3"))
    assert image.data == PNG
    paths = [request.path for request in upstream.requests]
    assert paths == [
        "/openai/deployments/speech-prod/audio/speech",
        "/openai/deployments/ears/audio/transcriptions",
        "/openai/deployments/dall-e-3/images/generations",
        "/openai/deployments/dall-e-3/images/edits",
    ]
    for request in upstream.requests:
        assert request.query == {"api-version": "2025-04-01-preview"}
        assert request.headers["Api-Key"] == UPSTREAM_KEY and "Authorization" not in request.headers


async def test_the_configured_connection_is_used(engines, fake_upstream):
    chat, voice = await fake_upstream("openai"), await fake_upstream("openai")
    found = await engines(
        [
            {"base_url": chat.base_url + "/v1", "name": "chat"},
            {"base_url": voice.base_url + "/v1", "name": "voice"},
        ],
        audio_connection="voice",
    )
    await (await found.tts.synthesize(SpeechRequest("Hi"))).read()
    await found.stt.transcribe(TranscriptionRequest(b"RIFF"))
    await found.images.generate(ImageRequest("a cube"))
    assert [request.path for request in voice.requests] == ["/v1/audio/speech", "/v1/audio/transcriptions"]
    assert [request.path for request in chat.requests] == ["/v1/images/generations"]  # the first one


async def test_a_connection_that_does_not_exist_stops_the_start(engines, upstream):
    connections = [connection(upstream, name="main"), connection(upstream, name="off", enable=False)]
    for key, name in (("audio_connection", "mian"), ("images_connection", "off")):
        with pytest.raises(StartupError, match=f"{key}: no enabled connection is named '{name}'"):
            await engines(connections, **{key: name})


@pytest.mark.parametrize("disabled", [False, True], ids=["no-connection", "plugin-disabled"])
async def test_without_a_connection_the_engines_answer_503(engines, upstream, disabled):
    found = await engines([connection(upstream)], enable=False) if disabled else await engines([])
    reason = "the OpenAI plugin is disabled" if disabled else "none is configured"
    for call in every_call(found):
        with pytest.raises(UpstreamError) as missing:
            await call()
        assert missing.value.status == 503
        assert missing.value.detail.endswith(reason)
    assert upstream.requests == []


def every_call(found: Engines) -> list[Any]:
    return [
        lambda: found.tts.synthesize(SpeechRequest("Hi")),
        lambda: found.stt.transcribe(TranscriptionRequest(b"RIFF")),
        lambda: found.images.generate(ImageRequest("a cube")),
        lambda: found.images.edit(ImageEditRequest("a hat", [InputImage(PNG)])),
    ]


async def test_an_upstream_failure_is_502_naming_it_without_the_key(engines, upstream, caplog):
    caplog.set_level(logging.DEBUG)
    found = await engines([connection(upstream, name="main")])
    upstream.app.control.fail(500, f"kaboom with {UPSTREAM_KEY}")
    for call in every_call(found):
        with pytest.raises(UpstreamError) as failed:
            await call()
        assert failed.value.status == 502
        assert failed.value.detail == "OpenAI upstream 'main' failed (500): kaboom with ***"
    assert UPSTREAM_KEY not in caplog.text


async def test_an_unreachable_upstream_is_502(engines):
    gone = {"base_url": f"http://127.0.0.1:{closed_port()}/v1", "name": "gone", "api_key": UPSTREAM_KEY}
    found = await engines([gone])
    for call in every_call(found):
        with pytest.raises(UpstreamError) as failed:
            await call()
        assert failed.value.status == 502
        assert failed.value.detail.startswith("OpenAI upstream 'gone' is unreachable")
        assert UPSTREAM_KEY not in failed.value.detail


async def test_a_stalled_upstream_is_504(engines, upstream):
    found = await engines([connection(upstream, name="slow")], read_timeout=0.3)
    upstream.app.control.stall = asyncio.Event()  # never set: only the timeout ends the wait
    for call in every_call(found):
        with pytest.raises(UpstreamError) as failed:
            await call()
        assert failed.value.status == 504
        assert failed.value.detail == "OpenAI upstream 'slow' did not answer in time"


def raw_speech_upstream(pieces: list[bytes], gate: asyncio.Event, length: int | None = None) -> Any:
    """An upstream whose ``/audio/speech`` sends ``pieces``, waiting on ``gate`` after the first.

    With ``length``, it promises that many bytes (``Content-Length``) whatever it sends.
    """
    from quart import Quart, Response

    app = Quart("raw_speech")

    @app.post("/v1/audio/speech")
    async def speech() -> Any:
        async def body() -> Any:
            for number, piece in enumerate(pieces):
                yield piece
                if number == 0:
                    await gate.wait()

        headers = {} if length is None else {"Content-Length": str(length)}
        return Response(body(), content_type="audio/mpeg", headers=headers)

    return app


async def test_speech_arrives_before_the_upstream_has_finished(engines, fake_upstream):
    gate = asyncio.Event()
    fake = await fake_upstream(raw_speech_upstream([b"\xff\xfb first", b" rest"], gate))
    found = await engines([{"base_url": fake.base_url + "/v1", "name": "raw"}])
    speech = await found.tts.synthesize(SpeechRequest("Hi"))
    assert await anext(speech.chunks) == b"\xff\xfb first"  # while the upstream holds the rest
    gate.set()
    assert [chunk async for chunk in speech.chunks] == [b" rest"]

    unread = await found.tts.synthesize(SpeechRequest("Hi"))
    await unread.aclose()  # never iterated: the upstream response is released all the same
    assert unread.close.__self__.is_closed


async def test_speech_that_stalls_or_breaks_off_midway_raises_from_the_iteration(engines, fake_upstream):
    from colonnade.plugins.openai.audio import OpenAITTSEngine

    stalled = await fake_upstream(raw_speech_upstream([b"\xff\xfb", b"never"], asyncio.Event()))
    sent_all = asyncio.Event()
    sent_all.set()
    short = await fake_upstream(raw_speech_upstream([b"\xff\xfb", b"abc"], sent_all, length=1000))
    found = await engines(
        [
            {"base_url": stalled.base_url + "/v1", "name": "slow"},
            {"base_url": short.base_url + "/v1", "name": "short"},
        ],
        read_timeout=0.3,
    )
    speech = await found.tts.synthesize(SpeechRequest("Hi"))  # the first connection: "slow"
    with pytest.raises(UpstreamError) as timed_out:
        await speech.read()
    assert timed_out.value.status == 504
    assert timed_out.value.detail == "OpenAI upstream 'slow' did not answer in time"

    speech = await OpenAITTSEngine(found.tts.service, "short").synthesize(SpeechRequest("Hi"))
    with pytest.raises(UpstreamError) as broken:
        await speech.read()
    assert broken.value.status == 502
    assert broken.value.detail.startswith("OpenAI upstream 'short' broke off its speech: ")
