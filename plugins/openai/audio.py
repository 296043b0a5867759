"""The ``openai`` TTS and STT engines for the future ``audio`` feature (``register_tts_engines`` and
``register_stt_engines``).

Both use one connection: ``[plugins.openai] audio_connection``, or the first enabled connection, as
Open WebUI's audio routes do. Speech is ``POST /audio/speech`` (JSON in, the audio body relayed as it
arrives); transcription is ``POST /audio/transcriptions`` (multipart in, JSON out). Azure connections
use ``/openai/deployments/<deployment>/audio/...?api-version=...`` like chat. Failures are
:class:`~colonnade.plugins.openai.upstreams.UpstreamError`: 502 or 504 naming the connection, an
upstream 4xx with its status.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any

from colonnade.plugins.openai.engine_shapes import SpeechRequest, SynthesizedSpeech, TranscriptionRequest
from colonnade.plugins.openai.service import ConnectionEngine
from colonnade.plugins.openai.upstreams import Upstream, UpstreamError

#: OpenAI's speech models and voices (its API lists neither: ``/models`` mixes every kind of model).
TTS_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
TTS_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse")
#: Media type of each ``response_format``, for an upstream that answers without a Content-Type.
AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
STT_MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")
#: OpenAI refuses larger uploads; checked here so that a huge recording is not sent only to be refused.
MAX_AUDIO_BYTES = 25 * 1024 * 1024


class OpenAITTSEngine(ConnectionEngine):
    """Text to speech through ``/audio/speech`` of one OpenAI connection."""

    async def list_models(self) -> list[str]:
        return list(TTS_MODELS)

    async def list_voices(self) -> list[dict[str, str]]:
        return [{"id": voice, "name": voice} for voice in TTS_VOICES]

    async def synthesize(self, request: SpeechRequest) -> SynthesizedSpeech:
        """Start speaking ``request.text``; the audio streams from the returned object.

        The upstream's status is known on return (a refusal raises here); a break mid-audio raises
        from the iteration.
        """
        if not request.text.strip():
            raise UpstreamError(400, "Invalid request: text: there is nothing to say")
        upstream = self.upstream("speech")
        body: dict[str, Any] = {
            "model": request.model,
            "input": request.text,
            "voice": request.voice,
            "response_format": request.format,
        }
        if request.speed is not None:
            body["speed"] = request.speed
        if request.instructions:
            body["instructions"] = request.instructions
        body.update(request.params)
        response = await upstream.send("audio/speech", body, request.model)
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        if content_type.startswith(("application/json", "text/")):
            # Not audio: a proxy's login page, or an error sent with status 200.
            await response.aclose()
            raise UpstreamError(502, f"{upstream.label} sent {content_type} instead of audio")
        content_type = content_type or AUDIO_TYPES.get(request.format, "application/octet-stream")
        return SynthesizedSpeech(content_type, upstream.relay(response, "its speech"), response.aclose)


class OpenAISTTEngine(ConnectionEngine):
    """Speech to text through ``/audio/transcriptions`` of one OpenAI connection."""

    async def list_models(self) -> list[str]:
        return list(STT_MODELS)

    async def transcribe(self, request: TranscriptionRequest) -> dict[str, Any]:
        """``{"text": ...}`` (plus ``language`` and ``duration`` when the upstream sends them)."""
        upstream = self.upstream("transcription")
        audio = await _gather(request.audio)
        if not audio:
            raise UpstreamError(400, "Invalid request: audio: the recording is empty")
        fields: dict[str, Any] = {
            "model": request.model,
            "language": request.language,
            "prompt": request.prompt,
            "response_format": "json",
            **request.params,
        }
        files = [("file", (request.filename, audio, request.content_type))]
        response = await upstream.send("audio/transcriptions", fields, request.model, files=files)
        answer = await upstream.read_json(response, "its transcription")
        return _transcript(answer, upstream)


async def _gather(audio: bytes | AsyncIterable[bytes]) -> bytes:
    """The whole recording (multipart needs its length); over :data:`MAX_AUDIO_BYTES` is a 413."""
    if isinstance(audio, bytes | bytearray | memoryview):
        collected = bytes(audio)
    else:
        parts = bytearray()
        async for chunk in audio:
            parts += chunk
            if len(parts) > MAX_AUDIO_BYTES:
                break
        collected = bytes(parts)
    if len(collected) > MAX_AUDIO_BYTES:
        raise UpstreamError(413, f"Invalid request: audio: larger than {MAX_AUDIO_BYTES // 2**20} MB")
    return collected


def _transcript(answer: Any, upstream: Upstream) -> dict[str, Any]:
    if not isinstance(answer, dict) or not isinstance(answer.get("text"), str):
        raise UpstreamError(502, f"{upstream.label} sent a transcription in an unknown shape")
    result: dict[str, Any] = {"text": answer["text"]}
    for key in ("language", "duration"):
        if answer.get(key) is not None:
            result[key] = answer[key]
    return result
