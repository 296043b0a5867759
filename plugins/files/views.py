"""Routes: the spec's ``/api/files`` and Open WebUI's ``/api/v1/files``.

The two differ where the contracts do: on the spec path ``GET /api/files/<id>`` is the download and an
upload answers 201; on Open WebUI's path ``GET /api/v1/files/<id>`` is the metadata, the bytes are at
``/<id>/content`` and an upload answers 200. The work is done once, in ``service`` and ``downloads``.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from pydantic import BaseModel, Field
from quart import Blueprint, current_app, request
from quart_schema import validate_querystring

from colonnade.actors import Actor
from colonnade.errors import ApiError
from colonnade.permissions import require
from colonnade.plugins.files.downloads import download
from colonnade.plugins.files.models import File
from colonnade.plugins.files.service import NOT_FOUND, FileService, file_json

bp = Blueprint("files", __name__)
bp_v1 = Blueprint("files_v1", __name__)

SPEC_PREFIX = "/api/files"
OPEN_WEBUI_PREFIX = "/api/v1/files"
#: The upload routes, which read their body straight from the server (see ``streaming``).
UPLOAD_PATHS = (SPEC_PREFIX, SPEC_PREFIX + "/", OPEN_WEBUI_PREFIX, OPEN_WEBUI_PREFIX + "/")
OPEN_WEBUI_PAGE = 50
DELETED = {"message": "File deleted successfully"}


#: The last page a list may ask for: beyond it the offset would not fit a 64-bit integer (a 500).
MAX_PAGE = 1_000_000


class ListQuery(BaseModel):
    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    limit: int = Field(default=OPEN_WEBUI_PAGE, ge=1, le=200)
    content: bool = True


class OpenWebUIListQuery(BaseModel):
    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    content: bool = True


class UploadQuery(BaseModel):
    process: bool = True
    process_in_background: bool = True


class DownloadQuery(BaseModel):
    attachment: bool = False


class SearchQuery(BaseModel):
    filename: str = Field(min_length=1, max_length=255)
    content: bool = True
    skip: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=1000)


def service() -> FileService:
    return current_app.extensions["colonnade"].state("files").service


async def page_of(actor: Actor, page: int, limit: int, *, content: bool) -> dict[str, Any]:
    """The caller's own files, newest first."""
    files = File.filter(user_id=actor.id)
    total = await files.count()
    rows = await files.order_by("-created_at", "-id").offset((page - 1) * limit).limit(limit)
    return {"items": [file_json(row, content=content, path=False) for row in rows], "total": total}


async def delete_visible(actor: Actor, file_id: str) -> dict[str, Any]:
    files = service()
    if not await files.delete(actor, await files.visible_file(actor, file_id)):
        raise ApiError(404, NOT_FOUND)  # deleted by a concurrent request meanwhile
    return DELETED


# -- the spec: /api/files ------------------------------------------------------------------------------


@bp.post("")
@bp.post("/")
@require("files.upload")
async def upload(actor: Actor):
    """Upload one file (multipart part ``file``, optional JSON part ``metadata``); 201 with its record."""
    record = await service().upload(actor, request)
    return file_json(record), 201, {"Location": f"{SPEC_PREFIX}/{record.id}"}


@bp.get("")
@bp.get("/")
@require("files.read")
@validate_querystring(ListQuery)
async def list_files(query_args: ListQuery, actor: Actor) -> dict[str, Any]:
    """The caller's files, ``limit`` (default 50) a page: ``{"items": [...], "total": n}``."""
    return await page_of(actor, query_args.page, query_args.limit, content=query_args.content)


@bp.get("/<file_id>")
@require("files.read")
@validate_querystring(DownloadQuery)
async def get_file_content(file_id: str, query_args: DownloadQuery, actor: Actor):
    """Download the bytes (ranges supported)."""
    record = await service().visible_file(actor, file_id)
    return await download(service(), record, request, attachment=query_args.attachment)


@bp.get("/<file_id>/metadata")
@require("files.read")
async def get_file_metadata(file_id: str, actor: Actor) -> dict[str, Any]:
    return file_json(await service().visible_file(actor, file_id))


@bp.delete("/<file_id>")
@require("files.upload")
async def delete_file(file_id: str, actor: Actor) -> dict[str, Any]:
    """Delete the record and its stored bytes."""
    return await delete_visible(actor, file_id)


# -- Open WebUI: /api/v1/files -------------------------------------------------------------------------


@bp_v1.post("")
@bp_v1.post("/")
@require("files.upload")
@validate_querystring(UploadQuery)
async def upload_v1(query_args: UploadQuery, actor: Actor) -> dict[str, Any]:
    record = await service().upload(actor, request)
    body = file_json(record)
    if query_args.process:
        body["status"] = True
    return body


@bp_v1.get("")
@bp_v1.get("/")
@require("files.read")
@validate_querystring(OpenWebUIListQuery)
async def list_files_v1(query_args: OpenWebUIListQuery, actor: Actor) -> dict[str, Any]:
    return await page_of(actor, query_args.page, OPEN_WEBUI_PAGE, content=query_args.content)


@bp_v1.get("/search")
@require("files.read")
@validate_querystring(SearchQuery)
async def search_files_v1(query_args: SearchQuery, actor: Actor):
    """The caller's files whose name matches a shell-style pattern (``*.pdf``), case-insensitively."""
    pattern = query_args.filename.lower()
    rows = await File.filter(user_id=actor.id).order_by("-created_at", "-id").values_list("id", "filename")
    ids = [file_id for file_id, name in rows if fnmatch.fnmatchcase(name.lower(), pattern)]
    ids = ids[query_args.skip : query_args.skip + query_args.limit]
    if not ids:
        raise ApiError(404, "No files found matching the pattern.")
    found = {row.id: row for row in await File.filter(id__in=ids)}
    return [file_json(found[file_id], content=query_args.content, path=False) for file_id in ids]


@bp_v1.get("/<file_id>")
@require("files.read")
async def get_file_v1(file_id: str, actor: Actor) -> dict[str, Any]:
    return file_json(await service().visible_file(actor, file_id))


@bp_v1.get("/<file_id>/content")
@require("files.read")
@validate_querystring(DownloadQuery)
async def get_file_content_v1(file_id: str, query_args: DownloadQuery, actor: Actor):
    record = await service().visible_file(actor, file_id)
    return await download(service(), record, request, attachment=query_args.attachment)


@bp_v1.get("/<file_id>/content/<file_name>")
@require("files.read")
async def get_file_content_named_v1(file_id: str, file_name: str, actor: Actor):
    """Always a download (Open WebUI's form for links that end in the file's name)."""
    record = await service().visible_file(actor, file_id)
    return await download(service(), record, request, attachment=True)


@bp_v1.delete("/<file_id>")
@require("files.upload")
async def delete_file_v1(file_id: str, actor: Actor) -> dict[str, Any]:
    return await delete_visible(actor, file_id)
