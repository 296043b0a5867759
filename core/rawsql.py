"""Hand-written SQL for the few queries on every request's path, where building SQL through the ORM
costs more than running it.

Tortoise rebuilds a query's SQL from its filters on every call (a few hundred microseconds each); the
database answers a primary-key lookup in tens. The hot paths (the actor behind a token, a chat list)
write their SQL once with ``?`` placeholders, and :class:`Statement` renders it for the connection's
dialect (``$1, $2, ...`` on PostgreSQL) and caches the result. Everything else uses the ORM.

On SQLite a statement known to be cheap (a lookup by key, a page of an indexed list: ``inline=True``)
runs on a second, read-only connection in the calling thread, inside the event loop: it takes tens of
microseconds, less than handing it to aiosqlite's thread and back. With the write-ahead log a reader
never waits for the writer; it sees what is committed, as any read outside a transaction does. Inside
a transaction, on PostgreSQL, or when SQLite answers busy, the statement takes the usual path.

Only plain column values come back: booleans are integers on SQLite (see :func:`as_bool`) and JSON
columns are text. Table names are unqualified: PostgreSQL resolves them through the connection's
``search_path``, which carries the configured schema.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
import threading
import weakref
from typing import Any

from tortoise.backends.base.client import TransactionalDBClient

_PLACEHOLDER = re.compile(r"\?")


class Statement:
    """One SQL statement written with ``?`` placeholders, rendered once per dialect."""

    __slots__ = ("_rendered", "sql")

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


async def fetch_all(
    model: Any, statement: Statement, params: list[Any], *, inline: bool = False
) -> list[dict[str, Any]]:
    """The rows of ``statement`` as dictionaries, run on the connection of ``model``'s app.

    :param inline: The statement is cheap whatever the data (it reads a bounded number of rows
        through an index): on SQLite, run it in this thread (see the module's documentation).
    """
    connection = model._meta.db
    dialect = connection.capabilities.dialect
    sql = statement.render(dialect)
    if inline and dialect == "sqlite":
        reader = _inline_reader(connection)
        if reader is not None:
            try:
                cursor = reader.execute(sql, params)
                return list(map(dict, cursor.fetchall()))
            except sqlite3.OperationalError:
                pass  # busy (a checkpoint resetting the log, say): take the usual path
    return await connection.execute_query_dict(sql, params)


async def fetch_one(
    model: Any, statement: Statement, params: list[Any], *, inline: bool = False
) -> dict[str, Any] | None:
    rows = await fetch_all(model, statement, params, inline=inline)
    return rows[0] if rows else None


#: The read-only connection of each SQLite client, per thread.
_readers: weakref.WeakKeyDictionary[Any, dict[int, sqlite3.Connection]] = weakref.WeakKeyDictionary()


def _inline_reader(client: Any) -> sqlite3.Connection | None:
    """This thread's read-only connection to ``client``'s database file; ``None`` inside a
    transaction, before the client has connected, or for an in-memory database."""
    if isinstance(client, TransactionalDBClient) or getattr(client, "_connection", None) is None:
        return None
    try:
        per_thread = _readers[client]
    except KeyError:
        filename = str(client.filename)
        if filename == ":memory:" or "mode=memory" in filename:
            return None
        per_thread = _readers[client] = {}
        weakref.finalize(client, _close_all, per_thread)
    thread = threading.get_ident()
    reader = per_thread.get(thread)
    if reader is None:
        reader = sqlite3.connect(client.filename, isolation_level=None, check_same_thread=False)
        reader.row_factory = sqlite3.Row
        reader.execute("PRAGMA query_only = ON")
        reader.execute("PRAGMA busy_timeout = 0")  # never block the event loop: fall back instead
        per_thread[thread] = reader
    return reader


def _close_all(readers: dict[int, sqlite3.Connection]) -> None:
    for reader in readers.values():
        reader.close()
    readers.clear()


def as_bool(value: Any) -> bool | None:
    """A boolean column's value as Python's ``bool`` (SQLite stores 0 and 1)."""
    return None if value is None else bool(value)
