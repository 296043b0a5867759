"""Checking what admins send for a stored pipeline, and the pipeline as the API shows it."""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, Any

from colonnade.errors import ApiError

if TYPE_CHECKING:
    from colonnade.plugins.pipelines.models import Pipeline

#: Pipeline ids: letters, digits, ``_`` and ``-`` (a ``.`` separates a manifold from its sub-pipes).
ID_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$")


def check_source(source: Any, limit: int) -> str:
    """``source`` if it compiles and defines ``class Pipeline``; else a 400 (naming the line)."""
    if not isinstance(source, str) or not source.strip():
        raise ApiError(400, "content: the module source is required")
    if len(source.encode()) > limit:
        raise ApiError(400, f"content: the module is larger than {limit} bytes")
    try:
        tree = ast.parse(source, "<pipeline>")
    except SyntaxError as error:
        raise ApiError(400, f"SyntaxError on line {error.lineno}: {error.msg}") from None
    except ValueError as error:  # null bytes
        raise ApiError(400, f"content: {error}") from None
    if not any(isinstance(node, ast.ClassDef) and node.name == "Pipeline" for node in tree.body):
        raise ApiError(400, "The module defines no class Pipeline")
    return source


def check_id(pipeline_id: Any) -> str:
    if not isinstance(pipeline_id, str) or not ID_PATTERN.match(pipeline_id):
        raise ApiError(400, "id: use letters, digits, _ and - only (at most 128 characters, no dots)")
    return pipeline_id


def effective_valves(row: Pipeline) -> dict[str, Any]:
    """The values the module runs with: its defaults with the stored (admin-set) values over them."""
    return (row.info or {}).get("valves") or dict(row.valves or {})


def pipeline_json(row: Pipeline, *, content: bool = True) -> dict[str, Any]:
    info = row.info or {}
    data = {
        "id": row.id,
        "name": row.name,
        "type": row.type,
        "is_active": row.is_active,
        "user_id": row.user_id,
        "valves": effective_valves(row),
        "meta": {
            key: info[key]
            for key in ("pipelines", "priority", "pipes", "has_inlet", "has_outlet", "manifest")
            if key in info
        },
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
    if content:
        data["content"] = row.content
    return data


def valves_dict(valves: Any) -> dict[str, Any]:
    if valves is None:
        return {}
    if not isinstance(valves, dict):
        raise ApiError(400, "valves: must be a JSON object")
    return {key: value for key, value in valves.items() if value is not None}


def name_of(name: Any, info: dict[str, Any], pipeline_id: str) -> str:
    if name is not None and (not isinstance(name, str) or not name.strip() or len(name) > 255):
        raise ApiError(400, "name: a non-empty text of at most 255 characters")
    return (name or info.get("name") or pipeline_id)[:255]

