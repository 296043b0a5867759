"""Retrieval routes: ``/api/rag/{embed,query}`` (the spec) and Open WebUI's ``/api/v1/retrieval/*``.

Both map onto the same code: ingestion (:mod:`~colonnade.plugins.rag.ingest`), the caller's scope
(:func:`~colonnade.plugins.rag.retrieval.scope`) and the service's search. A file's indexing status is
also served at Open WebUI's ``GET /api/v1/files/<id>/process/status``.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, current_app
from quart_schema import validate_request

from colonnade.actors import Actor
from colonnade.errors import ApiError
from colonnade.permissions import require
from colonnade.plugins.rag import overrides
from colonnade.plugins.rag.ingest import Ingested, Ingestor, file_collection
from colonnade.plugins.rag.knowledge import Viewer, find
from colonnade.plugins.rag.retrieval import MEMORY_PREFIX, collection_result, doc_result, scope, visible_file
from colonnade.plugins.rag.schemas import (
    DeleteForm,
    EmbedForm,
    ProcessFileForm,
    ProcessFilesBatchForm,
    ProcessTextForm,
    QueryDocForm,
    QueryForm,
)
from colonnade.plugins.rag.service import RagService, as_api_error, content_hash, rag_service

bp = Blueprint("rag", __name__)
bp_v1 = Blueprint("rag_retrieval_v1", __name__)
bp_files_v1 = Blueprint("rag_files_v1", __name__)
for _blueprint in (bp, bp_v1):
    _blueprint.before_request(overrides.before_request)  # another worker's change to the settings

SPEC_PREFIX = "/api/rag"
OPEN_WEBUI_PREFIX = "/api/v1/retrieval"
QUERY_FAILED = "[ERROR: Error querying knowledge base]"


def service() -> RagService:
    return rag_service(current_app.extensions["colonnade"])


def ingestor() -> Ingestor:
    return current_app.extensions["colonnade"].state("rag").ingestor


async def run(awaitable: Any) -> Any:
    """Await, answering retrieval failures (store, embedding, mismatch) as their HTTP errors."""
    try:
        return await awaitable
    except ApiError:
        raise
    except Exception as error:  # noqa: BLE001 - as_api_error re-raises what it does not know
        raise as_api_error(error) from None


async def writable_collection(actor: Actor, name: str | None, knowledge_id: str | None, text: str) -> str:
    """Where a text goes: a knowledge base the caller may write, a free name, or (none given) the
    SHA-256 of the text, as Open WebUI does. File and memory collections are not written this way."""
    if knowledge_id is not None or (name is not None and await _is_knowledge(name)):
        await find(await Viewer.load(actor), knowledge_id or name or "", write=True)
        return knowledge_id or name or ""
    if name is None:
        return content_hash(text)
    if name.startswith(("file-", MEMORY_PREFIX)):
        raise ApiError(403, f"Collection {name} is written by its own feature, not with texts")
    return name


async def _is_knowledge(name: str) -> bool:
    from colonnade.plugins.rag.models import Knowledge

    return len(name) <= 36 and await Knowledge.exists(id=name)


async def embed_text(actor: Actor, text: str, name: str, collection: str) -> Ingested:
    metadata: dict[str, Any] = {"owner_id": actor.id, "created_by": actor.id, "name": name, "source": name}
    if await _is_knowledge(collection):
        metadata["knowledge_id"] = collection
    return await run(ingestor().ingest(collection, [(text, {})], metadata))


async def embed_file(actor: Actor, file_id: str, *, force: bool = False, content: str | None = None) -> Any:
    record = await visible_file(current_app.extensions["colonnade"], actor, file_id)
    return record, await run(ingestor().ingest_file(record, force=force, content=content))


def ingested_json(result: Ingested) -> dict[str, Any]:
    return {
        "status": True,
        "collection_name": result.collection,
        "chunks": result.chunks,
        "skipped": result.skipped,
        "hash": result.hash,
    }


# -- the spec: /api/rag ------------------------------------------------------------------------------


@bp.post("/embed")
@require("rag.use")
@validate_request(EmbedForm)
async def embed(data: EmbedForm, actor: Actor) -> Any:
    """Ingest a text, or files: chunk, embed and store; unchanged content does no work."""
    if data.text is not None:
        collection = await writable_collection(actor, data.collection_name, data.knowledge_id, data.text)
        return ingested_json(await embed_text(actor, data.text, data.name or "text", collection))
    from colonnade.plugins.rag.knowledge_ops import add_file

    knowledge = None
    if data.knowledge_id is not None:
        knowledge = await find(await Viewer.load(actor), data.knowledge_id, write=True)
    results = []
    for file_id in dict.fromkeys([*(data.file_ids or ()), *([data.file_id] if data.file_id else [])]):
        try:
            record, result = await embed_file(actor, file_id, force=data.force)
            if knowledge is not None:
                await add_file(actor, knowledge, record)
            results.append({"file_id": file_id, **ingested_json(result), "status": "completed"})
        except ApiError as error:
            if error.status == 404 or len(data.file_ids or ()) + bool(data.file_id) == 1:
                raise
            results.append({"file_id": file_id, "status": "failed", "error": error.detail})
    return {"results": results}


@bp.post("/query")
@require("rag.use")
@validate_request(QueryForm)
async def query(data: QueryForm, actor: Actor) -> Any:
    """Search collections, knowledge bases and files the caller may read; Open WebUI's merged shape."""
    the_host = current_app.extensions["colonnade"]
    scoped = await scope(the_host, actor, data.collection_names, data.knowledge_ids, data.file_ids)
    hits = await run(
        service().search(
            scoped,
            data.query,
            k=data.k,
            threshold=data.r,
            hybrid=data.hybrid,
            bm25_weight=data.hybrid_bm25_weight,
        )
    )
    return collection_result(hits)


