"""``[plugins.scim]``: the bearer token of the SCIM client and how provisioned accounts start."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class ScimConfig(BaseModel):
    """``[plugins.scim]``."""

    model_config = ConfigDict(extra="forbid")

    #: The shared secret the identity provider sends as ``Authorization: Bearer <token>``. Without it
    #: the plugin registers no routes (every SCIM path answers 404). Write it as
    #: ``{"$env" = "SCIM_TOKEN"}`` or ``{"$file" = "/run/secrets/scim"}`` to keep it out of the file.
    token: SecretStr | None = None
    #: The role of an account the SCIM client creates (``user`` or ``pending``).
    default_role: str = Field("user", pattern="^(user|pending)$")
    #: Resources in one list page when the client does not send ``count``.
    page_size: int = Field(100, ge=1, le=1000)
    #: The most resources one list page returns (advertised as ``filter.maxResults``).
    max_results: int = Field(200, ge=1, le=1000)

    @field_validator("token")
    @classmethod
    def _long_enough(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and len(token.get_secret_value()) < 16:
            raise ValueError("the SCIM token must be at least 16 characters long")
        return token
