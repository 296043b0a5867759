"""Chats as Open WebUI clients see them: access checks, create, merge-update, list, serialise.

Other plugins (completions persisting a turn, for example) use these functions and ``messages.py``
rather than the tables, so the split between the chat document and the message rows stays private.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from quart import current_app
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from colonnade import rawsql
from colonnade.errors import ApiError
from colonnade.plugins.chats import messages, tree
from colonnade.plugins.chats.models import Chat, ChatTag, Message, Tag, now
from colonnade.rawsql import Statement, as_bool, fetch_all

NOT_FOUND = "We could not find what you're looking for :/"
MAX_TITLE_LENGTH = 1000
#: Messages up to which a new chat is written inline (see ``rawsql.insert_inline``).
INLINE_MESSAGES = 64
#: Columns of a list item (Open WebUI's ``ChatTitleIdResponse`` plus pinned and folder_id).
LIST_FIELDS = ("id", "title", "updated_at", "created_at", "last_read_at", "archived", "pinned", "folder_id")


def config() -> Any:
    return current_app.extensions["colonnade"].plugin_config("chats")


async def find_chat(actor: Any, chat_id: str, *, admin_may: bool = False) -> Chat:
    """The chat if the caller owns it, or is an admin on a route where Open WebUI lets admins in
    (``admin_may``) and ``[plugins.chats] admin_chat_access`` is on; anything else is a 404, so a
    chat id never reveals whether someone else's chat exists."""
    chat = await Chat.get_or_none(id=chat_id)
    if chat is None:
        raise ApiError(404, NOT_FOUND)
    if chat.user_id != actor.id and not (admin_may and actor.is_admin and config().admin_chat_access):
        raise ApiError(404, NOT_FOUND)
    return chat


def title_of(doc: Mapping[str, Any], default: str) -> str:
    title = doc.get("title", default)
    if title is None:
        return default
    if not isinstance(title, str) or len(title) > MAX_TITLE_LENGTH:
        raise ApiError(422, f"chat.title: must be a string of at most {MAX_TITLE_LENGTH} characters")
    return title


def split_document(doc: dict[str, Any], actor: Any) -> tuple[list[tree.MessageRecord] | None, str | None]:
    """Take the message tree out of a posted document (in place) and return its records and currentId.

    ``history`` wins over the legacy flat ``messages`` list, which Open WebUI's frontend sends
    alongside it; the list is then kept only as a marker, rebuilt from the tree on read.
    """
    records, current = None, None
    if "history" in doc:
        records, current = tree.records_from_history(doc.pop("history"), actor)
    elif "messages" in doc and doc["messages"] is not None:
        records, current = tree.records_from_list(doc["messages"], actor)
    if "messages" in doc:
        doc["messages"] = []
    doc.pop("title", None)
    doc.pop("share_mode", None)
    return records, current


async def create_chat(
    actor: Any,
    document: Mapping[str, Any],
    *,
    folder_id: str | None = None,
    variables: Mapping[str, Any] | None = None,
    **columns: Any,
) -> tuple[Chat, messages.Conversation]:
    """Store a new chat and its messages in one transaction. The row id is always new: Open WebUI
    does not trust ``chat.id`` from the client either.

    :return: The chat and its messages as stored, so the response needs no second read.
    """
    doc = dict(document)
    title = title_of(doc, "New Chat")
    records, current = split_document(doc, actor)
    records = records or []
    parent_of = {record.message_id: record.parent_id for record in records}
    if len(parent_of) != len(records):
        raise ApiError(422, "chat.messages: message ids must be unique")
    tree.check_tree(parent_of)
    order = [(record.message_id, record.parent_id) for record in records]
    current = tree.repair_current(current, parent_of, tree.children_map(order))
    stamp = now()
    values = {"created_at": stamp, "updated_at": stamp, "last_read_at": stamp, **columns}
    chat = Chat(
        id=str(uuid.uuid4()),
        user_id=actor.id,
        title=title,
        chat=doc,
        folder_id=folder_id,
        variables=dict(variables or {}),
        current_message_id=current,
        **values,
    )
    rows = [messages.new_row(chat.id, record, stamp) for record in records]
    # The usual chat (a question, an answer) is written in one go (see rawsql.insert_inline); a big
    # import, or a busy SQLite database, goes through the ORM.
    if len(rows) > INLINE_MESSAGES or not await rawsql.insert_inline(chat, *rows):
        async with in_transaction():
            await chat.save(force_create=True)
            await messages.insert_all(rows)
    rows = [(r.message_id, r.parent_id, r.role, r.content, r.data) for r in records]
    return chat, messages.Conversation(rows)


