"""Open WebUI's pipelines admin routes, ``/api/v1/pipelines/*``, for hosted and remote pipelines.

``urlIdx`` picks where a call goes: a configured server's position in ``[plugins.pipelines] servers``
(the request is proxied to it with its key), or ``-1`` (also the default when it is left out) for the
pipelines this host runs itself. ``GET /list`` names both. A server that cannot be reached answers 404
``"Pipeline not found"``; a server's own error keeps its status and ``detail``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from quart import Blueprint, current_app, jsonify, request

from colonnade.actors import Actor
from colonnade.errors import ApiError
from colonnade.permissions import require
from colonnade.plugins.pipelines.models import Pipeline
from colonnade.plugins.pipelines.records import effective_valves
from colonnade.plugins.pipelines.views import MANAGE, json_object, service, stem_of, uploaded_module

if TYPE_CHECKING:
    from colonnade.plugins.pipelines.remote import RemoteServer

bp = Blueprint("pipelines_v1", __name__)

#: The ``urlIdx`` of the pipelines hosted by colonnade itself.
HOSTED = -1
HOSTED_URL = "colonnade://hosted"
#: Largest module fetched by ``/add``.
FETCH_LIMIT = 1_000_000


def state() -> Any:
    return current_app.extensions["colonnade"].state("pipelines")


def parse_index(value: Any) -> int:
    if value is None or value == "":
        return HOSTED
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, "urlIdx: must be an integer") from None


def target(index: int) -> RemoteServer | None:
    """The server at ``index``; ``None`` for the hosted pipelines; 404 for an unknown index."""
    if index == HOSTED:
        return None
    server = state().remotes.get(index)
    if server is None:
        raise ApiError(404, "Pipeline not found")
    return server


async def proxied(server: RemoteServer, method: str, path: str, **options: Any) -> Any:
    from colonnade.plugins.pipelines.remote import RemoteError

    try:
        return jsonify(await server.json(method, path, **options))
    except RemoteError as error:
        if error.status in (502, 504) and "unreachable" in error.detail:
            raise ApiError(404, "Pipeline not found") from None
        raise ApiError(error.status, error.detail) from None
    finally:
        # What the server offers may have changed: ask it again, and let the model list do so too.
        server.forget_models()
        service().models_changed()


@bp.get("/list")
@require(MANAGE)
async def list_servers(actor: Actor) -> Any:
    """``{"data": [{"url", "idx"}]}``: the hosted pipelines (``idx`` -1) and every configured server."""
    servers = [{"url": server.url, "idx": server.index} for server in state().remotes.servers]
    return jsonify({"data": [{"url": HOSTED_URL, "idx": HOSTED}, *servers]})


@bp.get("")
@bp.get("/")
@require(MANAGE)
async def list_pipelines(actor: Actor) -> Any:
    """``{"data": [{id, name, type, valves}]}`` of the pipelines at ``urlIdx``."""
    server = target(parse_index(request.args.get("urlIdx")))
    if server is not None:
        return await proxied(server, "GET", "pipelines")
    rows = await Pipeline.all().order_by("created_at", "id")
    return jsonify(
        {
            "data": [
                {
                    "id": row.id,
                    "name": row.name,
                    "type": row.type,
                    "valves": bool((row.info or {}).get("valves_spec")),
                    "is_active": row.is_active,
                }
                for row in rows
            ]
        }
    )


@bp.post("/add")
@require(MANAGE)
async def add_pipeline(actor: Actor) -> Any:
    """Install a module from ``url`` (``{url, urlIdx}``); hosted ones are fetched, stored and activated."""
    body = await json_object()
    url = body.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ApiError(400, "url: an http(s) URL is required")
    server = target(parse_index(body.get("urlIdx")))
    if server is not None:
        return await proxied(server, "POST", "pipelines/add", json={"url": url})
    source = await fetch_module(url)
    row = await service().create(actor, pipeline_id=stem_of(url.split("?")[0]), source=source, active=True)
    return jsonify({"status": True, "detail": f"Pipeline {row.id} added", "id": row.id})


async def fetch_module(url: str) -> str:
    import httpx

    raw_url = url
    if url.startswith("https://github.com/") and "/blob/" in url:
        raw_url = url.replace("https://github.com/", "https://raw.githubusercontent.com/", 1)
        raw_url = raw_url.replace("/blob/", "/", 1)
    if not raw_url.split("?")[0].endswith(".py"):
        raise ApiError(400, "Only Python (.py) files are allowed.")
    client = current_app.extensions["colonnade"].http_client("pipelines-fetch")
    try:
        async with client.stream("GET", raw_url, follow_redirects=True) as response:
            if response.status_code >= 400:
                raise ApiError(400, f"fetching the module answered {response.status_code}")
            data = b""
            async for piece in response.aiter_bytes():
                data += piece
                if len(data) > FETCH_LIMIT:
                    raise ApiError(400, "the module is too large")
    except httpx.HTTPError as error:
        raise ApiError(400, f"the module could not be fetched: {type(error).__name__}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the module is not UTF-8 text") from None


@bp.post("/upload")
@require(MANAGE)
async def upload_pipeline(actor: Actor) -> Any:
    """Multipart ``urlIdx`` and ``file`` (``.py`` only); a hosted upload is stored and activated."""
    filename, source, form = await uploaded_module()
    server = target(parse_index(form.get("urlIdx")))
    if server is not None:
        files = {"file": (filename, source.encode(), "text/x-python")}
        return await proxied(server, "POST", "pipelines/upload", files=files)
    row = await service().create(actor, pipeline_id=stem_of(filename), source=source, active=True)
    return jsonify({"status": True, "detail": f"Pipeline {row.id} uploaded", "id": row.id})


@bp.delete("/delete")
@require(MANAGE)
async def delete_pipeline(actor: Actor) -> Any:
    """``{id, urlIdx}``."""
    body = await json_object()
    pipeline_id = body.get("id")
    if not isinstance(pipeline_id, str) or not pipeline_id:
        raise ApiError(400, "id: the pipeline id is required")
    server = target(parse_index(body.get("urlIdx")))
    if server is not None:
        return await proxied(server, "DELETE", "pipelines/delete", json={"id": pipeline_id})
    await service().delete(pipeline_id)
    return jsonify({"status": True, "detail": f"Pipeline {pipeline_id} deleted"})


@bp.get("/<pipeline_id>/valves")
@require(MANAGE)
async def get_valves(pipeline_id: str, actor: Actor) -> Any:
    server = target(parse_index(request.args.get("urlIdx")))
    if server is not None:
        return await proxied(server, "GET", f"{quote(pipeline_id, safe='')}/valves")
    return jsonify(effective_valves(await service().get(pipeline_id)))


@bp.get("/<pipeline_id>/valves/spec")
@require(MANAGE)
async def get_valves_spec(pipeline_id: str, actor: Actor) -> Any:
    server = target(parse_index(request.args.get("urlIdx")))
    if server is not None:
        return await proxied(server, "GET", f"{quote(pipeline_id, safe='')}/valves/spec")
    return jsonify(((await service().get(pipeline_id)).info or {}).get("valves_spec"))


@bp.post("/<pipeline_id>/valves/update")
@require(MANAGE)
async def update_valves(pipeline_id: str, actor: Actor) -> Any:
    server = target(parse_index(request.args.get("urlIdx")))
    values = await json_object()
    if server is not None:
        return await proxied(server, "POST", f"{quote(pipeline_id, safe='')}/valves/update", json=values)
    return jsonify(await service().set_valves(pipeline_id, values))
