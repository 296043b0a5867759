"""The Open WebUI message tree, without storage: validating what clients send, and rebuilding it.

A conversation is a tree: every message names its ``parentId``; siblings under one parent are
regenerations, edits or multi-model answers; ``currentId`` is the leaf being shown. Open WebUI stores
``childrenIds`` too, which duplicates ``parentId``; here children are always derived from the parents
(in the order messages were stored), so the two can never disagree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from colonnade.errors import ApiError

#: Keys that describe a message's place in the tree, never stored in its data.
TREE_KEYS = ("id", "parentId", "childrenIds")
MAX_ID_LENGTH = 255
MAX_ROLE_LENGTH = 32


@dataclass
class MessageRecord:
    """One message split into the columns of ``chats_message``."""

    message_id: str
    parent_id: str | None
    role: str
    content: str
    data: dict[str, Any]
    user_id: str | None = None
    done: bool = True
    digest: str = field(default="")

    def __post_init__(self) -> None:
        if not self.digest:
            self.digest = digest_of(self.role, self.content, self.data)


def digest_of(role: str, content: str, data: Mapping[str, Any]) -> str:
    """A stable hash of what a message says (not where it sits in the tree)."""
    canonical = json.dumps([role, content, data], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def text_of(content: Any) -> str:
    """Searchable text of non-string content (a list of content blocks)."""
    if isinstance(content, list):
        return "\n".join(
            str(block.get("text", "")) for block in content if isinstance(block, dict) and block.get("text")
        )
    return ""


def check_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise ApiError(
            422, f"{where}: a message id must be a non-empty string of at most {MAX_ID_LENGTH} characters"
        )
    return value


def record_from_json(
    message_id: str, message: Mapping[str, Any], parent_id: str | None, *, where: str
) -> MessageRecord:
    """Split a message object into a :class:`MessageRecord` (the caller has settled ``parent_id``)."""
    if not isinstance(message, Mapping):
        raise ApiError(422, f"{where}: a message must be an object")
    role = message.get("role", "user")
    if not isinstance(role, str) or not role or len(role) > MAX_ROLE_LENGTH:
        raise ApiError(
            422, f"{where}.role: must be a non-empty string of at most {MAX_ROLE_LENGTH} characters"
        )
    data = {key: value for key, value in message.items() if key not in TREE_KEYS and key != "role"}
    content = data.pop("content", "")
    if content is None:
        content = ""
    if isinstance(content, str):
        column = content
    elif isinstance(content, list):
        column = text_of(content)
        data["content"] = content
    else:
        raise ApiError(422, f"{where}.content: must be a string or a list of content blocks")
    user_id = data.get("user_id")
    return MessageRecord(
        message_id=message_id,
        parent_id=parent_id,
        role=role,
        content=column,
        data=data,
        user_id=user_id if isinstance(user_id, str) else None,
        done=data.get("done", True) is not False,
    )


def stamp_author(message: dict[str, Any], actor: Any) -> dict[str, Any]:
    """Open WebUI overwrites authorship on every message it is sent: ``user_id`` is the caller, and user
    turns carry ``user: {id, name}``."""
    stamped = {**message, "user_id": actor.id}
    if stamped.get("role", "user") == "user":
        stamped["user"] = {"id": actor.id, "name": actor.name}
    return stamped


def records_from_history(history: Any, actor: Any) -> tuple[list[MessageRecord], str | None]:
    """Validate ``chat.history`` and return its messages in an order where parents precede children
    (so storing them in this order keeps each parent's ``childrenIds`` order), and its ``currentId``."""
    if not isinstance(history, Mapping):
        raise ApiError(422, "chat.history: must be an object with messages and currentId")
    messages = history.get("messages", {})
    if messages is None:
        messages = {}
    if not isinstance(messages, Mapping):
        raise ApiError(422, "chat.history.messages: must be an object mapping message ids to messages")
    current_id = history.get("currentId")
    if current_id is not None:
        check_id(current_id, "chat.history.currentId")
    # A child listed in a parent's childrenIds but without its own parentId belongs to that parent.
    listed_parent: dict[str, str] = {}
    for key, message in messages.items():
        check_id(key, "chat.history.messages")
        if not isinstance(message, Mapping):
            raise ApiError(422, f"chat.history.messages.{key}: a message must be an object")
        children = message.get("childrenIds") or []
        if not isinstance(children, list):
            raise ApiError(422, f"chat.history.messages.{key}.childrenIds: must be a list of message ids")
        for child in children:
            if isinstance(child, str):
                listed_parent.setdefault(child, key)
    records: dict[str, MessageRecord] = {}
    for key, message in messages.items():
        where = f"chat.history.messages.{key}"
        if "id" in message and message["id"] != key:
            raise ApiError(422, f"{where}.id: does not match the key it is stored under")
        parent_id = message.get("parentId")
        if parent_id is None:
            parent_id = listed_parent.get(key)
        else:
            check_id(parent_id, f"{where}.parentId")
        if parent_id == key:
            raise ApiError(422, f"{where}.parentId: a message cannot be its own parent")
        records[key] = record_from_json(key, stamp_author(dict(message), actor), parent_id, where=where)
    return parents_first(records, messages), current_id


def parents_first(records: dict[str, MessageRecord], messages: Mapping[str, Any]) -> list[MessageRecord]:
    """Order records so every parent comes before its children, siblings in ``childrenIds`` order."""
    children: dict[str | None, list[str]] = {}
    for key, record in records.items():
        parent = record.parent_id if record.parent_id in records else None
        children.setdefault(parent, []).append(key)
    for parent, kids in children.items():
        if parent is not None:
            listed = [child for child in messages[parent].get("childrenIds") or [] if isinstance(child, str)]
            rank = {child: index for index, child in enumerate(listed)}
            kids.sort(key=lambda child: rank.get(child, len(rank)))
    ordered: list[MessageRecord] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        key = stack.pop()
        ordered.append(records[key])
        stack.extend(reversed(children.get(key, [])))
    # Whatever was not reached hangs off a cycle; keep it so check_tree reports it.
    seen = {record.message_id for record in ordered}
    ordered.extend(record for key, record in records.items() if key not in seen)
    return ordered


def records_from_list(messages: Any, actor: Any) -> tuple[list[MessageRecord], str | None]:
    """Turn Open WebUI's legacy flat ``chat.messages`` list into a single-branch tree."""
    if not isinstance(messages, list):
        raise ApiError(422, "chat.messages: must be a list of messages")
    records: list[MessageRecord] = []
    previous: str | None = None
    seen: set[str] = set()
    for index, message in enumerate(messages):
        where = f"chat.messages.{index}"
        if not isinstance(message, Mapping):
            raise ApiError(422, f"{where}: a message must be an object")
        message_id = check_id(message.get("id") or f"{index}", f"{where}.id")
        if message_id in seen:
            raise ApiError(422, f"{where}.id: {message_id!r} appears twice")
        seen.add(message_id)
        parent_id = message.get("parentId", previous)
        records.append(
            record_from_json(message_id, stamp_author(dict(message), actor), parent_id, where=where)
        )
        previous = message_id
    return records, previous


def check_tree(parent_of: Mapping[str, str | None]) -> None:
    """Refuse a tree with a parent that does not exist or with a cycle (every walk must reach a root)."""
    state: dict[str, int] = {}  # 1: on the current walk, 2: known to reach a root
    for start in parent_of:
        path: list[str] = []
        node: str | None = start
        while node is not None and state.get(node) != 2:
            if node not in parent_of:
                raise ApiError(
                    422, f"message {path[-1]!r}: its parentId {node!r} is not a message of this chat"
                )
            if state.get(node) == 1:
                raise ApiError(422, f"message {node!r}: its parentId chain loops back to itself")
            state[node] = 1
            path.append(node)
            node = parent_of[node]
        for visited in path:
            state[visited] = 2


def message_json(
    message_id: str,
    parent_id: str | None,
    children: list[str],
    role: str,
    content: str,
    data: Mapping[str, Any],
) -> dict[str, Any]:
    """The Open WebUI message object for one stored row."""
    message = {
        "id": message_id,
        "parentId": parent_id,
        "childrenIds": children,
        "role": role,
        "content": content,
    }
    message.update(data)
    return message


def children_map(rows: Iterable[tuple[str, str | None]]) -> dict[str | None, list[str]]:
    """``{parent id: [child ids in storage order]}`` from ``(message id, parent id)`` pairs in storage order."""
    children: dict[str | None, list[str]] = {}
    for message_id, parent_id in rows:
        children.setdefault(parent_id, []).append(message_id)
    return children


def newest_leaf(children: Mapping[str | None, list[str]], start: str | None) -> str | None:
    """Follow the newest child from ``start`` (the newest root when ``None``) down to a leaf."""
    node = start
    seen: set[str] = set()
    while children.get(node):
        node = children[node][-1]
        if node in seen:  # unreachable for trees check_tree accepted; never loop forever
            break
        seen.add(node)
    return node


def repair_current(
    current_id: str | None, known: Mapping[str, Any], children: Mapping[str | None, list[str]]
) -> str | None:
    """``currentId`` if it names a leaf; otherwise the newest leaf below it (or below the newest root)."""
    if current_id is None or current_id not in known:
        return newest_leaf(children, None)
    return newest_leaf(children, current_id)


def thread(parent_of: Mapping[str, str | None], leaf: str | None) -> list[str]:
    """Ids from the root down to ``leaf``: the conversation as the client shows it."""
    path: list[str] = []
    seen: set[str] = set()
    node = leaf
    while node is not None and node in parent_of and node not in seen:
        seen.add(node)
        path.append(node)
        node = parent_of[node]
    path.reverse()
    return path
