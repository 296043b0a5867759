"""What the TTS, STT and image engines take and give: the shapes the ``audio`` and ``images`` features
will own.

Per DESIGN.md C5 the engine Protocols and these request/result types belong to the features
(``plugins/audio/engines.py``, ``plugins/images/engines.py``), the only modules engine authors import.
Those features do not exist yet, so the shapes live here for the ``openai`` engines; when a feature
arrives it adopts them (moved as they are) and this module imports them from there. Nothing here is
specific to OpenAI: another engine (ComfyUI, ElevenLabs, a local Whisper) fills the same fields.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# -- speech (TTS) ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeechRequest:
    """Text to speak (OpenAI's ``/audio/speech`` body, engine-neutral names).

    :param text: What to say.
    :param voice: A voice id from the engine's ``list_voices()``.
    :param model: A model id from the engine's ``list_models()``.
    :param format: The audio format: ``mp3``, ``opus``, ``aac``, ``flac``, ``wav`` or ``pcm``.
    :param speed: 0.25 to 4.0; ``None`` leaves the engine default (1.0).
    :param instructions: How to speak (tone, accent), for models that take it.
    :param params: Engine-specific extra fields, merged into the upstream request last (Open WebUI's
        ``AUDIO_TTS_OPENAI_PARAMS``).
    """

    text: str
    voice: str = "alloy"
    model: str = "tts-1"
    format: str = "mp3"
    speed: float | None = None
    instructions: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class SynthesizedSpeech:
    """Spoken audio, streamed: iterate ``chunks`` (or ``await read()``) once, or ``await aclose()``.

    :param content_type: The audio's media type (``audio/mpeg``).
    :param chunks: The audio bytes as they arrive; the upstream response closes when iteration ends.
    :param close: Releases the upstream response when the audio is not read to its end.
    """

    content_type: str
    chunks: AsyncIterator[bytes]
    close: Callable[[], Awaitable[None]] | None = None

    async def read(self) -> bytes:
        """All of the audio at once."""
        return b"".join([chunk async for chunk in self.chunks])

    async def aclose(self) -> None:
        """Give up on the rest of the audio (an unstarted generator would never run its cleanup)."""
        stop = getattr(self.chunks, "aclose", None)
        if stop is not None:
            await stop()
        if self.close is not None:
            await self.close()


# -- transcription (STT) --------------------------------------------------------------------------


@dataclass(frozen=True)
class TranscriptionRequest:
    """Audio to write down.

    :param audio: The recording: bytes, or an async iterable of byte chunks (read before sending).
    :param filename: Its file name; upstreams guess the format from the extension.
    :param content_type: Its media type (``audio/webm``).
    :param model: A model id from the engine's ``list_models()``.
    :param language: ISO-639-1 code of the spoken language (``en``); ``None``: detected.
    :param prompt: Text that guides spelling and style (names, jargon).
    :param params: Engine-specific extra form fields, sent last.
    """

    audio: bytes | AsyncIterable[bytes]
    filename: str = "audio.mp3"
    content_type: str = "application/octet-stream"
    model: str = "whisper-1"
    language: str | None = None
    prompt: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


# -- images ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageRequest:
    """A picture to draw.

    :param prompt: What to draw.
    :param model: A model id from the engine's ``list_models()``; ``None``: the engine's default.
    :param n: How many images.
    :param size: ``WxH`` (``1024x1024``) or ``auto``; ``None``: the engine's default.
    :param params: Engine-specific extra fields (``quality``, ``style``, ``background``), merged last
        (Open WebUI's ``IMAGES_OPENAI_PARAMS``).
    """

    prompt: str
    model: str | None = None
    n: int = 1
    size: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InputImage:
    """An image given to an edit (a source image or a mask)."""

    data: bytes
    filename: str = "image.png"
    content_type: str = "image/png"


@dataclass(frozen=True)
class ImageEditRequest:
    """A change to one or more images.

    :param prompt: The change to make.
    :param images: The source images (at least one).
    :param mask: Where to change: the transparent areas of this PNG; ``None``: anywhere.
    :param model: As in :class:`ImageRequest`, and so are ``n``, ``size`` and ``params``.
    """

    prompt: str
    images: Sequence[InputImage]
    mask: InputImage | None = None
    model: str | None = None
    n: int = 1
    size: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GeneratedImage:
    """One image an engine made: its bytes, or a URL to fetch them from (not fetched by the engine).

    :param data: The image file, when the engine sent it.
    :param content_type: Its media type (``image/png``), when ``data`` is set.
    :param url: Where the engine left it, when it sent a link instead (valid for a short while).
    :param revised_prompt: The prompt the model actually drew, when it rewrote it.
    """

    data: bytes | None = None
    content_type: str | None = None
    url: str | None = None
    revised_prompt: str | None = None
