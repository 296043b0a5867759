"""Chat and message routes, mounted at ``/api/chats`` (the spec) and ``/api/v1/chats`` (Open WebUI).

Both prefixes serve the same views with Open WebUI's body shapes. Where the two differ, the view asks
:func:`owui` which prefix it was called on: Open WebUI's list leaves out pinned and foldered chats
unless asked, and its message upsert answers with the whole chat. Another user's chat is a 404 on both.
"""

from __future__ import annotations

import json
from typing import Any

from quart import Blueprint, current_app, jsonify, request
from quart_schema import validate_querystring, validate_request

from colonnade.actors import Actor
from colonnade.errors import ApiError, load_storable_json
from colonnade.permissions import require
from colonnade.plugins.chats import messages, store, tags, tree
from colonnade.plugins.chats.events import (
    ChatCreated,
    ChatDeleted,
    ChatUpdated,
    MessageCreated,
    MessageEvent,
    MessagesDeleted,
    MessageUpdated,
)
from colonnade.plugins.chats.models import Chat, Message
from colonnade.plugins.chats.schemas import (
    ChatForm,
    ChatListQuery,
    FlagForm,
    MessageCreateForm,
    MessageEventForm,
    MessageListQuery,
    MessageUpdateForm,
)

bp = Blueprint("chats", __name__)

MAX_VOICE_LENGTH = 100_000


def owui() -> bool:
    """Whether the request came in on Open WebUI's prefix (the blueprint registered as ``*_v1``)."""
    return (request.blueprint or "").endswith("_v1")


async def emit(event: Any) -> None:
    await current_app.extensions["colonnade"].emit(event)


@bp.get("")
@bp.get("/")
@bp.get("/list")
@require("chats.use")
@validate_querystring(ChatListQuery)
async def list_chats(query_args: ChatListQuery, actor: Actor):
    """The caller's chats, newest first; every one unless ``page`` or ``limit`` is given."""
    q = query_args
    default_include = not owui()
    include_pinned = q.include_pinned if q.include_pinned is not None else default_include
    include_folders = q.include_folders if q.include_folders is not None else default_include
    pinned = q.pinned if q.pinned is not None else (None if include_pinned else False)
    items = await store.list_chats(
        actor.id,
        archived=q.archived,
        pinned=pinned,
        folder_id=q.folder_id,
        include_folders=include_folders,
        query=q.query,
        tag_id=None if q.tag is None else tags.tag_id_of(q.tag),
        sort_by=q.sort_by,
        sort_dir=q.sort_dir,
        page=q.page,
        limit=q.limit,
    )
    return jsonify(items)


async def create(data: ChatForm, actor: Actor) -> dict[str, Any]:
    chat, conversation = await store.create_chat(
        actor, data.chat, folder_id=data.folder_id, variables=data.variables
    )
    await emit(ChatCreated(actor=actor, chat_id=chat.id, user_id=chat.user_id))
    return await store.chat_json(chat, conversation=conversation)


@bp.post("")
@bp.post("/")
@require("chats.use")
@validate_request(ChatForm)
async def create_chat(data: ChatForm, actor: Actor):
    return await create(data, actor), 201


@bp.post("/new")
@require("chats.use")
@validate_request(ChatForm)
async def create_chat_owui(data: ChatForm, actor: Actor):
    """Open WebUI's create path answers 200."""
    return await create(data, actor)


@bp.get("/<chat_id>")
@require("chats.use")
async def get_chat(chat_id: str, actor: Actor):
    chat = await store.find_chat(actor, chat_id, admin_may=True)
    return await store.chat_json(chat, actor=actor)


@bp.post("/<chat_id>")
@require("chats.use")
@validate_request(ChatForm)
async def update_chat(chat_id: str, data: ChatForm, actor: Actor):
    """Merge-update (owner only): see ``store.update_chat``."""
    chat = await store.find_chat(actor, chat_id)
    given = {key: getattr(data, key) for key in ("variables", "folder_id") if key in data.model_fields_set}
    chat = await store.update_chat(chat, actor, data.chat, fields_set=given)
    await emit(ChatUpdated(actor=actor, chat_id=chat.id, user_id=chat.user_id, fields=(*data.chat, *given)))
    return await store.chat_json(chat)


