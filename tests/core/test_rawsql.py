"""Hand-written statements (``colonnade.rawsql``): the same rows inline and through the driver, an
inline read never bypasses a transaction it runs in, and inline inserts write what the ORM would,
step aside for another writer and leave nothing behind on failure."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
import pytest_asyncio
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from colonnade import db, rawsql
from colonnade.app import create_app
from colonnade.rawsql import Statement, _inline_reader, fetch_all, fetch_one, insert_inline

USER = Statement("SELECT id, email, active FROM auth_user WHERE email = ?")
RENAME = Statement("UPDATE auth_user SET name = ? WHERE email = ?")
NAME = Statement("SELECT name FROM auth_user WHERE email = ?")


@pytest_asyncio.fixture
async def host(settings):
    app = create_app(settings)
    async with app.test_app():
        host = app.extensions["colonnade"]
        await host.state("auth").service.create_user(
            email="row@example.test", name="Row", password=None, role="user"
        )
        yield host
    if settings.database.schema_name:
        await db.drop_postgres_schema(settings)


@pytest.mark.asyncio
async def test_inline_and_driver_reads_give_the_same_rows(host):
    from colonnade.auth.models import User

    inline = await fetch_all(User, USER, ["row@example.test"], inline=True)
    driven = await fetch_all(User, USER, ["row@example.test"])
    assert inline == driven
    assert len(inline) == 1 and inline[0]["email"] == "row@example.test"
    assert await fetch_one(User, USER, ["nobody@example.test"], inline=True) is None


@pytest.mark.asyncio
async def test_an_inline_read_sees_what_was_just_committed(host):
    from colonnade.auth.models import User

    await User.filter(email="row@example.test").update(name="Renamed")
    assert (await fetch_one(User, NAME, ["row@example.test"], inline=True))["name"] == "Renamed"


@pytest.mark.asyncio
async def test_inside_a_transaction_an_inline_read_goes_through_it(host):
    from colonnade.auth.models import User

    async with in_transaction(User._meta.default_connection):
        await User.filter(email="row@example.test").update(name="Uncommitted")
        # The transaction's own write is visible: the read did not go to another connection.
        assert (await fetch_one(User, NAME, ["row@example.test"], inline=True))["name"] == "Uncommitted"
        assert _inline_reader(User._meta.db) is None


@pytest.mark.asyncio
async def test_sqlite_reads_inline_on_a_connection_of_its_own(host):
    from colonnade.auth.models import User

    client = User._meta.db
    reader = _inline_reader(client)
    if client.capabilities.dialect != "sqlite":
        pytest.skip("PostgreSQL reads go through its pool")
    assert reader is not None and reader is _inline_reader(client)
    with pytest.raises(Exception, match="readonly"):
        reader.execute("DELETE FROM auth_user")
    assert await User.all().count() == 1


def _sqlite_only(client) -> None:
    if client.capabilities.dialect != "sqlite":
        pytest.skip("the write lock and the checkpoints are SQLite's")


@pytest.mark.asyncio
async def test_insert_inline_writes_rows_as_the_orm_would(host):
    from colonnade.auth.models import User

    first = User(email="a@example.test", name="A", settings={"ui": {"memory": True}}, active=False)
    second = User(email="b@example.test", name="B")
    assert await insert_inline(first, second) is True
    assert first._saved_in_db
    stored = await User.get(email="a@example.test")
    assert (stored.id, stored.settings, stored.active, stored.role) == (
        first.id,
        {"ui": {"memory": True}},
        False,
        "pending",
    )
    first.name = "Renamed"
    await first.save()  # an update now, not a second insert
    assert (await User.get(id=first.id)).name == "Renamed"
    assert await User.all().count() == 3


@pytest.mark.asyncio
async def test_insert_inline_steps_aside_while_another_connection_writes(host):
    from colonnade.auth.models import User

    client = User._meta.db
    _sqlite_only(client)
    other = sqlite3.connect(client.filename, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        assert await insert_inline(User(email="c@example.test", name="C")) is False
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert await User.filter(email="c@example.test").count() == 0
    assert await insert_inline(User(email="c@example.test", name="C")) is True


@pytest.mark.asyncio
async def test_insert_inline_writes_nothing_when_a_row_breaks_a_constraint(host):
    from colonnade.auth.models import User

    with pytest.raises(IntegrityError):
        await insert_inline(
            User(email="d@example.test", name="D"), User(email="row@example.test", name="Dup")
        )
    assert await User.filter(email="d@example.test").count() == 0
    # The inline connection is usable again afterwards (no transaction left open).
    assert await insert_inline(User(email="d@example.test", name="D")) is True


@pytest.mark.asyncio
async def test_inline_writes_have_the_log_checkpointed_off_the_event_loop(host, monkeypatch):
    from colonnade.auth.models import User

    _sqlite_only(User._meta.db)
    monkeypatch.setattr(rawsql, "CHECKPOINT_EVERY", 1)
    monkeypatch.setattr(rawsql, "CHECKPOINT_SIZE", 0)
    assert await insert_inline(User(email="e@example.test", name="E")) is True
    pending = list(rawsql._checkpoints)
    assert pending, "a checkpoint was started"
    await asyncio.gather(*pending)
    assert all(task.exception() is None for task in pending)


BACKEND = Statement("SELECT pg_backend_pid() AS pid")


def _postgres_only(client) -> None:
    if client.capabilities.dialect != "postgres":
        pytest.skip("the kept connection is PostgreSQL's")


@pytest.mark.asyncio
async def test_inline_reads_on_postgres_share_one_kept_connection(host):
    from colonnade.auth.models import User

    _postgres_only(User._meta.db)
    first = await fetch_one(User, BACKEND, [], inline=True)
    second = await fetch_one(User, BACKEND, [], inline=True)
    assert first == second


@pytest.mark.asyncio
async def test_an_inline_read_takes_the_pool_while_the_kept_connection_is_busy(host):
    from colonnade.auth.models import User

    client = User._meta.db
    _postgres_only(client)
    kept = (await fetch_one(User, BACKEND, [], inline=True))["pid"]
    rawsql._held[client].busy = True  # another request is using it
    try:
        assert (await fetch_one(User, BACKEND, [], inline=True))["pid"] != kept
    finally:
        rawsql._held[client].busy = False
    assert (await fetch_one(User, BACKEND, [], inline=True))["pid"] == kept


@pytest.mark.asyncio
async def test_a_kept_connection_that_dies_is_replaced(host):
    from colonnade.auth.models import User

    client = User._meta.db
    _postgres_only(client)
    kept = (await fetch_one(User, BACKEND, [], inline=True))["pid"]
    # Returns once the backend has ended (PostgreSQL 14 and later wait up to the timeout given, in ms).
    await client.execute_query_dict("SELECT pg_terminate_backend($1, 10000)", [kept])
    # The read that finds it dead is answered through the pool; the next one keeps a new connection.
    assert (await fetch_one(User, USER, ["row@example.test"], inline=True))["email"] == "row@example.test"
    assert (await fetch_one(User, BACKEND, [], inline=True))["pid"] != kept


@pytest.mark.asyncio
async def test_insert_inline_writes_rows_of_several_tables_in_one_go(host):
    from colonnade.auth.models import ApiKey, User

    owner = User(email="k@example.test", name="K")
    keys = [
        ApiKey(user_id=owner.id, key_hash=f"{index:064x}", prefix="sk-x", name=f"key {index}")
        for index in range(3)
    ]
    assert await insert_inline(owner, *keys) is True
    stored = await ApiKey.filter(user_id=owner.id).order_by("name").values_list("name", "key_hash")
    assert stored == [(f"key {index}", f"{index:064x}") for index in range(3)]
    # A key whose owner is missing breaks the foreign key: neither row is written.
    orphan = User(email="o@example.test", name="O")
    with pytest.raises(IntegrityError):
        await insert_inline(ApiKey(user_id="no-such-user", key_hash="f" * 64, prefix="sk-y"), orphan)
    assert await User.filter(email="o@example.test").count() == 0


@pytest.mark.asyncio
async def test_an_insert_on_a_kept_connection_that_died_is_left_to_the_orm(host):
    from colonnade.auth.models import User

    client = User._meta.db
    _postgres_only(client)
    kept = (await fetch_one(User, BACKEND, [], inline=True))["pid"]
    await client.execute_query_dict("SELECT pg_terminate_backend($1, 10000)", [kept])

    assert await insert_inline(User(email="late@example.test", name="Late")) is False
    assert await User.filter(email="late@example.test").count() == 0
    assert await insert_inline(User(email="late@example.test", name="Late")) is True  # through the pool


@pytest.mark.asyncio
async def test_closing_the_database_closes_the_inline_connections(settings):
    from colonnade.auth.models import User

    app = create_app(settings)
    async with app.test_app():
        await fetch_one(User, USER, ["nobody@example.test"], inline=True)
        client = User._meta.db
        opened = dict(rawsql._inline.get(client, {}))
        held = rawsql._held.get(client)
    # After the application stopped: SQLite's inline connections are closed, PostgreSQL's kept one is
    # back in its (now closed) pool.
    for connection in opened.values():
        with pytest.raises(sqlite3.ProgrammingError):
            connection.execute("SELECT 1")
    assert client not in rawsql._inline and client not in rawsql._held
    assert opened or held is not None
    if settings.database.schema_name:
        await db.drop_postgres_schema(settings)
