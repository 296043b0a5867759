"""``/ollama/...``: Ollama's own API, served over every configured upstream (API.md 3.17).

A request names a model; the upstream serving it gets the body with the model's prefix stripped, and
its answer comes back unchanged (NDJSON streamed line by line, or one JSON object). Every route also
takes a trailing ``/<index>`` to target one upstream. Callers need ``ollama.use``, checked again with
the model id as the resource so that another plugin may refuse single models; pulling a model needs
``ollama.manage`` (admins).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, current_app, jsonify, request

from colonnade.actors import Actor
from colonnade.errors import ApiError
from colonnade.permissions import require
from colonnade.plugins.ollama.relay import ndjson_response, open_stream
from colonnade.plugins.ollama.upstreams import Upstream, Upstreams, model_name, model_not_found, upstreams_of

bp = Blueprint("ollama", __name__)

DISABLED = "The Ollama API is disabled. Please enable it to use this feature."


def upstreams() -> Upstreams:
    registry = upstreams_of(current_app.extensions["colonnade"])
    if not registry.config.enable:
        raise ApiError(503, DISABLED)
    return registry


def _target(registry: Upstreams, url_idx: int | None) -> Upstream | None:
    return None if url_idx is None else registry.by_index(url_idx)


async def json_object() -> dict[str, Any]:
    body = await request.get_json(force=True)
    if not isinstance(body, dict):
        raise ApiError(422, "Invalid request: the body must be a JSON object")
    return body


async def may_use(actor: Actor, model: str) -> bool:
    return await current_app.extensions["colonnade"].check_permission(actor, "ollama.use", model)


async def routed(body: dict[str, Any], actor: Actor, url_idx: int | None, key: str = "model"):
    """Resolve the body's model to an upstream; the forwarded copy names the upstream's model."""
    registry = upstreams()
    model = body.get(key)
    if not isinstance(model, str) or not model:
        raise ApiError(422, f"Invalid request: '{key}' must be a non-empty string")
    # Checked before any upstream is asked: a model the caller may not use does not exist for them,
    # not even as an upstream's error.
    if not await may_use(actor, model):
        raise model_not_found(model)
    upstream, local = await registry.resolve(model, only=_target(registry, url_idx))
    return upstream, {**body, key: local}


def both(rule: str, **options: Any):
    """Register a view at ``rule`` and at ``rule/<int:url_idx>``."""

    def decorator(view):
        bp.route(rule, **options)(view)
        bp.route(f"{rule}/<int:url_idx>", **options)(view)
        return view

    return decorator


@bp.route("/", methods=["GET", "HEAD"])
@bp.route("", methods=["GET", "HEAD"])
@require("ollama.use")
async def status(actor: Actor) -> dict[str, Any]:
    """Whether the proxy is on: ``{"status": true}``."""
    upstreams()
    return {"status": True}


@both("/api/tags", methods=["GET"])
@require("ollama.use")
async def tags(actor: Actor, url_idx: int | None = None) -> dict[str, Any]:
    """Models of every upstream merged by name (``urls`` lists the upstreams serving each), or of one
    upstream; only the models the caller may use. ``?refresh=true`` skips the cached lists."""
    registry = upstreams()
    refresh = request.args.get("refresh", "").lower() in ("1", "true", "yes")
    if url_idx is None:
        entries = await registry.merged_tags(refresh=refresh)
    else:
        upstream = registry.by_index(url_idx)
        entries = []
        for entry in await upstream.tags(registry.config.models_cache_ttl, refresh=refresh):
            published = upstream.publish(model_name(entry))
            entries.append({**entry, "name": published, "model": published, "urls": [url_idx]})
    return {"models": [entry for entry in entries if await may_use(actor, entry["name"])]}


@both("/api/version", methods=["GET"])
@require("ollama.use")
async def version(actor: Actor, url_idx: int | None = None) -> dict[str, Any]:
    """The lowest version among the upstreams (what every one of them supports), or one upstream's."""
    registry = upstreams()
    targets = registry.all if url_idx is None else [registry.by_index(url_idx)]
    if not targets:
        raise ApiError(503, "No Ollama upstream is configured")
    versions = []
    for upstream in targets:
        data = await upstream.request_json("GET", "/api/version")
        if not isinstance(data, dict) or not isinstance(data.get("version"), str):
            raise ApiError(502, f"{upstream.label} sent a version answer without 'version'")
        versions.append(data["version"])
    return {"version": min(versions, key=version_key)}