@bp.delete("/<chat_id>")
@require("chats.delete")
async def delete_chat(chat_id: str, actor: Actor):
    """Delete a chat and its messages; ``true`` (Open WebUI's body)."""
    chat = await store.find_chat(actor, chat_id, admin_may=True)
    await store.delete_chats([chat.id])
    await emit(ChatDeleted(actor=actor, chat_id=chat.id, user_id=chat.user_id))
    return jsonify(True)


async def flag_from_body(name: str) -> bool | None:
    """The value of ``name`` in an optional JSON body; ``None`` (toggle) when there is no body."""
    raw = await request.get_data()
    try:
        body = load_storable_json(raw) if raw.strip() else None
        if body is None:
            return None
        form = FlagForm.model_validate(body)
    except (ValueError, TypeError) as error:
        raise ApiError(
            422, f'Invalid request: send no body to toggle, or {{"{name}": true|false}}'
        ) from error
    return getattr(form, name)


async def set_flag(chat_id: str, actor: Actor, name: str) -> dict[str, Any]:
    chat = await store.find_chat(actor, chat_id)
    wanted = await flag_from_body(name)
    value = (not getattr(chat, name)) if wanted is None else wanted
    setattr(chat, name, value)
    await chat.save(update_fields=[name])
    await emit(ChatUpdated(actor=actor, chat_id=chat.id, user_id=chat.user_id, fields=(name,)))
    return await store.chat_json(chat)


@bp.post("/<chat_id>/archive")
@require("chats.use")
async def archive_chat(chat_id: str, actor: Actor):
    """Toggle ``archived`` (Open WebUI); the spec also takes ``{"archived": bool}`` to set it."""
    return await set_flag(chat_id, actor, "archived")


@bp.post("/<chat_id>/pin")
@require("chats.use")
async def pin_chat(chat_id: str, actor: Actor):
    return await set_flag(chat_id, actor, "pinned")


@bp.get("/<chat_id>/pinned")
@require("chats.use")
async def is_pinned(chat_id: str, actor: Actor):
    chat = await store.find_chat(actor, chat_id)
    return jsonify(chat.pinned)


# -- messages ------------------------------------------------------------------------------------


@bp.get("/<chat_id>/messages")
@require("chats.use")
@validate_querystring(MessageListQuery)
async def list_messages(chat_id: str, query_args: MessageListQuery, actor: Actor):
    """Messages in storage order, or one thread (``branch=current`` or ``branch=<message id>``)."""
    chat = await store.find_chat(actor, chat_id, admin_may=True)
    conversation = await messages.load(chat.id)
    everything = conversation.messages()
    if query_args.branch is None:
        ids = list(everything)
    else:
        leaf = chat.current_message_id if query_args.branch == "current" else query_args.branch
        if query_args.branch != "current" and leaf not in everything:
            raise ApiError(404, messages.MESSAGE_NOT_FOUND)
        ids = tree.thread(conversation.parent_of, leaf)
    end = None if query_args.limit is None else query_args.offset + query_args.limit
    return jsonify([everything[message_id] for message_id in ids[query_args.offset : end]])


@bp.post("/<chat_id>/messages")
@require("chats.use")
@validate_request(MessageCreateForm)
async def create_message(chat_id: str, data: MessageCreateForm, actor: Actor):
    """Append one message (owner only); it becomes the chat's current message."""
    chat = await store.find_chat(actor, chat_id)
    body = data.model_dump(exclude_unset=True)
    body.setdefault("role", data.role)
    message = await messages.append(chat, actor, body)
    await emit(MessageCreated(actor=actor, chat_id=chat.id, user_id=chat.user_id, message_id=message["id"]))
    return message, 201