async def update_chat(
    chat: Chat, actor: Any, patch: Mapping[str, Any], *, fields_set: Mapping[str, Any] | None = None
) -> Chat:
    """Open WebUI's merge-update: top-level keys of ``patch`` replace the stored ones, a posted
    history is merged message by message, and ``updated_at`` moves only when messages were posted.

    :param fields_set: ``variables`` and ``folder_id`` when the request carried them.
    """
    doc = dict(patch)
    title = title_of(doc, chat.title) if "title" in doc else chat.title
    records, current = split_document(doc, actor)
    update_fields = ["chat"]
    stamp = now()
    try:
        async with in_transaction():
            if records is not None:
                chat.current_message_id = await messages.sync(chat, actor, records, current, stamp)
                chat.updated_at = stamp
                update_fields += ["current_message_id", "updated_at"]
            if title != chat.title:
                chat.title = title
                update_fields.append("title")
            for key, value in (fields_set or {}).items():
                setattr(chat, key, dict(value or {}) if key == "variables" else value)
                update_fields.append(key)
            chat.chat = {**chat.chat, **doc}
            await chat.save(update_fields=update_fields)
    except IntegrityError:
        # Two saves of the same chat raced to insert one new message: the loser changes nothing.
        raise ApiError(409, "The chat changed while this update was saved. Reload it and retry.") from None
    return chat


async def chat_json(
    chat: Chat, *, actor: Any = None, conversation: messages.Conversation | None = None
) -> dict[str, Any]:
    """Open WebUI's ``ChatResponse``, with ``chat.history`` assembled from the message rows.

    :param actor: The reader, on a GET by id: adds ``chat.share_mode`` as Open WebUI does.
    :param conversation: The chat's messages when the caller has them already.
    """
    if conversation is None:
        conversation = await messages.load(chat.id)
    history_messages = conversation.messages()
    doc = {**chat.chat, "id": chat.id, "title": chat.title}
    doc["history"] = {"messages": history_messages, "currentId": chat.current_message_id}
    if "messages" in doc:
        path = tree.thread(conversation.parent_of, chat.current_message_id)
        doc["messages"] = [history_messages[message_id] for message_id in path]
    if actor is not None:
        doc["share_mode"] = "continue" if actor.id == chat.user_id else None
    return {
        "id": chat.id,
        "user_id": chat.user_id,
        "title": chat.title,
        "chat": doc,
        "updated_at": chat.updated_at,
        "created_at": chat.created_at,
        "last_read_at": chat.last_read_at,
        "share_id": chat.share_id,
        "archived": chat.archived,
        "pinned": chat.pinned,
        "meta": chat.meta,
        "variables": chat.variables,
        "folder_id": chat.folder_id,
        "tasks": chat.tasks,
        "summary": chat.summary,
        "current_message_id": chat.current_message_id,
    }


# The chat list is the busiest read of all: its SQL is assembled from these fragments (one
# ``Statement`` per combination, kept) rather than built through the ORM on every request.
_LIST_SELECT = "SELECT " + ", ".join(LIST_FIELDS) + " FROM chats_chat WHERE user_id = ?"
_TAGGED = " AND id IN (SELECT chat_id FROM chats_chat_tag WHERE tag_id = ?)"
_TITLE_MATCHES = "UPPER(title) LIKE UPPER(?) ESCAPE '\\'"
_MESSAGES_MATCH = (
    "id IN (SELECT m.chat_id FROM chats_message m WHERE UPPER(m.content) LIKE UPPER(?) ESCAPE '\\')"
)
_list_statements: dict[str, Statement] = {}


