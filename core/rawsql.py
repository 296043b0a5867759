"""Hand-written SQL for the few queries on every request's path, where building SQL through the ORM
costs more than running it.

Tortoise rebuilds a query's SQL from its filters on every call (a few hundred microseconds each); the
database answers a primary-key lookup in tens. The hot paths (the actor behind a token, a chat list)
write their SQL once with ``?`` placeholders, and :class:`Statement` renders it for the connection's
dialect (``$1, $2, ...`` on PostgreSQL) and caches the result. Everything else uses the ORM.

On SQLite a statement known to be cheap (a lookup by key, a page of an indexed list: ``inline=True``)
runs on a second, read-only connection in the calling thread, inside the event loop: it takes tens of
microseconds, less than handing it to aiosqlite's thread and back. With the write-ahead log a reader
never waits for the writer; it sees what is committed, as any read outside a transaction does. On
PostgreSQL such a statement runs on one connection kept out of the pool for them, when it is free:
taking a connection from asyncpg's pool and giving it back costs more than the query. Inside a
transaction, when SQLite answers busy or the kept connection is in use, the statement takes the usual
path.

Only plain column values come back: booleans are integers on SQLite (see :func:`as_bool`) and JSON
columns are text. Table names are unqualified: PostgreSQL resolves them through the connection's
``search_path``, which carries the configured schema.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import sqlite3
import threading
import weakref
from typing import Any

from tortoise.backends.base.client import TransactionalDBClient

log = logging.getLogger("colonnade.db")

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

    :param inline: The statement reads about as many rows as it returns (a lookup by key, a page
        through an index): on SQLite it runs in this thread, on PostgreSQL on the kept connection
        when that is free (see the module's documentation).
    """
    connection = model._meta.db
    dialect = connection.capabilities.dialect
    sql = statement.render(dialect)
    if inline:
        if dialect == "sqlite":
            reader = _inline_reader(connection)
            if reader is not None:
                try:
                    cursor = reader.execute(sql, params)
                    names = [column[0] for column in cursor.description]
                    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
                except sqlite3.OperationalError:
                    pass  # busy (a checkpoint resetting the log, say): take the usual path
        elif dialect == "postgres":
            rows = await _fetch_on_held_connection(connection, sql, params)
            if rows is not None:
                return rows
    return await connection.execute_query_dict(sql, params)


async def fetch_one(
    model: Any, statement: Statement, params: list[Any], *, inline: bool = False
) -> dict[str, Any] | None:
    rows = await fetch_all(model, statement, params, inline=inline)
    return rows[0] if rows else None


class _Held:
    """A PostgreSQL connection taken from the pool once and kept for inline statements."""

    __slots__ = ("busy", "connection")

    def __init__(self) -> None:
        self.connection: Any = None
        self.busy = True  # until the connection is in


#: The kept connection of each PostgreSQL client.
_held: weakref.WeakKeyDictionary[Any, _Held] = weakref.WeakKeyDictionary()


async def _fetch_on_held_connection(client: Any, sql: str, params: list[Any]) -> list[dict[str, Any]] | None:
    """The rows, read on ``client``'s kept connection; ``None`` when it is busy or cannot be had."""
    if isinstance(client, TransactionalDBClient) or getattr(client, "_pool", None) is None:
        return None
    held = _held.get(client)
    if held is None:
        held = _held[client] = _Held()
        try:
            held.connection = await client._pool.acquire()
        except BaseException:
            _held.pop(client, None)
            raise
        held.busy = False
    if held.busy:
        return None
    held.busy = True
    try:
        rows = await held.connection.fetch(sql, *params)
    except Exception as error:
        if not _broken(error, held):
            raise
        log.info("the kept database connection failed (%s): back to the pool with it", error)
        await _give_back(client)
        return None  # the pool's path reads it again: a read can be
    finally:
        held.busy = False
    return [dict(row) for row in rows]


def _broken(error: Exception, held: _Held) -> bool:
    """Whether ``error`` says the kept connection is no longer usable, rather than that the statement
    failed: a closed connection, a client-side protocol error (a terminated backend can leave asyncpg
    mid-operation), a connection or operator-intervention error from the server (SQLSTATE classes
    08 and 57)."""
    import asyncpg

    try:
        if held.connection is None or held.connection.is_closed():
            return True
    except Exception:  # noqa: BLE001 - the pool detached it (it saw the connection go): broken
        return True
    if isinstance(error, asyncpg.PostgresError):
        return str(getattr(error, "sqlstate", "") or "")[:2] in ("08", "57")
    return True  # OSError, InterfaceError, InternalClientError and the like


