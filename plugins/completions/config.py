"""``[plugins.completions]``: how long provider model lists are cached and who sees which models."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CompletionsConfig(BaseModel):
    """``[plugins.completions]``."""

    #: Seconds a provider's model list is reused before it is asked again (``0`` asks every time).
    #: ``GET /api/models?refresh=true`` empties the cache at once.
    models_cache_ttl: float = Field(5.0, ge=0, le=3600)
    #: Seconds a provider gets to list its models; one that takes longer is left out of the list.
    list_timeout: float = Field(10.0, gt=0, le=300)
    #: Let users (not only admins) see and use provider models that have no workspace model row, like
    #: Open WebUI's ``BYPASS_MODEL_ACCESS_CONTROL``. Off by default: a user sees a base model only when a
    #: workspace model with its id is shared with them. Without the ``models`` plugin there are no such
    #: rows, so every signed-in user may use every model.
    bypass_model_access_control: bool = False