@bp.get("/<chat_id>/messages/<message_id>")
@require("chats.use")
async def get_message(chat_id: str, message_id: str, actor: Actor):
    chat = await store.find_chat(actor, chat_id, admin_may=True)
    return await messages.as_json(await messages.get(chat.id, message_id))


@bp.post("/<chat_id>/messages/<message_id>")
@require("chats.use")
@validate_request(MessageUpdateForm)
async def update_message(chat_id: str, message_id: str, data: MessageUpdateForm, actor: Actor):
    """Change a message (owner, or an admin with admin chat access, as in Open WebUI).

    The spec path answers with the message and 404s an unknown id; Open WebUI's path creates an
    unknown id (its upsert) and answers with the whole chat.
    """
    changes = data.model_dump(exclude_unset=True)
    if not changes:
        raise ApiError(400, "No message changes supplied")
    voice = changes.pop("voice", None)
    if voice is not None and len(json.dumps(voice, default=str)) > MAX_VOICE_LENGTH:
        raise ApiError(400, f"voice: must serialise to at most {MAX_VOICE_LENGTH} characters")
    chat = await store.find_chat(actor, chat_id, admin_may=True)
    existing = await Message.get_or_none(chat_id=chat.id, message_id=message_id)
    if existing is None:
        if not owui():
            raise ApiError(404, messages.MESSAGE_NOT_FOUND)
        message = await upsert_new(chat, actor, message_id, changes, voice)
        await emit(MessageCreated(actor=actor, chat_id=chat.id, user_id=chat.user_id, message_id=message_id))
    else:
        if voice is not None:
            meta = changes.get("meta", existing.data.get("meta"))
            changes["meta"] = {**(meta if isinstance(meta, dict) else {}), "voice": voice}
        message = await messages.update(chat, existing, changes)
        await emit(MessageUpdated(actor=actor, chat_id=chat.id, user_id=chat.user_id, message_id=message_id))
    if owui():
        return await store.chat_json(chat)
    return message


async def upsert_new(
    chat: Chat, actor: Actor, message_id: str, changes: dict[str, Any], voice: Any
) -> dict[str, Any]:
    """Open WebUI's upsert of an unknown id: a child of the current message, its role the other one."""
    tree.check_id(message_id, "message_id")
    body = {"id": message_id, **changes}
    if voice is not None:
        meta = body.get("meta")
        body["meta"] = {**(meta if isinstance(meta, dict) else {}), "voice": voice}
    if "role" not in body:
        parent_role = None
        if chat.current_message_id is not None:
            parent = await Message.get_or_none(chat_id=chat.id, message_id=chat.current_message_id)
            parent_role = parent.role if parent else None
        body["role"] = "assistant" if parent_role == "user" else "user"
    return await messages.append(chat, actor, body)


@bp.post("/<chat_id>/messages/<message_id>/event")
@require("chats.use")
@validate_request(MessageEventForm)
async def message_event(chat_id: str, message_id: str, data: MessageEventForm, actor: Actor):
    """Push a UI event for a message (owner only): emitted as ``chats.message_event``, not stored."""
    chat = await store.find_chat(actor, chat_id)
    await messages.get(chat.id, message_id)
    await emit(
        MessageEvent(
            actor=actor,
            chat_id=chat.id,
            user_id=chat.user_id,
            message_id=message_id,
            type=data.type,
            data=data.data,
        )
    )
    return jsonify(True)


@bp.delete("/<chat_id>/messages/<message_id>")
@require("chats.use")
async def delete_message(chat_id: str, message_id: str, actor: Actor):
    """Delete a message and its direct replies (owner only); see ``messages.delete``."""
    chat = await store.find_chat(actor, chat_id)
    deleted, current = await messages.delete(chat, message_id)
    await emit(
        MessagesDeleted(actor=actor, chat_id=chat.id, user_id=chat.user_id, message_ids=tuple(deleted))
    )
    if owui():
        return await store.chat_json(chat)
    return {"deleted": deleted, "currentId": current}
