"""What changes a knowledge base's files and vectors, kept together so rows and vectors agree.

Rows first, then vectors: a failure between the two leaves vectors nobody can reach through the
knowledge base (they are removed again by the next reset or delete), never a file listed without
its chunks being searched for long.
"""

from __future__ import annotations

import logging
from typing import Any

from colonnade.actors import Actor
from colonnade.errors import ApiError
from colonnade.plugins.rag.ingest import file_collection
from colonnade.plugins.rag.models import Knowledge, KnowledgeFile, now
from colonnade.plugins.rag.service import as_api_error

log = logging.getLogger("colonnade.rag")


def _host() -> Any:
    from quart import current_app

    return current_app.extensions["colonnade"]


async def add_file(actor: Actor, knowledge: Knowledge, record: Any, host: Any = None) -> None:
    """Put a file the caller may see into the knowledge base, indexing it first when needed."""
    host = host or _host()
    ingestor = host.state("rag").ingestor
    await KnowledgeFile.get_or_create(
        knowledge_id=knowledge.id, file_id=record.id, defaults={"user_id": actor.id}
    )
    try:
        await ingestor.ingest_file(record)  # skipped when already indexed; copies into the knowledge base
    except ApiError:
        await KnowledgeFile.filter(knowledge_id=knowledge.id, file_id=record.id).delete()
        raise
    except Exception as error:  # noqa: BLE001 - a store failure: undo the row, answer the error
        await KnowledgeFile.filter(knowledge_id=knowledge.id, file_id=record.id).delete()
        raise as_api_error(error) from None
    await Knowledge.filter(id=knowledge.id).update(updated_at=now())


async def remove_file(
    actor: Actor, knowledge: Knowledge, file_id: str, *, delete_file: bool, host: Any = None
) -> None:
    """Take a file out of the knowledge base (its chunks too); with ``delete_file`` also delete the
    file itself when the caller owns it or is an admin."""
    host = host or _host()
    removed = await KnowledgeFile.filter(knowledge_id=knowledge.id, file_id=file_id).delete()
    if not removed:
        raise ApiError(404, "The file is not in this knowledge base")
    service = host.state("rag").service
    try:
        await service.delete(knowledge.id, {"file_id": file_id})
    except Exception as error:  # noqa: BLE001
        raise as_api_error(error) from None
    await Knowledge.filter(id=knowledge.id).update(updated_at=now())
    files = getattr(host.state("files"), "service", None)
    if delete_file and files is not None:
        from colonnade.plugins.files.models import File

        record = await File.get_or_none(id=file_id)
        if record is not None and (record.user_id == actor.id or actor.is_admin):
            await files.delete(actor, record)  # files.deleted drops its own collection


async def reset(knowledge: Knowledge, host: Any = None) -> None:
    """Empty the knowledge base: no files, no vectors."""
    host = host or _host()
    await KnowledgeFile.filter(knowledge_id=knowledge.id).delete()
    await host.state("rag").service.drop(knowledge.id)
    await Knowledge.filter(id=knowledge.id).update(updated_at=now())


async def delete(knowledge: Knowledge, host: Any = None) -> None:
    """Delete the knowledge base, its file list, its grants and its vectors, and take it out of
    every workspace model's ``meta.knowledge`` (as Open WebUI does)."""
    host = host or _host()
    await knowledge.delete()
    await host.state("rag").service.drop(knowledge.id)
    if host.pm.has_plugin("models"):
        await _detach_from_models(knowledge.id)


async def _detach_from_models(knowledge_id: str) -> None:
    from colonnade.plugins.models.models import WorkspaceModel

    # Workspace models are few (an organisation's presets): reading their meta is cheap, and JSON
    # containment queries differ between SQLite and PostgreSQL.
    for model in await WorkspaceModel.all().only("id", "meta"):
        attached = (model.meta or {}).get("knowledge")
        if not isinstance(attached, list):
            continue
        kept = [item for item in attached if not (isinstance(item, dict) and item.get("id") == knowledge_id)]
        if len(kept) != len(attached):
            await WorkspaceModel.filter(id=model.id).update(meta={**model.meta, "knowledge": kept})


async def forget_file(host: Any, file_id: str) -> None:
    """A file was deleted: drop its collection and its chunks in every knowledge base."""
    service = host.state("rag").service
    knowledge_ids = [
        str(kid) for kid in await KnowledgeFile.filter(file_id=file_id).values_list("knowledge_id", flat=True)
    ]
    await KnowledgeFile.filter(file_id=file_id).delete()
    for knowledge_id in knowledge_ids:
        await service.delete(knowledge_id, {"file_id": file_id})
    await service.drop(file_collection(file_id))


async def forget_user(host: Any, user_id: str) -> None:
    """A user was deleted: delete their knowledge bases (their files go through ``files.deleted``)."""
    for knowledge in await Knowledge.filter(user_id=user_id):
        await delete(knowledge, host)
