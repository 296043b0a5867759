"""Open WebUI's remaining ``/api/v1/retrieval`` routes: loading URLs, web search and the resets.

- ``POST /process/web``: fetch a page (:mod:`~colonnade.plugins.rag.web`: public addresses only unless
  configured otherwise), extract its text by ``Content-Type`` (HTML, PDF, DOCX, CSV, text), then
  chunk, embed and store it like any text;
- ``POST /process/youtube``: a video's transcript (:mod:`~colonnade.plugins.rag.youtube`);
- ``POST /process/url``: either of the two by the URL (``?process=false``: the content only);
- ``POST /process/web/search``: 403, there is no web search engine;
- ``POST /reset/db`` (admins): every vector collection and every knowledge base deleted;
- ``POST /reset/uploads`` (admins): 501, uploads belong to the ``files`` plugin.

Without ``collection_name`` a URL goes into the collection named by the first 63 hex digits of its
SHA-256 (as Open WebUI names it); loading the same URL again into a collection replaces the caller's
older chunks of it. A knowledge base named as the collection needs write access to it, checked before
anything is fetched. Routes are added to :data:`~colonnade.plugins.rag.views.bp_v1`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from quart import current_app, jsonify
from quart_schema import validate_querystring, validate_request

from colonnade.actors import Actor
from colonnade.errors import ApiError
from colonnade.permissions import require
from colonnade.plugins.rag.extract import ExtractionError, Section, extract
from colonnade.plugins.rag.ingest import EMPTY_CONTENT, Ingested
from colonnade.plugins.rag.schemas import ProcessUrlForm, ProcessUrlQuery
from colonnade.plugins.rag.service import content_hash
from colonnade.plugins.rag.views import _is_knowledge, bp_v1, ingestor, run, service, writable_collection
from colonnade.plugins.rag.web import check_url, fetch, page_text_bytes, web_client
from colonnade.plugins.rag.youtube import YouTube, video_id

WEB_SEARCH_DISABLED = "Web search is not enabled on this server"
UPLOADS_NOT_RESET = (
    "Uploads belong to the files plugin and are not reset here: delete files through /api/v1/files"
)


def host() -> Any:
    return current_app.extensions["colonnade"]


def url_collection(url: str) -> str:
    """Open WebUI's default collection of a URL: the first 63 hex digits of its SHA-256."""
    return content_hash(url)[:63]


class Loaded:
    """What a URL gave: its sections and extra metadata stored with every chunk."""

    def __init__(self, kind: str, url: str, sections: list[Section], meta: dict[str, Any]) -> None:
        self.kind = kind
        self.url = url
        self.sections = sections
        self.meta = meta
        self.content = "\n\n".join(text for text, _ in sections)
        if not self.content.strip():
            raise ApiError(400, EMPTY_CONTENT)


async def load_web(url: str) -> Loaded:
    """Fetch ``url`` and extract its text (400 for a refused, failed or unreadable page)."""
    config = service().config
    page = await fetch(
        web_client(host()),
        check_url(url),
        max_size=config.max_extract_size,
        timeout=config.web_loader_timeout,
    )
    # The server's Content-Type decides, unless it says nothing useful: then the URL's extension.
    generic = page.content_type in ("", "application/octet-stream", "binary/octet-stream")
    filename = page.filename if generic else "page"
    try:
        sections = await asyncio.to_thread(extract, page_text_bytes(page), filename, page.content_type)
    except ExtractionError as error:
        raise ApiError(400, f"Could not read the page: {error}") from None
    return Loaded("web", url, sections, {})


async def load_youtube(url: str) -> Loaded:
    """The transcript of the video ``url`` names, in the first configured language it has."""
    video = video_id(url)
    if video is None:
        raise ApiError(400, "Not a YouTube video URL (watch?v=, youtu.be/, /shorts/, /embed/ or /live/)")
    config = service().config
    tube = YouTube(
        host().http_client("rag.youtube"),
        config.youtube_base_url,
        max_size=config.max_extract_size,
        timeout=config.web_loader_timeout,
    )
    transcript = await tube.transcript(video, list(config.youtube_languages))
    meta = {"video_id": video, "language": transcript.language}
    if transcript.title:
        meta["title"] = transcript.title
    return Loaded("youtube", url, [(transcript.text, {})], meta)


