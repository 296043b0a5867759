"""The ``openai`` image engine for the future ``images`` feature (``register_image_engines``).

It draws through one connection: ``[plugins.openai] images_connection``, or the first enabled
connection. Generation is ``POST /images/generations`` (JSON); edits are ``POST /images/edits``
(multipart: ``image``, or ``image[]`` for several, and ``mask``). Azure connections use
``/openai/deployments/<deployment>/images/...?api-version=...``. DALL-E models are asked for
``b64_json`` so that the bytes come back at once; ``gpt-image`` models always send base64 and refuse
the parameter, so it is left out for them (Open WebUI does the same). An upstream that sends a URL
anyway gives a :class:`GeneratedImage` with ``url`` set, which the engine does not fetch.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from colonnade.plugins.openai.engine_shapes import GeneratedImage, ImageEditRequest, ImageRequest
from colonnade.plugins.openai.service import ConnectionEngine
from colonnade.plugins.openai.upstreams import Upstream, UpstreamError

#: OpenAI's image models (``/models`` does not say which models draw).
IMAGE_MODELS = ("dall-e-2", "dall-e-3", "gpt-image-1", "gpt-image-1.5")
#: The model used when a request names none (OpenAI's own default).
DEFAULT_MODEL = "dall-e-2"
#: File signatures of the formats OpenAI draws in, to label the decoded bytes.
SIGNATURES = ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"RIFF", "image/webp"))


class OpenAIImageEngine(ConnectionEngine):
    """Image generation and editing through one OpenAI connection (DESIGN.md C5's ``ImageEngine``)."""

    async def list_models(self) -> list[str]:
        return list(IMAGE_MODELS)

    async def generate(self, request: ImageRequest) -> list[GeneratedImage]:
        model = request.model or DEFAULT_MODEL
        body = _body(request.prompt, model, request.n, request.size, request.params)
        upstream = self.upstream("images")
        response = await upstream.send("images/generations", body, model)
        return _images(await upstream.read_json(response, "its images"), upstream)

    async def edit(self, request: ImageEditRequest) -> list[GeneratedImage]:
        if not request.images:
            raise UpstreamError(400, "Invalid request: images: at least one image to edit is required")
        model = request.model or DEFAULT_MODEL
        fields = _body(request.prompt, model, request.n, request.size, request.params)
        field_name = "image" if len(request.images) == 1 else "image[]"
        files = [(field_name, (image.filename, image.data, image.content_type)) for image in request.images]
        if request.mask is not None:
            files.append(("mask", (request.mask.filename, request.mask.data, request.mask.content_type)))
        upstream = self.upstream("images")
        response = await upstream.send("images/edits", fields, model, files=files)
        return _images(await upstream.read_json(response, "its images"), upstream)


def _body(prompt: str, model: str, n: int, size: str | None, params: Any) -> dict[str, Any]:
    if not prompt.strip():
        raise UpstreamError(400, "Invalid request: prompt: describe the image")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10:
        raise UpstreamError(400, "Invalid request: n: between 1 and 10 images")
    body: dict[str, Any] = {"model": model, "prompt": prompt, "n": n}
    if size:
        body["size"] = size
    if not model.startswith("gpt-image"):
        body["response_format"] = "b64_json"
    body.update(params)
    return body


def _images(answer: Any, upstream: Upstream) -> list[GeneratedImage]:
    entries = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise UpstreamError(502, f"{upstream.label} sent images in an unknown shape")
    images = []
    for entry in entries:
        revised = entry.get("revised_prompt") if isinstance(entry.get("revised_prompt"), str) else None
        encoded, url = entry.get("b64_json"), entry.get("url")
        if isinstance(encoded, str):
            try:
                data = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise UpstreamError(502, f"{upstream.label} sent an image that is not base64") from None
            images.append(GeneratedImage(data=data, content_type=_media_type(data), revised_prompt=revised))
        elif isinstance(url, str) and url.startswith(("https://", "http://")):
            images.append(GeneratedImage(url=url, revised_prompt=revised))
        else:
            raise UpstreamError(502, f"{upstream.label} sent an image with neither data nor a URL")
    return images


def _media_type(data: bytes) -> str:
    for signature, media_type in SIGNATURES:
        if data.startswith(signature):
            return media_type
    return "application/octet-stream"
