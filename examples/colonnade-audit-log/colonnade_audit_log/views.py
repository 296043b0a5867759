"""``GET /api/audit_log``: the recorded events, newest first, 50 a page, optionally of one event name."""

from __future__ import annotations

from typing import Any

from colonnade import Actor, require
from pydantic import BaseModel, Field
from quart import Blueprint
from quart_schema import validate_querystring

from colonnade_audit_log.models import AuditEntry

PAGE_SIZE = 50

bp = Blueprint("audit_log", __name__)


class AuditQuery(BaseModel):
    page: int = Field(1, ge=1, le=100_000)
    event: str | None = Field(None, min_length=1, max_length=100)
    user_id: str | None = Field(None, min_length=1, max_length=36)


@bp.get("")
@require("audit_log.read")
@validate_querystring(AuditQuery)
async def list_entries(query_args: AuditQuery, actor: Actor) -> dict[str, Any]:
    """Entries newest first; ``total`` counts every entry that matches the filters."""
    entries = AuditEntry.all()
    if query_args.event:
        entries = entries.filter(event=query_args.event)
    if query_args.user_id:
        entries = entries.filter(user_id=query_args.user_id)
    total = await entries.count()
    page = (
        await entries.order_by("-created_at", "-id")
        .offset((query_args.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return {"entries": [entry.to_json() for entry in page], "total": total, "page_size": PAGE_SIZE}