@bp.get("/files/<file_id>/status")
@require("rag.use")
async def file_status(file_id: str, actor: Actor) -> Any:
    """A file's indexing status: ``{status, error?, progress?, collection_name?}``."""
    record = await visible_file(current_app.extensions["colonnade"], actor, file_id)
    return status_json(record)


def status_json(record: Any) -> dict[str, Any]:
    data = record.data or {}
    body = {"id": record.id, "status": data.get("status", "pending" if not data else "completed")}
    for key in ("error", "progress", "collection_name"):
        if key in data:
            body[key] = data[key]
    return body


# -- Open WebUI: /api/v1/retrieval --------------------------------------------------------------------


@bp_v1.post("/process/text")
@require("rag.use")
@validate_request(ProcessTextForm)
async def process_text(data: ProcessTextForm, actor: Actor) -> Any:
    collection = await writable_collection(actor, data.collection_name, None, data.content)
    result = await embed_text(actor, data.content, data.name or "text", collection)
    return {"status": True, "collection_name": result.collection, "content": data.content}


@bp_v1.post("/process/file")
@require("rag.use")
@validate_request(ProcessFileForm)
async def process_file(data: ProcessFileForm, actor: Actor) -> Any:
    from colonnade.plugins.rag.knowledge_ops import add_file

    record, result = await embed_file(actor, data.file_id, content=data.content)
    name = data.collection_name
    if name is not None and name != file_collection(record.id):
        await add_file(actor, await find(await Viewer.load(actor), name, write=True), record)
    content = (record.data or {}).get("content", data.content or "")
    return {
        "status": True,
        "collection_name": name or result.collection,
        "filename": record.filename,
        "content": content,
    }


@bp_v1.post("/process/files/batch")
@require("rag.use")
@validate_request(ProcessFilesBatchForm)
async def process_files_batch(data: ProcessFilesBatchForm, actor: Actor) -> Any:
    from colonnade.plugins.rag.knowledge_ops import add_file

    knowledge = await find(await Viewer.load(actor), data.collection_name, write=True)
    results, errors = [], []
    for item in data.files:
        try:
            record, _ = await embed_file(actor, item.id)
            await add_file(actor, knowledge, record)
            results.append({"file_id": item.id, "status": "completed"})
        except ApiError as error:
            results.append({"file_id": item.id, "status": "failed", "error": error.detail})
            errors.append({"file_id": item.id, "error": error.detail})
    return {"results": results, "errors": errors}


@bp_v1.post("/query/doc")
@require("rag.use")
@validate_request(QueryDocForm)
async def query_doc(data: QueryDocForm, actor: Actor) -> Any:
    scoped = await scope(current_app.extensions["colonnade"], actor, [data.collection_name])
    try:
        hits = await service().search(
            scoped,
            data.query,
            k=data.k,
            threshold=data.r,
            hybrid=data.hybrid,
            bm25_weight=data.hybrid_bm25_weight,
        )
    except Exception as error:  # noqa: BLE001 - Open WebUI answers every search failure with one message
        raise ApiError(400, f"{QUERY_FAILED}: {as_api_error(error).detail}") from None
    return collection_result(hits) if data.hybrid else doc_result(hits)


@bp_v1.post("/query/collection")
@require("rag.use")
@validate_request(QueryForm)
async def query_collection(data: QueryForm, actor: Actor) -> Any:
    scoped = await scope(
        current_app.extensions["colonnade"], actor, data.collection_names, data.knowledge_ids, data.file_ids
    )
    try:
        hits = await service().search(
            scoped,
            data.query,
            k=data.k,
            threshold=data.r,
            hybrid=data.hybrid,
            bm25_weight=data.hybrid_bm25_weight,
        )
    except Exception as error:  # noqa: BLE001 - as above
        raise ApiError(400, f"{QUERY_FAILED}: {as_api_error(error).detail}") from None
    return collection_result(hits)


@bp_v1.post("/delete")
@require("rag.manage")
@validate_request(DeleteForm)
async def delete_entries(data: DeleteForm, actor: Actor) -> Any:
    """Delete one file's entries from a collection (admins)."""
    removed = await run(service().delete(data.collection_name, {"file_id": data.file_id}))
    return {"status": removed > 0}


# -- Open WebUI: /api/v1/files/<id>/process/status -----------------------------------------------------


@bp_files_v1.get("/<file_id>/process/status")
@require("rag.use")
async def process_status(file_id: str, actor: Actor) -> Any:
    record = await visible_file(current_app.extensions["colonnade"], actor, file_id)
    return status_json(record)
