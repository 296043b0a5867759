"""``[plugins.models]``: who may create and publish workspace models, and how long providers get."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ModelsConfig(BaseModel):
    """``[plugins.models]``."""

    #: Let every user create workspace models, as if Open WebUI's ``workspace.models`` default were on;
    #: otherwise only admins and members of a group granting ``workspace.models`` may.
    users_can_create: bool = False
    #: Let every user make a model public; otherwise admins and groups granting ``sharing.public_models``.
    users_can_share_publicly: bool = False
    #: Seconds each LLM provider gets to list its models when a body is validated.
    provider_timeout: float = Field(10.0, gt=0, le=120)
