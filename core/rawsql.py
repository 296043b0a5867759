"""Hand-written SQL for the few queries on every request's path, where building SQL through the ORM
costs more than running it.

Tortoise rebuilds a query's SQL from its filters on every call (a few hundred microseconds each); the
database answers a primary-key lookup in tens. The hot paths (the actor behind a token, a chat list)
write their SQL once with ``?`` placeholders, and :class:`Statement` renders it for the connection's
dialect (``$1, $2, ...`` on PostgreSQL) and caches the result. Everything else uses the ORM.

Only plain column values come back: booleans are integers on SQLite (see :func:`as_bool`) and JSON
columns are text. Table names are unqualified: PostgreSQL resolves them through the connection's
``search_path``, which carries the configured schema.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

_PLACEHOLDER = re.compile(r"\?")


class Statement:
    """One SQL statement written with ``?`` placeholders, rendered once per dialect."""

    __slots__ = ("sql", "_rendered")

    def __init__(self, sql: str) -> None:
        self.sql = " ".join(sql.split())
        self._rendered: dict[str, str] = {}

    def render(self, dialect: str) -> str:
        rendered = self._rendered.get(dialect)
        if rendered is None:
            if dialect == "postgres":
                counter = itertools.count(1)
                rendered = _PLACEHOLDER.sub(lambda _: f"${next(counter)}", self.sql)
            else:
                rendered = self.sql
            self._rendered[dialect] = rendered
        return rendered


async def fetch_all(model: Any, statement: Statement, params: list[Any]) -> list[dict[str, Any]]:
    """The rows of ``statement`` as dictionaries, run on the connection of ``model``'s app."""
    connection = model._meta.db
    sql = statement.render(connection.capabilities.dialect)
    return await connection.execute_query_dict(sql, params)


async def fetch_one(model: Any, statement: Statement, params: list[Any]) -> dict[str, Any] | None:
    rows = await fetch_all(model, statement, params)
    return rows[0] if rows else None


def as_bool(value: Any) -> bool | None:
    """A boolean column's value as Python's ``bool`` (SQLite stores 0 and 1)."""
    return None if value is None else bool(value)
