"""Saving a completion's turn into the caller's chat, through the ``chats`` plugin's functions.

Only when the request names a ``chat_id`` of the caller and the ``chats`` plugin is loaded; a temporary
chat (``local:...``/``temporary:...``) is never saved. The user message is appended first (unless the
request's ``user_message`` is already in the chat), then an assistant placeholder (``done: false``,
which a client's history merge leaves alone) that the finished answer fills. Each write emits the
chats plugin's ``chats.message_created`` / ``chats.message_updated`` event, so a realtime plugin can
show the turn in the user's other tabs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from colonnade.errors import ApiError

if TYPE_CHECKING:
    from colonnade.actors import Actor
    from colonnade.host import Host

CHAT_NOT_FOUND = "Chat not found"


def last_user_message(messages: Any) -> dict[str, Any] | None:
    for message in reversed(messages if isinstance(messages, list) else ()):
        if isinstance(message, dict) and message.get("role") == "user":
            return message
    return None


class ChatRecorder:
    """Writes one user/assistant turn into a chat; :meth:`open` gives ``None`` when nothing is saved."""

    def __init__(self, host: Host, actor: Actor, chat: Any, reply_id: str) -> None:
        self.host = host
        self.actor = actor
        self.chat = chat
        self.reply_id = reply_id

    @staticmethod
    async def _emit(host: Host, actor: Actor, chat: Any, message_id: str, *, created: bool) -> None:
        from colonnade.plugins.chats.events import MessageCreated, MessageUpdated

        kind = MessageCreated if created else MessageUpdated
        await host.emit(kind(actor=actor, chat_id=chat.id, user_id=chat.user_id, message_id=message_id))

    @classmethod
    async def open(
        cls, host: Host, actor: Actor, metadata: dict[str, Any], model_id: str, said: dict[str, Any] | None
    ) -> ChatRecorder | None:
        """Check the chat and write the user message and the reply placeholder.

        :param said: The request's last user message as it arrived (before the inlets changed it).
        """
        chat_id = metadata.get("chat_id")
        if not chat_id or not host.pm.has_plugin("chats"):
            return None
        if not isinstance(chat_id, str):
            raise ApiError(400, "chat_id: must be a string")
        if chat_id.startswith(("local:", "temporary:")):
            return None
        from colonnade.plugins.chats import messages as chat_messages
        from colonnade.plugins.chats.models import Chat, Message

        chat = await Chat.get_or_none(id=chat_id, user_id=actor.id)
        if chat is None:
            raise ApiError(404, CHAT_NOT_FOUND)

        given = metadata.get("user_message") or metadata.get("parent_message")
        given = given if isinstance(given, dict) else {}
        parent_id = chat.current_message_id
        existing = None
        if isinstance(given.get("id"), str):
            existing = await Message.get_or_none(chat_id=chat.id, message_id=given["id"])
        if existing is not None:
            if existing.role != "user":
                raise ApiError(409, f"user_message: {given['id']!r} is not a user message of this chat")
            parent_id = existing.message_id
        else:
            if given or said is not None:
                body = {"role": "user", "content": (said or {}).get("content", "")}
                body.update(
                    {key: value for key, value in given.items() if key not in ("childrenIds", "role")}
                )
                body.setdefault("models", [model_id])
                parent_id = (await chat_messages.append(chat, actor, body))["id"]
                await cls._emit(host, actor, chat, parent_id, created=True)

        reply_id = metadata.get("id")
        reply = None
        if isinstance(reply_id, str) and reply_id:
            reply = await Message.get_or_none(chat_id=chat.id, message_id=reply_id)
            if reply is not None and reply.role != "assistant":
                raise ApiError(409, f"id: {reply_id!r} is not an assistant message of this chat")
        if reply is None:
            placeholder = {"role": "assistant", "content": "", "done": False, "model": model_id}
            if isinstance(reply_id, str) and reply_id:
                placeholder["id"] = reply_id
            placeholder["parentId"] = parent_id
            reply_id = (await chat_messages.append(chat, actor, placeholder))["id"]
            await cls._emit(host, actor, chat, reply_id, created=True)
        return cls(host, actor, chat, reply_id)

    async def finish(self, content: str, *, usage: Any = None, error: str | None = None) -> None:
        """Fill the assistant message: its text, ``done: true``, and the usage or the error if any."""
        from colonnade.plugins.chats import messages as chat_messages
        from colonnade.plugins.chats.models import Message

        row = await Message.get_or_none(chat_id=self.chat.id, message_id=self.reply_id)
        if row is None:  # deleted meanwhile (the user removed the message or the chat)
            return
        changes: dict[str, Any] = {"content": content, "done": True}
        if usage is not None:
            changes["usage"] = usage
        if error is not None:
            changes["error"] = {"content": error}
        await chat_messages.update(self.chat, row, changes)
        await self._emit(self.host, self.actor, self.chat, self.reply_id, created=False)
