"""Configuration, request bodies and query strings of the chats plugin."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

Id = Field(default=None, min_length=1, max_length=255)


class ChatsConfig(BaseModel):
    """``[plugins.chats]``."""

    model_config = ConfigDict(frozen=True)

    #: Open WebUI's ``ENABLE_ADMIN_CHAT_ACCESS``: admins may read any chat, update and delete its
    #: messages, delete it, and list a user's chats. Off: admins see only their own, like everyone.
    admin_chat_access: bool = True
    #: Chats per page of a paged list when the request gives no ``limit`` (Open WebUI: 60).
    page_size: int = Field(default=60, ge=1, le=1000)


class ChatForm(BaseModel):
    """Open WebUI's ``ChatForm``: the conversation document and two chat-level columns."""

    chat: dict[str, Any]
    variables: dict[str, Any] | None = None
    folder_id: str | None = Field(default=None, max_length=64)


class ImportItem(ChatForm):
    meta: dict[str, Any] | None = None
    pinned: bool = False
    archived: bool = False
    created_at: int | None = Field(default=None, ge=0)
    updated_at: int | None = Field(default=None, ge=0)


class ImportForm(BaseModel):
    chats: list[ImportItem] = Field(max_length=1000)


#: The last page a list may ask for: beyond it the offset (page times size) would not fit the databases'
#: 64-bit integers (a 500), and no one has that many chats anyway.
MAX_PAGE = 1_000_000


class ChatListQuery(BaseModel):
    page: int | None = Field(default=None, ge=1, le=MAX_PAGE)
    limit: int | None = Field(default=None, ge=1, le=1000)
    query: str | None = Field(default=None, max_length=255)
    archived: bool = False
    pinned: bool | None = None
    folder_id: str | None = Field(default=None, max_length=64)
    tag: str | None = Field(default=None, min_length=1, max_length=255)
    include_pinned: bool | None = None
    include_folders: bool | None = None
    sort_by: str = Field(default="updated_at", pattern="^(updated_at|created_at|title)$")
    sort_dir: str = Field(default="desc", pattern="^(asc|desc)$")


class SearchQuery(BaseModel):
    text: str = Field(default="", max_length=255)
    page: int = Field(default=1, ge=1, le=MAX_PAGE)


class ArchivedQuery(BaseModel):
    page: int | None = Field(default=None, ge=1, le=MAX_PAGE)
    query: str | None = Field(default=None, max_length=255)
    order_by: str = Field(default="updated_at", pattern="^(updated_at|created_at|title)$")
    direction: str = Field(default="desc", pattern="^(asc|desc)$")


class MessageListQuery(BaseModel):
    #: ``current``: only the thread from the root to the chat's current message; a message id: the
    #: thread ending there. Without it, every message in storage order.
    branch: str | None = Field(default=None, min_length=1, max_length=255)
    offset: int = Field(default=0, ge=0)
    limit: int | None = Field(default=None, ge=1, le=10_000)


class MessageCreateForm(BaseModel):
    """A new message: Open WebUI's message object. Unknown keys are kept with the message."""

    model_config = ConfigDict(extra="allow")

    id: str | None = Id
    parentId: str | None = Id  # Open WebUI's key
    role: str = Field(default="user", min_length=1, max_length=32)
    content: str | list[Any] | None = None


class MessageUpdateForm(BaseModel):
    """Changes to one message; every key given replaces the stored one. The tree links cannot change."""

    model_config = ConfigDict(extra="allow")

    role: str | None = Field(default=None, min_length=1, max_length=32)
    content: str | list[Any] | None = None
    voice: dict[str, Any] | None = None

    @model_validator(mode="after")
    def no_tree_keys(self) -> MessageUpdateForm:
        for key in ("id", "parentId", "childrenIds"):
            if key in (self.model_extra or {}):
                raise ValueError(f"{key} cannot be changed; create a new message instead")
        return self


class MessageEventForm(BaseModel):
    type: str = Field(min_length=1, max_length=255)
    data: dict[str, Any] = Field(default_factory=dict)


class FlagForm(BaseModel):
    """Optional body of archive and pin on the spec paths: set the flag instead of toggling it."""

    archived: bool | None = None
    pinned: bool | None = None


class CloneForm(BaseModel):
    title: str | None = Field(default=None, max_length=1000)


class ForkForm(BaseModel):
    message_id: str | None = Field(default=None, min_length=1, max_length=255)


class FolderForm(BaseModel):
    folder_id: str | None = Field(default=None, max_length=64)
