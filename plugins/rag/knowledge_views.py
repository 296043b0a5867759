"""Knowledge-base routes at ``/api/knowledge`` (the spec) and ``/api/v1/knowledge`` (Open WebUI).

One blueprint serves both prefixes: the spec's ``POST /api/knowledge``, ``POST /api/knowledge/:id``
and ``DELETE /api/knowledge/:id`` sit beside Open WebUI's ``/create``, ``/:id/update`` and
``/:id/delete``. Bodies and answers are Open WebUI's shapes. A knowledge base the caller may not read
is a 404; one they may read but not write is a 403 for changes.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, current_app, request
from quart_schema import validate_request
from tortoise.transactions import in_transaction

from colonnade.actors import Actor
from colonnade.errors import ApiError
from colonnade.permissions import require
from colonnade.plugins.rag import knowledge_ops, overrides
from colonnade.plugins.rag.knowledge import (
    Viewer,
    file_ids_of,
    files_json,
    find,
    grants_of,
    keys_of,
    knowledge_json,
    replace_grants,
    requested_grants,
)
from colonnade.plugins.rag.models import Knowledge, KnowledgeFile, now
from colonnade.plugins.rag.retrieval import visible_file
from colonnade.plugins.rag.schemas import AccessForm, FileIdForm, KnowledgeForm, KnowledgeUpdateForm

bp = Blueprint("knowledge", __name__)
bp.before_request(overrides.before_request)  # another worker's change to the retrieval settings

PREFIXES = {"knowledge": "/api/knowledge", "knowledge_v1": "/api/v1/knowledge"}
PAGE_SIZE = 30


def host() -> Any:
    return current_app.extensions["colonnade"]


async def detail(viewer: Viewer, knowledge: Knowledge, *, with_files: bool = True) -> dict[str, Any]:
    grants = await grants_of(knowledge.id)
    body = knowledge_json(knowledge, grants, write_access=viewer.can_write(knowledge, keys_of(grants)))
    body["files"] = await files_json(knowledge.id) if with_files else None
    return body


async def checked_grants(actor: Actor, body: dict[str, Any]) -> set[tuple[str, str, str]] | None:
    """The requested grants; sharing with every user needs ``knowledge.share_public``."""
    grants = requested_grants(body)
    public = bool(grants) and any(pid == "*" for _, pid, _ in grants)
    if public and not await host().check_permission(actor, "knowledge.share_public"):
        raise ApiError(403, "You may not share knowledge bases with every user")
    return grants


@bp.get("")
@bp.get("/")
@require("rag.use")
async def list_knowledge(actor: Actor) -> Any:
    """The knowledge bases the caller may read, newest first: ``{items, total}`` (``page`` pages)."""
    viewer = await Viewer.load(actor)
    query = Knowledge.all()
    readable = viewer.readable()
    if readable is not None:
        query = query.filter(readable)
    total = await query.count()
    query = query.order_by("-updated_at", "id")
    page = request.args.get("page", type=int)
    if page is not None:
        query = query.offset((max(page, 1) - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    items = []
    from colonnade.auth.models import User

    rows = await query
    owners = (
        {user.id: user for user in await User.filter(id__in={row.user_id for row in rows})} if rows else {}
    )
    counts: dict[str, int] = {}
    for kid in await KnowledgeFile.filter(knowledge_id__in=[row.id for row in rows]).values_list(
        "knowledge_id", flat=True
    ):
        counts[str(kid)] = counts.get(str(kid), 0) + 1
    for row in rows:
        grants = await grants_of(row.id)
        item = knowledge_json(row, grants, write_access=viewer.can_write(row, keys_of(grants)))
        owner = owners.get(row.user_id)
        item["user"] = (
            {"id": owner.id, "name": owner.name, "email": owner.email, "role": owner.role} if owner else None
        )
        item["file_count"] = counts.get(row.id, 0)
        items.append(item)
    return {"items": items, "total": total}


@bp.post("")
@bp.post("/")
@bp.post("/create")
@require("knowledge.create")
@validate_request(KnowledgeForm)
async def create(data: KnowledgeForm, actor: Actor) -> Any:
    grants = await checked_grants(actor, data.model_dump(exclude_unset=True))
    async with in_transaction():
        knowledge = await Knowledge.create(
            user_id=actor.id, name=data.name, description=data.description, meta=data.meta
        )
        await replace_grants(knowledge, grants or set())
    return await detail(await Viewer.load(actor), knowledge, with_files=False)


@bp.get("/<knowledge_id>")
@require("rag.use")
async def read(knowledge_id: str, actor: Actor) -> Any:
    viewer = await Viewer.load(actor)
    return await detail(viewer, await find(viewer, knowledge_id))


@bp.post("/<knowledge_id>")
@bp.put("/<knowledge_id>")
@bp.patch("/<knowledge_id>")
@bp.post("/<knowledge_id>/update")
@require("rag.use")
@validate_request(KnowledgeUpdateForm)
async def update(knowledge_id: str, data: KnowledgeUpdateForm, actor: Actor) -> Any:
    viewer = await Viewer.load(actor)
    knowledge = await find(viewer, knowledge_id, write=True)
    grants = await checked_grants(actor, data.model_dump(exclude_unset=True))
    async with in_transaction():
        for field in ("name", "description", "meta"):
            if field in data.model_fields_set and (getattr(data, field) is not None or field == "meta"):
                setattr(knowledge, field, getattr(data, field))
        knowledge.updated_at = now()
        await knowledge.save()
        if grants is not None:
            await replace_grants(knowledge, grants)
    return await detail(viewer, knowledge)


@bp.post("/<knowledge_id>/access/update")
@require("rag.use")
@validate_request(AccessForm)
async def update_access(knowledge_id: str, data: AccessForm, actor: Actor) -> Any:
    viewer = await Viewer.load(actor)
    knowledge = await find(viewer, knowledge_id, write=True)
    grants = await checked_grants(actor, {"access_grants": data.access_grants})
    await replace_grants(knowledge, grants or set())
    return await detail(viewer, knowledge)


@bp.get("/<knowledge_id>/files")
@require("rag.use")
async def list_files(knowledge_id: str, actor: Actor) -> Any:
    knowledge = await find(await Viewer.load(actor), knowledge_id)
    items = await files_json(knowledge.id)
    return {"items": items, "total": len(items)}


@bp.post("/<knowledge_id>/file/add")
@bp.post("/<knowledge_id>/file/update")
@require("rag.use")
@validate_request(FileIdForm)
async def add_file(knowledge_id: str, data: FileIdForm, actor: Actor) -> Any:
    """Add (or re-index) a file the caller may see; it is indexed first when needed."""
    viewer = await Viewer.load(actor)
    knowledge = await find(viewer, knowledge_id, write=True)
    record = await visible_file(host(), actor, data.file_id)
    await knowledge_ops.add_file(actor, knowledge, record)
    return await detail(viewer, await find(viewer, knowledge_id))


@bp.post("/<knowledge_id>/files/batch/add")
@require("rag.use")
async def add_files(knowledge_id: str, actor: Actor) -> Any:
    viewer = await Viewer.load(actor)
    knowledge = await find(viewer, knowledge_id, write=True)
    body = await request.get_json(silent=True)
    if not isinstance(body, list) or not all(
        isinstance(item, dict) and isinstance(item.get("file_id"), str) for item in body
    ):
        raise ApiError(400, "Send a list of {file_id} objects")
    errors = []
    for item in body[:1000]:
        try:
            record = await visible_file(host(), actor, item["file_id"])
            await knowledge_ops.add_file(actor, knowledge, record)
        except ApiError as error:
            errors.append({"file_id": item["file_id"], "error": error.detail})
    answer = await detail(viewer, await find(viewer, knowledge_id))
    if errors:
        answer["warnings"] = {"message": "Some files failed to process", "errors": errors}
    return answer


@bp.post("/<knowledge_id>/file/remove")
@require("rag.use")
@validate_request(FileIdForm)
async def remove_file(knowledge_id: str, data: FileIdForm, actor: Actor) -> Any:
    """Take a file out (its chunks too); ``?delete_file=false`` keeps the file itself."""
    viewer = await Viewer.load(actor)
    knowledge = await find(viewer, knowledge_id, write=True)
    delete_file = request.args.get("delete_file", "true").lower() not in ("false", "0", "no")
    await knowledge_ops.remove_file(actor, knowledge, data.file_id, delete_file=delete_file)
    return await detail(viewer, await find(viewer, knowledge_id))


@bp.post("/<knowledge_id>/reset")
@require("rag.use")
async def reset(knowledge_id: str, actor: Actor) -> Any:
    viewer = await Viewer.load(actor)
    knowledge = await find(viewer, knowledge_id, write=True)
    await knowledge_ops.reset(knowledge)
    return await detail(viewer, await find(viewer, knowledge_id))


@bp.delete("/<knowledge_id>")
@bp.delete("/<knowledge_id>/delete")
@require("rag.use")
async def delete(knowledge_id: str, actor: Actor) -> Any:
    knowledge = await find(await Viewer.load(actor), knowledge_id, write=True)
    await knowledge_ops.delete(knowledge)
    return "true", 200, {"Content-Type": "application/json"}


@bp.post("/reindex")
@require("rag.manage")
async def reindex(actor: Actor) -> Any:
    """Re-read and re-embed every knowledge base's files (admins)."""
    from colonnade.plugins.files.models import File

    ingestor = host().state("rag").ingestor
    for knowledge in await Knowledge.all():
        for file_id in await file_ids_of(knowledge.id):
            record = await File.get_or_none(id=file_id)
            if record is not None:
                try:
                    await ingestor.ingest_file(record, force=True)
                except ApiError as error:
                    ingestor_log(file_id, error.detail)
    return "true", 200, {"Content-Type": "application/json"}


def ingestor_log(file_id: str, detail: str) -> None:
    import logging

    logging.getLogger("colonnade.rag").warning("re-indexing file %s failed: %s", file_id, detail)
