"""Moving functions in bulk: Open WebUI's ``POST /load/url`` (fetch a module to paste) and ``POST /sync``
(replace the whole set), under ``/api/functions`` and ``/api/v1/functions``; admins only.

``load/url`` fetches an ``http(s)`` URL (a GitHub ``blob`` page is read from raw.githubusercontent.com)
of at most 1 MiB and answers ``{name, content}`` without storing anything: the client then creates
the function as usual. ``sync`` checks that every given module loads before it writes, then replaces
the set in one transaction: functions not listed are deleted, listed ones created or overwritten
with their flags and valves.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import Blueprint, current_app, jsonify
from quart_schema import validate_request

from colonnade.actors import Actor
from colonnade.errors import ApiError
from colonnade.permissions import require
from colonnade.plugins.functions import store, valves
from colonnade.plugins.functions.events import FunctionChanged
from colonnade.plugins.functions.models import Function, UserValves, now

bp = Blueprint("functions_transfer", __name__)

PREFIXES = {"functions_transfer": "/api/functions", "functions_transfer_v1": "/api/v1/functions"}

#: The largest module ``load/url`` accepts.
FETCH_LIMIT = 1 << 20


def host() -> Any:
    return current_app.extensions["colonnade"]


class UrlForm(BaseModel):
    url: str = Field(min_length=1, max_length=4096)


class SyncedFunction(store.FunctionForm):
    """Open WebUI's ``FunctionWithValvesModel`` as ``sync`` takes it (extra keys are ignored)."""

    id: str = Field(min_length=1, max_length=128)
    is_active: bool = False
    is_global: bool = False
    valves: dict[str, Any] | None = None


class SyncForm(BaseModel):
    functions: list[SyncedFunction] = Field(max_length=1000)


def raw_url(url: str) -> str:
    """A GitHub ``blob`` page's raw file; any other URL as it is."""
    if url.startswith("https://github.com/") and "/blob/" in url:
        return url.replace("https://github.com/", "https://raw.githubusercontent.com/", 1).replace(
            "/blob/", "/", 1
        )
    return url


def name_of(url: str) -> str:
    stem = url.split("?")[0].split("#")[0].rstrip("/").rsplit("/", 1)[-1]
    return stem.removesuffix(".py") or "function"


@bp.post("/load/url")
@require("functions.manage")
@validate_request(UrlForm)
async def load_url(data: UrlForm, actor: Actor) -> Any:
    """Fetch a module's source: ``{"name", "content"}``; nothing is stored."""
    import httpx

    url = data.url.strip()
    if not url.startswith(("http://", "https://")):
        raise ApiError(400, "url: an http(s) URL is required")
    client = host().http_client("functions-fetch", timeout=httpx.Timeout(15.0, connect=5.0))
    received = bytearray()
    try:
        async with client.stream("GET", raw_url(url), follow_redirects=True) as response:
            if response.status_code >= 400:
                raise ApiError(502, f"Fetching {url} answered {response.status_code}")
            async for piece in response.aiter_bytes():
                received += piece
                if len(received) > FETCH_LIMIT:
                    raise ApiError(400, f"The module is larger than {FETCH_LIMIT >> 20} MiB")
    except httpx.TimeoutException:
        raise ApiError(504, f"Fetching {url} timed out") from None
    except httpx.HTTPError as error:
        raise ApiError(502, f"Fetching {url} failed: {type(error).__name__}") from None
    try:
        content = received.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "The module is not UTF-8 text") from None
    return jsonify({"name": name_of(url), "content": content})


@bp.post("/sync")
@require("functions.manage")
@validate_request(SyncForm)
async def sync(data: SyncForm, actor: Actor) -> Any:
    """Replace every function with the given ones (all or nothing): ``[FunctionModel + valves]``."""
    from tortoise.transactions import in_transaction

    the_host = host()
    codec = the_host.state("functions").codec
    checked = []
    seen: set[str] = set()
    for item in data.functions:
        function_id = item.id.strip().lower()
        if not store.ID_PATTERN.match(function_id) or function_id in store.RESERVED_IDS:
            raise ApiError(400, f"{item.id}: {store.BAD_ID}")
        if function_id in seen:
            raise ApiError(400, f"{function_id}: listed twice")
        seen.add(function_id)
        try:
            loaded = await store.check_and_load(the_host, function_id, item.content)
        except ApiError as error:
            raise ApiError(400, f"{function_id}: {error.detail}") from None
        stored_valves = None
        if item.valves:
            try:
                stored_valves = valves.validate(loaded.valves_class, item.valves)
            except ApiError as error:
                raise ApiError(400, f"{function_id}: {error.detail}") from None
        checked.append((function_id, item, loaded, stored_valves))
    async with in_transaction():
        gone = await Function.exclude(id__in=seen).values_list("id", flat=True)
        await UserValves.filter(function_id__in=gone).delete()
        await Function.exclude(id__in=seen).delete()
        for function_id, item, loaded, stored_valves in checked:
            fields = {
                "name": item.name,
                "type": loaded.kind,
                "content": item.content,
                "meta": store.meta_for(item, loaded),
                "is_active": item.is_active,
                "is_global": item.is_global,
                "valves": codec.encode(stored_valves),
                "updated_at": now(),
            }
            row = await Function.get_or_none(id=function_id)
            if row is None:
                await Function.create(id=function_id, user_id=actor.id, **fields)
            else:
                await store.bump(row, **fields)
    await the_host.state("functions").registry.sync()
    for function_id in [*gone, *seen]:
        await the_host.emit(FunctionChanged(actor=actor, function_id=function_id, change="synced"))
    codec_rows = await Function.all().order_by("id")
    return jsonify([{**store.public(row), "valves": codec.decode(row.valves)} for row in codec_rows])
