"""Memories in completions: the ``completion_inlet`` work of the memory plugin.

For a user who has memory on, the memories nearest in meaning to their latest messages are appended
to the system message (one is added when the request has none), the way Open WebUI does it:

- on or off: the request's ``features.memory`` when it says (Open WebUI's web client sends the
  user's choice there), else the user's ``settings.ui.memory`` (the Personalisation > Memory
  switch), else ``[plugins.memory] enabled_by_default``;
- the query: the text of the last ``query_messages`` user messages;
- the memories: the best ``completion_top_k``, kept above ``[plugins.rag] relevance_threshold``,
  the user's own facts first, then context learnt from conversations, each dated, within
  ``context_char_limit`` characters.

Background tasks (requests whose ``metadata.task`` is set, such as title generation) get none. A
retrieval failure (an embedding upstream down) is logged and the completion goes on without memories.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from colonnade import jsoncodec
from colonnade.errors import ApiError
from colonnade.plugins.memory import store
from colonnade.plugins.memory.models import Memory
from colonnade.rawsql import Statement, fetch_one

log = logging.getLogger("colonnade.memory")

#: The heading of the block added to the system message.
HEADING = "User Context:"
#: Each group's first line, in the order the groups are written.
GROUP_TITLES = {
    "user": "Facts the user asked you to remember:",
    "context": "Context from earlier conversations:",
}
#: What the model is told to do with them.
GUIDANCE = "Use these memories about the user when they help with the answer; do not mention them otherwise."
#: ``ctx.metadata`` key holding the ids of the memories added (for other plugins to read).
METADATA_KEY = "memory_ids"


def requested(ctx: Any) -> bool | None:
    """The request's own ``features.memory`` when it is a boolean, else ``None``."""
    features = ctx.metadata.get("features")
    if isinstance(features, dict) and isinstance(features.get("memory"), bool):
        return features["memory"]
    return None


#: Read before every completion (whether the user turned memories on): one row by key, inline.
USER_SETTINGS = Statement("SELECT settings FROM auth_user WHERE id = ?")


async def enabled_for(host: Any, ctx: Any) -> bool:
    """Whether this completion gets memories (see the module docstring for the order of sources)."""
    config = host.plugin_config("memory")
    if not config.completion_context:
        return False
    asked = requested(ctx)
    if asked is not None:
        return asked
    from colonnade.auth.models import User

    row = await fetch_one(User, USER_SETTINGS, [ctx.actor.id], inline=True)
    settings = row and row["settings"]
    if isinstance(settings, (str, bytes)):
        settings = jsoncodec.loads(settings)
    ui = settings.get("ui") if isinstance(settings, dict) else None
    if isinstance(ui, dict) and isinstance(ui.get("memory"), bool):
        return ui["memory"]
    return config.enabled_by_default


def text_of(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        )
    return ""


def query_text(messages: list[Any], count: int) -> str:
    """The text of the last ``count`` user messages, oldest first."""
    texts = [
        text_of(message)
        for message in messages
        if isinstance(message, dict) and message.get("role") == "user"
    ]
    return "\n".join(text for text in texts[-count:] if text.strip())


def within_limit(memories: list[Memory], char_limit: int) -> list[Memory]:
    """The memories, best first, whose texts fit in ``char_limit`` characters together (one that does
    not fit is left out whole; shorter ones after it may still fit)."""
    kept: list[Memory] = []
    used = 0
    for memory in memories:
        if used + len(memory.content) <= char_limit:
            kept.append(memory)
            used += len(memory.content)
    return kept


def format_memories(memories: list[Memory]) -> str:
    """The block for the system message: the user's facts, then context, numbered and dated."""
    lines = [HEADING, GUIDANCE]
    number = 0
    for kind, title in GROUP_TITLES.items():
        group = [
            memory
            for memory in memories
            if (memory.type if memory.type in GROUP_TITLES else "context") == kind
        ]
        if not group:
            continue
        lines.append(title)
        for memory in group:
            number += 1
            day = time.strftime("%Y-%m-%d", time.gmtime(memory.created_at))
            lines.append(f"{number}. [{day}] {memory.content}")
    return "\n".join(lines)


def append_to_system(messages: list[Any], block: str) -> None:
    """Append ``block`` to the first system message, or start the conversation with one."""
    for message in messages:
        if not (isinstance(message, dict) and message.get("role") == "system"):
            continue
        content = message.get("content")
        if isinstance(content, str):
            message["content"] = f"{content}\n\n{block}" if content else block
            return
        if isinstance(content, list):
            content.append({"type": "text", "text": block})
            return
    messages.insert(0, {"role": "system", "content": block})


async def add_memories(host: Any, ctx: Any) -> None:
    """Retrieve the caller's relevant memories and append them to the system message."""
    messages = ctx.request.get("messages")
    if not isinstance(messages, list) or ctx.metadata.get("task"):
        return  # a background task (a title, tags) is not a conversation with the user
    if not await enabled_for(host, ctx):
        return
    if not await Memory.exists(user_id=ctx.actor.id):
        return
    config = host.plugin_config("memory")
    query = query_text(messages, config.query_messages)
    from colonnade.plugins.rag.overrides import refresh_quietly

    await refresh_quietly(host)
    rag = getattr(host.state("rag"), "service", None)
    if not query or rag is None:
        return
    try:
        found = await store.search(rag, ctx.actor.id, query, config.completion_top_k)
    except ApiError as error:
        log.warning("memories for a completion of user %s failed: %s", ctx.actor.id, error.detail)
        return
    memories = within_limit([memory for memory, _hit in found], config.context_char_limit)
    if memories:
        append_to_system(messages, format_memories(memories))
        ctx.metadata[METADATA_KEY] = [memory.id for memory in memories]