async def _give_back(client: Any) -> None:
    held = _held.pop(client, None)
    if held is not None and held.connection is not None:
        try:
            await client._pool.release(held.connection)
        except Exception:
            log.debug("releasing the kept connection failed", exc_info=True)


async def close_inline_connections() -> None:
    """Give every kept PostgreSQL connection back to its pool and close every inline SQLite connection
    (before the database clients are closed). Any still needed are opened again on their next use."""
    for client in list(_held):
        await _give_back(client)
    for client in list(_inline):
        _close_all(_inline.pop(client))


#: Each SQLite client's inline connections, by ``(thread, "read" | "write")``.
_inline: weakref.WeakKeyDictionary[Any, dict[tuple[int, str], sqlite3.Connection]] = (
    weakref.WeakKeyDictionary()
)


def _inline_reader(client: Any) -> sqlite3.Connection | None:
    """This thread's read-only connection to ``client``'s database file; ``None`` inside a
    transaction, before the client has connected, or for an in-memory database."""
    return _inline_connection(client, "read")


def _inline_connection(client: Any, purpose: str) -> sqlite3.Connection | None:
    if isinstance(client, TransactionalDBClient) or getattr(client, "_connection", None) is None:
        return None
    try:
        connections = _inline[client]
    except KeyError:
        filename = str(client.filename)
        if filename == ":memory:" or "mode=memory" in filename:
            return None
        connections = _inline[client] = {}
        weakref.finalize(client, _close_all, connections)
    key = (threading.get_ident(), purpose)
    connection = connections.get(key)
    if connection is None:
        connection = sqlite3.connect(client.filename, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA busy_timeout = 0")  # never block the event loop: fall back instead
        if purpose == "read":
            connection.execute("PRAGMA query_only = ON")
        else:
            for pragma in ("foreign_keys", "synchronous"):
                if pragma in client.pragmas:
                    connection.execute(f"PRAGMA {pragma} = {client.pragmas[pragma]}")
            # Checkpoints copy the log into the database file and sync it: never in the event loop
            # (see _checkpoint_when_due).
            connection.execute("PRAGMA wal_autocheckpoint = 0")
        connections[key] = connection
    return connection


def _close_all(connections: dict[tuple[int, str], sqlite3.Connection]) -> None:
    for connection in connections.values():
        connection.close()
    connections.clear()


async def insert_inline(*instances: Any) -> bool:
    """Insert new model instances of one database at once, without the ORM's round trips.

    For the busiest writes (a new chat and its messages). On SQLite the rows are written in one
    transaction inside the event loop, when SQLite's write lock is free (``BEGIN IMMEDIATE`` never
    waits here): four hops to aiosqlite's thread and back cost more than the writing. On PostgreSQL
    they go in one statement (one ``INSERT ... SELECT FROM unnest(...)`` per table, chained in a
    ``WITH``), one round trip instead of a transaction's four. It does nothing and says so inside a
    transaction, for a column left to a database default, or while another SQLite connection
    writes: the caller then takes the ORM's path. Keep it to a bounded number of rows.

    :return: Whether the instances were inserted (each is then marked saved, as ``save`` would).
    :raises tortoise.exceptions.IntegrityError: As the ORM would; nothing is written then.
    """
    if not instances:
        return True
    client = type(instances[0])._meta.db
    dialect = client.capabilities.dialect
    if dialect not in ("sqlite", "postgres") or isinstance(client, TransactionalDBClient):
        return False
    groups: list[tuple[Any, Any, list[list[Any]]]] = []
    for model, group in itertools.groupby(instances, key=type):
        executor = client.executor_class(model=model, db=client)
        columns = executor.regular_columns
        rows = []
        for instance in group:
            if instance._custom_generated_pk or executor._has_db_default_values(instance, columns):
                return False
            fields = model._meta.fields_map
            rows.append([fields[name].to_db_value(getattr(instance, name), instance) for name in columns])
        groups.append((model, executor, rows))
    if dialect == "postgres":
        if not await _insert_on_postgres(client, groups):
            return False
    elif not _insert_on_sqlite(client, groups):
        return False
    for instance in instances:
        instance._saved_in_db = True
    return True


def _insert_on_sqlite(client: Any, groups: list[tuple[Any, Any, list[list[Any]]]]) -> bool:
    writer = _inline_connection(client, "write")
    if writer is None:
        return False
    try:
        writer.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False  # another connection is writing: take the usual path, which waits
    try:
        for _model, executor, rows in groups:
            writer.executemany(executor.insert_query, rows)
        writer.execute("COMMIT")
    except BaseException as error:
        writer.execute("ROLLBACK")
        if isinstance(error, sqlite3.IntegrityError):
            from tortoise.exceptions import IntegrityError

            raise IntegrityError(error) from error
        if isinstance(error, sqlite3.OperationalError):
            log.info("an inline insert gave way (%s): the ORM's path takes it", error)
            return False  # busy or locked after all: nothing was written
        raise
    _checkpoint_when_due(client)
    return True


async def _insert_on_postgres(client: Any, groups: list[tuple[Any, Any, list[list[Any]]]]) -> bool:
    if getattr(client, "_pool", None) is None:
        return False
    sql = _postgres_insert(tuple((model, tuple(executor.regular_columns)) for model, executor, _ in groups))
    params = [list(column) for _model, _executor, rows in groups for column in zip(*rows, strict=True)]
    import asyncpg

    held = _held.get(client)
    try:
        if held is not None and not held.busy and held.connection is not None:
            held.busy = True
            try:
                await held.connection.execute(sql, *params)
            except Exception as error:
                if not _broken(error, held):  # a constraint broken, say (SQLSTATE class 23)
                    raise
                log.info("the kept database connection failed (%s): the ORM's path takes the insert", error)
                await _give_back(client)
                return False
            finally:
                held.busy = False
        else:
            async with client._pool.acquire() as connection:
                await connection.execute(sql, *params)
    except asyncpg.IntegrityConstraintViolationError as error:
        from tortoise.exceptions import IntegrityError

        raise IntegrityError(error) from error
    return True


_postgres_inserts: dict[tuple[Any, ...], str] = {}


def _postgres_insert(tables: tuple[tuple[Any, tuple[str, ...]], ...]) -> str:
    """One statement inserting rows into each table, every column given as an array parameter."""
    sql = _postgres_inserts.get(tables)
    if sql is not None:
        return sql
    numbers = itertools.count(1)
    inserts = []
    for model, columns in tables:
        meta = model._meta
        names = ", ".join(f'"{meta.fields_db_projection[name]}"' for name in columns)
        arrays = ", ".join(
            f"${next(numbers)}::{meta.fields_map[name].get_for_dialect('postgres', 'SQL_TYPE')}[]"
            for name in columns
        )
        inserts.append(f'INSERT INTO "{meta.db_table}" ({names}) SELECT * FROM unnest({arrays})')
    *first, last = inserts
    chained = ", ".join(f"step{index} AS ({insert})" for index, insert in enumerate(first))
    sql = _postgres_inserts[tables] = f"WITH {chained} {last}" if first else last
    return sql


#: Inline commits between two looks at the size of the write-ahead log.
CHECKPOINT_EVERY = 128
#: Log size (bytes) from which it is copied into the database (SQLite's own default: 1,000 pages).
CHECKPOINT_SIZE = 4 * 1024 * 1024
_commits: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
_checkpoints: set[Any] = set()


def _checkpoint_when_due(client: Any) -> None:
    """Every ``CHECKPOINT_EVERY`` inline commits, start a checkpoint in aiosqlite's thread when the
    log has grown past ``CHECKPOINT_SIZE`` (inline connections never checkpoint themselves)."""
    count = _commits[client] = _commits.get(client, 0) + 1
    if count % CHECKPOINT_EVERY:
        return
    try:
        size = os.stat(f"{client.filename}-wal").st_size
    except OSError:
        return
    if size >= CHECKPOINT_SIZE:
        task = asyncio.get_running_loop().create_task(client.execute_script("PRAGMA wal_checkpoint(PASSIVE)"))
        _checkpoints.add(task)
        task.add_done_callback(_checkpoint_done)


def _checkpoint_done(task: asyncio.Task[Any]) -> None:
    _checkpoints.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("checkpoint of the write-ahead log failed: %s", task.exception())


def as_bool(value: Any) -> bool | None:
    """A boolean column's value as Python's ``bool`` (SQLite stores 0 and 1)."""
    return None if value is None else bool(value)
