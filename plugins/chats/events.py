"""Events the chats plugin emits (a realtime plugin can fan them out to the owner's other tabs)."""

from __future__ import annotations

from dataclasses import dataclass, field

from colonnade.events import Event


@dataclass
class ChatEvent(Event):
    name = "chats.event"
    chat_id: str = ""
    #: The chat's owner, who may differ from the actor when an admin acts on someone's chat.
    user_id: str = ""


@dataclass
class ChatCreated(ChatEvent):
    name = "chats.created"


@dataclass
class ChatUpdated(ChatEvent):
    """The document, title, flags or folder changed; ``fields`` names what."""

    name = "chats.updated"
    fields: tuple[str, ...] = ()


@dataclass
class ChatDeleted(ChatEvent):
    name = "chats.deleted"


@dataclass
class MessageCreated(ChatEvent):
    name = "chats.message_created"
    message_id: str = ""


@dataclass
class MessageUpdated(ChatEvent):
    name = "chats.message_updated"
    message_id: str = ""


@dataclass
class MessagesDeleted(ChatEvent):
    name = "chats.messages_deleted"
    message_ids: tuple[str, ...] = ()


@dataclass
class MessageEvent(ChatEvent):
    """A client pushed a UI event for a message (``POST .../messages/:message_id/event``); nothing is
    stored, observers such as a realtime plugin deliver it to the chat's open views."""

    name = "chats.message_event"
    message_id: str = ""
    type: str = ""
    data: dict = field(default_factory=dict)


ALL_EVENTS = [
    ChatCreated,
    ChatUpdated,
    ChatDeleted,
    MessageCreated,
    MessageUpdated,
    MessagesDeleted,
    MessageEvent,
]
