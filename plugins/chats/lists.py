"""Open WebUI's other chat routes: filtered lists, export, bulk archive and delete, clone, folder, params,
import. Mounted on both prefixes like ``views.py``; bodies follow Open WebUI's shapes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel
from quart import Blueprint, current_app, jsonify, request
from quart_schema import validate_querystring, validate_request

from colonnade.actors import Actor
from colonnade.errors import ApiError, load_storable_json
from colonnade.permissions import FORBIDDEN, require
from colonnade.plugins.chats import store, tags
from colonnade.plugins.chats.events import ChatCreated, ChatDeleted, ChatUpdated
from colonnade.plugins.chats.models import Chat, now
from colonnade.plugins.chats.schemas import (
    ArchivedQuery,
    ChatListQuery,
    CloneForm,
    FolderForm,
    ForkForm,
    ImportForm,
    SearchQuery,
)

bp = Blueprint("chats_lists", __name__)


async def emit(event: Any) -> None:
    await current_app.extensions["colonnade"].emit(event)


@bp.get("/pinned")
@require("chats.use")
async def pinned_chats(actor: Actor):
    return jsonify(await store.list_chats(actor.id, pinned=True))


@bp.get("/archived")
@require("chats.use")
@validate_querystring(ArchivedQuery)
async def archived_chats(query_args: ArchivedQuery, actor: Actor):
    q = query_args
    items = await store.list_chats(
        actor.id, archived=True, query=q.query, sort_by=q.order_by, sort_dir=q.direction, page=q.page
    )
    return jsonify(items)


@bp.get("/archived/count")
@require("chats.use")
async def archived_count(actor: Actor):
    return jsonify(await Chat.filter(user_id=actor.id, archived=True).count())


@bp.get("/search")
@require("chats.use")
@validate_querystring(SearchQuery)
async def search_chats(query_args: SearchQuery, actor: Actor):
    """Chats whose title or any message contains ``text`` (case-insensitive), 60 a page.

    Open WebUI's filter tokens narrow the search: ``tag:<name>``, ``folder:<folder id>``,
    ``pinned:true|false`` and ``archived:true|false`` (archived chats are left out unless asked).
    """
    filters: dict[str, Any] = {"archived": False}
    words = []
    for word in query_args.text.split():
        key, _, value = word.partition(":")
        key = key.lower()
        if value and key in ("pinned", "archived"):
            filters[key] = value.lower() in ("true", "yes", "1")
        elif value and key == "tag":
            filters["tag_id"] = tags.tag_id_of(value)
        elif value and key == "folder":
            filters["folder_id"] = value
        else:
            words.append(word)
    items = await store.list_chats(
        actor.id, query=" ".join(words), search_messages=True, page=query_args.page, **filters
    )
    return jsonify(items)


async def full_chats(user_id: str, *, archived: bool | None) -> AsyncIterator[dict[str, Any]]:
    chats = Chat.filter(user_id=user_id)
    if archived is not None:
        chats = chats.filter(archived=archived)
    for chat in await chats.order_by("-updated_at", "-id"):
        yield await store.chat_json(chat)


@bp.get("/all")
@require("chats.use")
async def export_all(actor: Actor):
    """Every chat of the caller as NDJSON, one full chat a line, streamed as each is read."""

    async def lines() -> AsyncIterator[bytes]:
        async for chat in full_chats(actor.id, archived=None):
            yield (json.dumps(chat) + "\n").encode()

    return lines(), 200, {"Content-Type": "application/x-ndjson"}


@bp.get("/all/archived")
@require("chats.use")
async def export_archived(actor: Actor):
    return jsonify([chat async for chat in full_chats(actor.id, archived=True)])


@bp.get("/list/user/<user_id>")
@require("chats.read_all")
@validate_querystring(ChatListQuery)
async def list_user_chats(user_id: str, query_args: ChatListQuery, actor: Actor):
    """An admin lists another user's chats, only with ``admin_chat_access`` (Open WebUI's rule)."""
    if not store.config().admin_chat_access:
        raise ApiError(403, FORBIDDEN)
    q = query_args
    items = await store.list_chats(
        user_id,
        archived=q.archived,
        pinned=q.pinned,
        query=q.query,
        sort_by=q.sort_by,
        sort_dir=q.sort_dir,
        page=q.page or 1,
        limit=q.limit,
    )
    return jsonify(items)


@bp.delete("")
@bp.delete("/")
@require("chats.delete")
async def delete_all(actor: Actor):
    """Delete every chat of the caller; ``true``."""
    ids = list(await Chat.filter(user_id=actor.id).values_list("id", flat=True))
    await store.delete_chats(ids)
    for chat_id in ids:
        await emit(ChatDeleted(actor=actor, chat_id=chat_id, user_id=actor.id))
    return jsonify(True)


async def archive_all(actor: Actor, archived: bool):
    await Chat.filter(user_id=actor.id, archived=not archived).update(archived=archived)
    return jsonify(True)


@bp.post("/archive/all")
@require("chats.use")
async def archive_all_chats(actor: Actor):
    return await archive_all(actor, True)


@bp.post("/unarchive/all")
@require("chats.use")
async def unarchive_all_chats(actor: Actor):
    return await archive_all(actor, False)


async def optional_body(model: type[BaseModel], hint: str) -> Any:
    """An optional JSON body: none (or ``null``) gives the model's defaults; anything invalid a 422."""
    raw = await request.get_data()
    try:
        return model.model_validate((load_storable_json(raw) if raw.strip() else None) or {})
    except (ValueError, TypeError) as error:
        raise ApiError(422, f"Invalid request: send no body, or {hint}") from error


