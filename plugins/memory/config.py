"""``[plugins.memory]``: who has memories in their completions, and how many of them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MemoryConfig(BaseModel):
    """``[plugins.memory]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Add memories to the completions of users who never chose (their settings hold no
    #: ``ui.memory`` and the request no ``features.memory``). Open WebUI leaves it off.
    enabled_by_default: bool = False
    #: Add memories to completions at all (Open WebUI: ``ENABLE_MEMORY_SYSTEM_CONTEXT``).
    completion_context: bool = True
    #: Memories retrieved for a completion (Open WebUI: up to 8).
    completion_top_k: int = Field(8, ge=1, le=100)
    #: How many of the latest user messages make the search query for a completion (Open WebUI: 7).
    query_messages: int = Field(7, ge=1, le=100)
    #: The most characters of memories added to a completion (Open WebUI: 2000).
    context_char_limit: int = Field(2000, ge=100, le=1_000_000)
    #: The longest memory accepted, in characters.
    max_content_length: int = Field(10_000, ge=1, le=1_000_000)
