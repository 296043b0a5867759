"""Hand-written statements (``colonnade.rawsql``): the same rows inline and through the driver, and
an inline read never bypasses a transaction it runs in."""

from __future__ import annotations

import pytest
import pytest_asyncio
from tortoise.transactions import in_transaction

from colonnade import db
from colonnade.app import create_app
from colonnade.rawsql import Statement, _inline_reader, fetch_all, fetch_one

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