def _like_pattern(text: str) -> str:
    """``%text%`` with LIKE's wildcards in ``text`` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_chats(
    user_id: str,
    *,
    archived: bool | None = False,
    pinned: bool | None = None,
    folder_id: str | None = None,
    include_folders: bool = True,
    query: str | None = None,
    search_messages: bool = False,
    tag_id: str | None = None,
    sort_by: str = "updated_at",
    sort_dir: str = "desc",
    page: int | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """One user's chats as list items, newest first by default; ``page`` is 1-based.

    ``sort_by`` is one of ``updated_at``, ``created_at`` and ``title`` and ``sort_dir`` ``asc`` or
    ``desc`` (the views validate both; anything else is a ``ValueError`` here).
    """
    if sort_by not in ("updated_at", "created_at", "title") or sort_dir not in ("asc", "desc"):
        raise ValueError(f"cannot sort chats by {sort_by} {sort_dir}")
    sql, params = [_LIST_SELECT], [user_id]
    if archived is not None:
        sql.append(" AND archived = ?")
        params.append(archived)
    if pinned is not None:
        sql.append(" AND pinned = ?")
        params.append(pinned)
    if folder_id is not None:
        sql.append(" AND folder_id = ?")
        params.append(folder_id)
    elif not include_folders:
        sql.append(" AND folder_id IS NULL")
    if tag_id is not None:
        sql.append(_TAGGED)
        params.append(tag_id)
    if query:
        pattern = _like_pattern(query)
        if search_messages:
            sql.append(f" AND ({_TITLE_MATCHES} OR {_MESSAGES_MATCH})")
            params += [pattern, pattern]
        else:
            sql.append(f" AND {_TITLE_MATCHES}")
            params.append(pattern)
    sql.append(f" ORDER BY {sort_by} {sort_dir.upper()}, id {sort_dir.upper()}")
    if page is not None or limit is not None:
        size = limit or config().page_size
        sql.append(" LIMIT ? OFFSET ?")
        params += [size, ((page or 1) - 1) * size]
    text = "".join(sql)
    statement = _list_statements.get(text)
    if statement is None:
        statement = _list_statements[text] = Statement(text)
    rows = await fetch_all(
        Chat,
        statement,
        params,
        inline=_reads_what_it_returns(
            query=query,
            tag_id=tag_id,
            limit=limit,
            sort_by=sort_by,
            archived=archived,
            pinned=pinned,
            folder_id=folder_id,
        ),
    )
    for row in rows:
        row["archived"] = as_bool(row["archived"])
        row["pinned"] = as_bool(row["pinned"])
        row["active"] = False
    return rows


def _reads_what_it_returns(
    *,
    query: str | None,
    tag_id: str | None,
    limit: int | None,
    sort_by: str,
    archived: bool | None,
    pinned: bool | None,
    folder_id: str | None,
) -> bool:
    """Whether a chat list reads about as many rows as it returns, so that it may run inline
    (:func:`~colonnade.rawsql.fetch_all`): reading costs no more than encoding the answer.

    A whole list does, unless it searches (titles or messages) or goes through tags. A page does
    when it follows the ``(user_id, archived, updated_at)`` index without a filter most chats fail.
    """
    if query or tag_id is not None:
        return False
    if limit is None:
        return True
    return sort_by == "updated_at" and archived is not None and pinned is not True and folder_id is None


async def delete_chats(chat_ids: list[str]) -> None:
    """Delete chats with their messages and tag links (explicitly, not trusting every backend to
    cascade), then the owners' tags no chat carries any more, as Open WebUI does."""
    if not chat_ids:
        return
    links = await ChatTag.filter(chat_id__in=chat_ids).values_list("chat__user_id", "tag_id")
    async with in_transaction():
        await ChatTag.filter(chat_id__in=chat_ids).delete()
        await Message.filter(chat_id__in=chat_ids).delete()
        await Chat.filter(id__in=chat_ids).delete()
        by_user: dict[str, list[str]] = {}
        for user_id, tag_id in links:
            by_user.setdefault(user_id, []).append(tag_id)
        for user_id, tag_ids in by_user.items():
            await drop_unused_tags(user_id, tag_ids)


async def drop_unused_tags(user_id: str, tag_ids: list[str]) -> None:
    """Delete the user's tags among ``tag_ids`` that no chat of theirs carries any more."""
    if not tag_ids:
        return
    used = set(
        await ChatTag.filter(chat__user_id=user_id, tag_id__in=tag_ids).values_list("tag_id", flat=True)
    )
    await Tag.filter(user_id=user_id, tag_id__in=[t for t in tag_ids if t not in used]).delete()


COPIED_COLUMNS = ("message_id", "parent_id", "role", "content", "data", "user_id", "done", "digest")


async def clone_chat(chat: Chat, actor: Any, title: str, *, up_to: str | None = None) -> Chat:
    """A copy owned by the caller, with its tags and messages (ids kept: they are unique per chat).

    :param up_to: Copy only the thread from the root to this message (Open WebUI's fork), which
        becomes the copy's current message. Default: every message.
    """
    stamp = now()
    rows = await Message.filter(chat_id=chat.id).order_by("id")
    current = chat.current_message_id
    if up_to is not None:
        parent_of = {row.message_id: row.parent_id for row in rows}
        if up_to not in parent_of:
            raise ApiError(404, messages.MESSAGE_NOT_FOUND)
        keep = set(tree.thread(parent_of, up_to))
        rows = [row for row in rows if row.message_id in keep]
        current = up_to
    async with in_transaction():
        copy = await Chat.create(
            id=str(uuid.uuid4()),
            user_id=actor.id,
            title=title,
            chat=dict(chat.chat),
            meta=dict(chat.meta),
            variables=dict(chat.variables),
            folder_id=chat.folder_id,
            current_message_id=current,
            created_at=stamp,
            updated_at=stamp,
            last_read_at=stamp,
        )
        copied = [
            Message(
                chat_id=copy.id,
                **{name: getattr(row, name) for name in COPIED_COLUMNS},
                created_at=stamp,
                updated_at=stamp,
            )
            for row in rows
        ]
        await Message.bulk_create(copied, batch_size=500)
        tag_ids = await ChatTag.filter(chat_id=chat.id).values_list("tag_id", flat=True)
        if tag_ids:
            await ChatTag.bulk_create([ChatTag(chat_id=copy.id, tag_id=tag_id) for tag_id in tag_ids])
    return copy
