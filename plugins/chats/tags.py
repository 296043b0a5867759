"""Chat tags, Open WebUI's way: a per-user ``tag`` list, and each chat's tag ids in ``meta.tags``.

Which chat carries which tag is also kept in ``chats_chat_tag``, so finding a tag's chats and dropping
tags no chat uses any more are plain indexed queries on every backend (no JSON operators).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import Blueprint, current_app, jsonify
from quart_schema import validate_request
from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from colonnade.actors import Actor
from colonnade.errors import ApiError
from colonnade.permissions import require
from colonnade.plugins.chats import store
from colonnade.plugins.chats.events import ChatUpdated
from colonnade.plugins.chats.models import Chat, ChatTag, Tag

bp = Blueprint("chats_tags", __name__)


class TagForm(BaseModel):
    name: str = Field(min_length=1, max_length=255)


class TagChatsForm(TagForm):
    skip: int = Field(default=0, ge=0)
    limit: int = Field(default=50, ge=1, le=1000)


def tag_id_of(name: str) -> str:
    """Open WebUI's normalisation: lower case, spaces to underscores. ``none`` is reserved."""
    tag_id = name.strip().replace(" ", "_").lower()
    if not tag_id:
        raise ApiError(422, "name: a tag name cannot be blank")
    if tag_id == "none":
        raise ApiError(400, "The tag name 'None' is reserved")
    return tag_id


def tag_json(tag: Tag) -> dict[str, Any]:
    return {"id": tag.tag_id, "name": tag.name, "user_id": tag.user_id, "meta": tag.meta}


async def tags_of(chat: Chat) -> list[dict[str, Any]]:
    ids = [tag_id for tag_id in chat.meta.get("tags", []) if isinstance(tag_id, str)]
    tags = {tag.tag_id: tag for tag in await Tag.filter(user_id=chat.user_id, tag_id__in=ids)}
    return [tag_json(tags[tag_id]) for tag_id in ids if tag_id in tags]


async def add_tag(chat: Chat, name: str) -> None:
    """Tag a chat (creating the user's tag on first use); tagging twice changes nothing."""
    tag_id = tag_id_of(name)
    async with in_transaction():
        await Tag.get_or_create(user_id=chat.user_id, tag_id=tag_id, defaults={"name": name.strip()})
        await ChatTag.get_or_create(chat_id=chat.id, tag_id=tag_id)
        ids = [existing for existing in chat.meta.get("tags", []) if existing != tag_id]
        chat.meta = {**chat.meta, "tags": [*ids, tag_id]}
        await chat.save(update_fields=["meta"])


async def remove_tags(chat: Chat, tag_ids: list[str]) -> None:
    async with in_transaction():
        await ChatTag.filter(chat_id=chat.id, tag_id__in=tag_ids).delete()
        chat.meta = {**chat.meta, "tags": [t for t in chat.meta.get("tags", []) if t not in tag_ids]}
        await chat.save(update_fields=["meta"])
        await store.drop_unused_tags(chat.user_id, tag_ids)


async def emit_tags_changed(actor: Actor, chat: Chat) -> None:
    event = ChatUpdated(actor=actor, chat_id=chat.id, user_id=chat.user_id, fields=("tags",))
    await current_app.extensions["colonnade"].emit(event)


@bp.get("/all/tags")
@require("chats.use")
async def all_tags(actor: Actor):
    return jsonify([tag_json(tag) for tag in await Tag.filter(user_id=actor.id).order_by("name", "id")])


@bp.get("/<chat_id>/tags")
@require("chats.use")
async def chat_tags(chat_id: str, actor: Actor):
    return jsonify(await tags_of(await store.find_chat(actor, chat_id)))


@bp.post("/<chat_id>/tags")
@require("chats.use")
@validate_request(TagForm)
async def tag_chat(chat_id: str, data: TagForm, actor: Actor):
    """Add a tag; answers the chat's tags."""
    chat = await store.find_chat(actor, chat_id)
    await add_tag(chat, data.name)
    await emit_tags_changed(actor, chat)
    return jsonify(await tags_of(chat))


@bp.delete("/<chat_id>/tags")
@require("chats.use")
@validate_request(TagForm)
async def untag_chat(chat_id: str, data: TagForm, actor: Actor):
    """Remove a tag (JSON body on DELETE, as in Open WebUI); answers the remaining tags."""
    chat = await store.find_chat(actor, chat_id)
    await remove_tags(chat, [tag_id_of(data.name)])
    await emit_tags_changed(actor, chat)
    return jsonify(await tags_of(chat))


@bp.delete("/<chat_id>/tags/all")
@require("chats.use")
async def untag_all(chat_id: str, actor: Actor):
    chat = await store.find_chat(actor, chat_id)
    await remove_tags(chat, [t for t in chat.meta.get("tags", []) if isinstance(t, str)])
    await emit_tags_changed(actor, chat)
    return jsonify(True)


@bp.post("/tags")
@require("chats.use")
@validate_request(TagChatsForm)
async def chats_with_tag(data: TagChatsForm, actor: Actor):
    """The caller's unarchived chats carrying a tag, newest first."""
    tagged = ChatTag.filter(tag_id=tag_id_of(data.name), chat__user_id=actor.id).values("chat_id")
    chats = (
        Chat.filter(user_id=actor.id, archived=False, id__in=Subquery(tagged))
        .order_by("-updated_at", "-id")
        .offset(data.skip)
        .limit(data.limit)
    )
    return jsonify([{**row, "active": False} for row in await chats.values(*store.LIST_FIELDS)])