@bp.post("/<chat_id>/clone")
@require("chats.use")
async def clone_chat(chat_id: str, actor: Actor):
    """A copy of the caller's chat, every message included; the title defaults to "Clone of ..."."""
    chat = await store.find_chat(actor, chat_id)
    form = await optional_body(CloneForm, '{"title": "..."}')
    copy = await store.clone_chat(
        chat, actor, form.title if form.title is not None else f"Clone of {chat.title}"
    )
    await emit(ChatCreated(actor=actor, chat_id=copy.id, user_id=copy.user_id))
    return await store.chat_json(copy)


@bp.post("/<chat_id>/fork")
@require("chats.use")
async def fork_chat(chat_id: str, actor: Actor):
    """A new chat holding the thread up to ``message_id`` (default: the current message)."""
    chat = await store.find_chat(actor, chat_id)
    form = await optional_body(ForkForm, '{"message_id": "..."}')
    # A chat without messages has no current message: it forks to another empty chat.
    copy = await store.clone_chat(chat, actor, chat.title, up_to=form.message_id or chat.current_message_id)
    await emit(ChatCreated(actor=actor, chat_id=copy.id, user_id=copy.user_id))
    return await store.chat_json(copy)


@bp.post("/<chat_id>/folder")
@require("chats.use")
@validate_request(FolderForm)
async def move_to_folder(chat_id: str, data: FolderForm, actor: Actor):
    """Move the chat into a folder (``null``: out of any). Folder ids are not checked: folders belong
    to another plugin."""
    chat = await store.find_chat(actor, chat_id)
    chat.folder_id = data.folder_id
    chat.updated_at = now()
    await chat.save(update_fields=["folder_id", "updated_at"])
    await emit(ChatUpdated(actor=actor, chat_id=chat.id, user_id=chat.user_id, fields=("folder_id",)))
    return await store.chat_json(chat)


@bp.patch("/<chat_id>/params")
@require("chats.use")
async def update_params(chat_id: str, actor: Actor):
    """Merge the body into ``chat.params``; returns the merged params."""
    body = await request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(422, "Invalid request: the body must be a JSON object of parameters")
    chat = await store.find_chat(actor, chat_id)
    params = chat.chat.get("params")
    merged = {**(params if isinstance(params, dict) else {}), **body}
    chat.chat = {**chat.chat, "params": merged}
    await chat.save(update_fields=["chat"])
    await emit(ChatUpdated(actor=actor, chat_id=chat.id, user_id=chat.user_id, fields=("params",)))
    return jsonify(merged)


@bp.post("/import")
@require("chats.use")
@validate_request(ImportForm)
async def import_chats(data: ImportForm, actor: Actor):
    """Create chats from exported ones, keeping their flags and timestamps; all or nothing."""
    from tortoise.transactions import in_transaction

    created = []
    async with in_transaction():
        for item in data.chats:
            meta = dict(item.meta or {})
            tag_names = [tag for tag in meta.pop("tags", None) or [] if isinstance(tag, str)]
            columns = {"pinned": item.pinned, "archived": item.archived, "meta": meta}
            for key in ("created_at", "updated_at"):
                if getattr(item, key) is not None:
                    columns[key] = getattr(item, key)
            chat, conversation = await store.create_chat(
                actor, item.chat, folder_id=item.folder_id, variables=item.variables, **columns
            )
            for name in tag_names:
                await tags.add_tag(chat, name)
            created.append((chat, conversation))
    for chat, _ in created:
        await emit(ChatCreated(actor=actor, chat_id=chat.id, user_id=chat.user_id))
    return jsonify([await store.chat_json(chat, conversation=rows) for chat, rows in created])