async def store(actor: Actor, collection: str, loaded: Loaded) -> Ingested:
    """Chunk, embed and store a loaded URL, replacing the caller's older chunks of it."""
    metadata: dict[str, Any] = {
        "owner_id": actor.id,
        "created_by": actor.id,
        "name": loaded.url,
        "source": loaded.url,
        **loaded.meta,
    }
    if await _is_knowledge(collection):
        metadata["knowledge_id"] = collection
    rag = service()
    mine = {"source": loaded.url, "owner_id": actor.id}
    if await run(rag.collection(collection)) is not None and not await run(
        rag.store.count(collection, {**mine, "hash": content_hash(loaded.content)})
    ):
        await run(rag.delete(collection, mine))  # the page changed: its old chunks go
    return await run(ingestor().ingest(collection, loaded.sections, metadata))


def file_json(loaded: Loaded) -> dict[str, Any]:
    meta = {
        "name": loaded.url,
        "source": loaded.url,
        **({"title": loaded.meta["title"]} if "title" in loaded.meta else {}),
    }
    return {"data": {"content": loaded.content}, "meta": meta}


async def process(actor: Actor, data: ProcessUrlForm, load: Any) -> tuple[Loaded, str]:
    url = data.url.strip()
    # Where it goes is checked before anything is fetched.
    collection = await writable_collection(actor, data.collection_name or url_collection(url), None, "")
    loaded = await load(url)
    result = await store(actor, collection, loaded)
    return loaded, result.collection


def processed_json(loaded: Loaded, collection: str) -> dict[str, Any]:
    return {
        "status": True,
        "collection_name": collection,
        "filename": loaded.url,
        "content": loaded.content,
        "file": file_json(loaded),
    }


@bp_v1.post("/process/web")
@require("rag.use")
@validate_request(ProcessUrlForm)
async def process_web(data: ProcessUrlForm, actor: Actor) -> Any:
    """Fetch a web page and store its text: ``{status, collection_name, filename, content, file}``."""
    return processed_json(*await process(actor, data, load_web))


@bp_v1.post("/process/youtube")
@require("rag.use")
@validate_request(ProcessUrlForm)
async def process_youtube(data: ProcessUrlForm, actor: Actor) -> Any:
    """Fetch a YouTube video's transcript and store it (same shape as ``/process/web``)."""
    return processed_json(*await process(actor, data, load_youtube))


@bp_v1.post("/process/url")
@require("rag.use")
@validate_querystring(ProcessUrlQuery)
@validate_request(ProcessUrlForm)
async def process_url(data: ProcessUrlForm, query_args: ProcessUrlQuery, actor: Actor) -> Any:
    """A YouTube URL as ``/process/youtube``, any other as ``/process/web``, with ``type`` saying
    which; ``?process=false`` answers the content without storing anything."""
    url = data.url.strip()
    load = load_youtube if video_id(url) else load_web
    if not query_args.process:
        loaded = await load(url)
        return {"status": True, "type": loaded.kind, "name": url, "url": url, "content": loaded.content}
    loaded, collection = await process(actor, data, load)
    return {"type": loaded.kind, "name": url, "url": url, **processed_json(loaded, collection)}


@bp_v1.post("/process/web/search")
@require("rag.use")
async def process_web_search(actor: Actor) -> Any:
    """No web search engine is configured: always 403, as Open WebUI answers with web search off."""
    raise ApiError(403, WEB_SEARCH_DISABLED)


@bp_v1.post("/reset/db")
@require("rag.manage")
async def reset_db(actor: Actor) -> Any:
    """Delete every knowledge base (rows, grants, links from models) and every vector collection."""
    from colonnade.plugins.rag.knowledge_ops import delete
    from colonnade.plugins.rag.models import Knowledge

    the_host = host()
    for knowledge in await Knowledge.all():
        await run(delete(knowledge, the_host))
    rag = service()
    for name in await run(rag.store.list_collections()):
        await run(rag.drop(name))
    return jsonify(True)


@bp_v1.post("/reset/uploads")
@require("rag.manage")
async def reset_uploads(actor: Actor) -> Any:
    """Not served: 501 (Open WebUI empties its upload directory; here uploads are the files plugin's)."""
    raise ApiError(501, UPLOADS_NOT_RESET)