def version_key(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.lstrip("v").split("-")[0].split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


async def generation(path: str, actor: Actor, url_idx: int | None) -> Any:
    body = await json_object()
    upstream, forwarded = await routed(body, actor, url_idx)
    if forwarded.get("stream", True) is False:
        return jsonify(await upstream.request_json("POST", path, forwarded))
    stream, first = await open_stream(upstream, path, forwarded)
    return ndjson_response(stream, first)


@both("/api/chat", methods=["POST"])
@require("ollama.use")
async def chat(actor: Actor, url_idx: int | None = None) -> Any:
    """Ollama's ``/api/chat``: NDJSON when ``stream`` is true or absent, else one JSON object."""
    return await generation("/api/chat", actor, url_idx)


@both("/api/generate", methods=["POST"])
@require("ollama.use")
async def generate(actor: Actor, url_idx: int | None = None) -> Any:
    """Ollama's ``/api/generate``: NDJSON when ``stream`` is true or absent, else one JSON object."""
    return await generation("/api/generate", actor, url_idx)


async def forwarded_json(path: str, actor: Actor, url_idx: int | None, key: str = "model") -> Any:
    body = await json_object()
    if key == "model" and "model" not in body and "name" in body:
        key = "name"  # /api/show and /api/pull still accept Ollama's older field name
    upstream, forwarded = await routed(body, actor, url_idx, key)
    return jsonify(await upstream.request_json("POST", path, forwarded))


@both("/api/embed", methods=["POST"])
@require("ollama.use")
async def embed(actor: Actor, url_idx: int | None = None) -> Any:
    """``{model, input}`` -> ``{model, embeddings: [[...]]}``."""
    return await forwarded_json("/api/embed", actor, url_idx)


@both("/api/embeddings", methods=["POST"])
@require("ollama.use")
async def embeddings(actor: Actor, url_idx: int | None = None) -> Any:
    """The legacy ``{model, prompt}`` -> ``{embedding: [...]}``."""
    return await forwarded_json("/api/embeddings", actor, url_idx)


@both("/api/show", methods=["POST"])
@require("ollama.use")
async def show(actor: Actor, url_idx: int | None = None) -> Any:
    """A model's details (modelfile, parameters, template, ...)."""
    return await forwarded_json("/api/show", actor, url_idx)


@both("/api/pull", methods=["POST"])
@require("ollama.manage")
async def pull(actor: Actor, url_idx: int | None = None) -> Any:
    """Download a model onto one upstream (the first unless ``/<index>`` says); progress is streamed
    as NDJSON (``stream: false`` waits and answers the final status)."""
    registry = upstreams()
    if not registry.all:
        raise ApiError(503, "No Ollama upstream is configured")
    upstream = registry.by_index(url_idx or 0)
    body = await json_object()
    key = "model" if "model" in body or "name" not in body else "name"
    model = body.get(key)
    if not isinstance(model, str) or not model:
        raise ApiError(422, "Invalid request: 'model' must be a non-empty string")
    local = upstream.local_name(model)
    forwarded = {**body, key: local if local is not None else model}
    # The new model must show up in the next list, even one cached while the pull ran.
    registry.forget_models()
    if forwarded.get("stream", True) is False:
        try:
            return jsonify(await upstream.request_json("POST", "/api/pull", forwarded))
        finally:
            registry.forget_models()
    stream, first = await open_stream(
        upstream, "/api/pull", forwarded, finished=lambda item: item.get("status") == "success"
    )
    return ndjson_response(stream, first, after=registry.forget_models)
