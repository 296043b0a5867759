"""Callers remembered between requests on PostgreSQL (``colonnade.auth.remembered``).

A change made behind the worker's back (another worker, the CLI, psql) is played by a second asyncpg
connection to the test's schema; the test then waits for PostgreSQL's notification to reach the
worker (``next_notice``), as another worker's request would, and checks the very next request.
Changes made through this worker's own routes must be seen at once, without waiting for anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

import pytest

from colonnade.auth.models import User
from colonnade.testing import POSTGRES_URL_VARIABLE

pytestmark = pytest.mark.asyncio

ME = "/api/v1/auths/"
ADMIN_ONLY = "/api/v1/users/"
NOTICE_TIMEOUT = 10  # a guard only: notifications arrive within milliseconds


def service_of(app):
    return app.extensions["colonnade"].state("auth").service


def postgres_only(database_backend: str) -> None:
    if database_backend != "postgres":
        pytest.skip("callers are remembered on PostgreSQL only")


@contextlib.asynccontextmanager
async def elsewhere(app):
    """A connection of another worker (or of psql) to the app's database and schema."""
    import asyncpg

    schema = app.extensions["colonnade"].settings.database.schema_name
    connection = await asyncpg.connect(
        os.environ[POSTGRES_URL_VARIABLE], server_settings={"search_path": schema}
    )
    try:
        yield connection
    finally:
        await connection.close()


async def change_elsewhere(app, sql: str, *args) -> str:
    """Run ``sql`` on another connection and wait until the worker has heard of it."""
    notice = service_of(app).remembered.next_notice()
    async with elsewhere(app) as connection:
        await connection.execute(sql, *args)
    return await asyncio.wait_for(notice, NOTICE_TIMEOUT)


async def promote_quietly(app, user_id: str) -> None:
    """Make the user an admin without the notification (the trigger disabled meanwhile)."""
    async with elsewhere(app) as connection:
        await connection.execute("ALTER TABLE auth_user DISABLE TRIGGER auth_user_notify")
        await connection.execute("UPDATE auth_user SET role = 'admin' WHERE id = $1", user_id)
        await connection.execute("ALTER TABLE auth_user ENABLE TRIGGER auth_user_notify")


async def signed_in(app, auth_headers, role="user"):
    headers = await auth_headers(app, role=role)
    client = app.test_client(use_cookies=False)
    response = await client.get(ME, headers=headers)
    assert response.status_code == 200
    return client, headers, (await response.get_json())["id"]


async def test_on_sqlite_nothing_is_remembered(app, auth_headers, database_backend):
    if database_backend != "sqlite":
        pytest.skip("the SQLite case")
    client, headers, _ = await signed_in(app, auth_headers)
    assert (await client.get(ME, headers=headers)).status_code == 200
    assert len(service_of(app).remembered) == 0
    assert not service_of(app).remembered.listening


async def test_a_remembered_caller_is_not_looked_up_again(app, auth_headers, database_backend):
    postgres_only(database_backend)
    client, headers, user_id = await signed_in(app, auth_headers)
    assert len(service_of(app).remembered) == 1
    # Behind the triggers' back (which nothing but this test can do), the user becomes an admin: a
    # worker that remembered the caller still sees a user.
    await promote_quietly(app, user_id)
    assert (await client.get(ADMIN_ONLY, headers=headers)).status_code == 403


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE auth_user SET active = false WHERE id = $1",
        "UPDATE auth_user SET session_stamp = 'rotated' WHERE id = $1",
        "DELETE FROM auth_user WHERE id = $1",
    ],
    ids=["deactivated", "sessions-revoked", "deleted"],
)
async def test_a_change_made_elsewhere_ends_the_session(app, auth_headers, database_backend, sql):
    postgres_only(database_backend)
    client, headers, user_id = await signed_in(app, auth_headers)
    assert await change_elsewhere(app, sql, user_id) == f"user:{user_id}"
    assert (await client.get(ME, headers=headers)).status_code == 401


async def test_a_role_changed_elsewhere_is_seen(app, auth_headers, database_backend):
    postgres_only(database_backend)
    client, headers, user_id = await signed_in(app, auth_headers, role="user")
    assert (await client.get(ADMIN_ONLY, headers=headers)).status_code == 403
    await change_elsewhere(app, "UPDATE auth_user SET role = 'admin' WHERE id = $1", user_id)
    assert (await client.get(ADMIN_ONLY, headers=headers)).status_code == 200


async def test_a_token_revoked_elsewhere_stops_working(app, auth_headers, database_backend):
    postgres_only(database_backend)
    client, headers, _ = await signed_in(app, auth_headers)
    jti = next(iter(service_of(app).remembered._entries)).removeprefix("jti:")
    notice = await change_elsewhere(
        app, "INSERT INTO auth_revoked_token (jti, expires_at) VALUES ($1, 4102444800)", jti
    )
    assert notice == f"jti:{jti}"
    assert (await client.get(ME, headers=headers)).status_code == 401


async def test_a_truncated_table_forgets_everyone(app, auth_headers, database_backend):
    postgres_only(database_backend)
    await signed_in(app, auth_headers)
    await signed_in(app, auth_headers)
    assert len(service_of(app).remembered) == 2
    assert await change_elsewhere(app, "TRUNCATE auth_revoked_token") == "all"
    assert len(service_of(app).remembered) == 0


async def test_an_api_key_deleted_elsewhere_stops_working(app, auth_headers, database_backend):
    postgres_only(database_backend)
    client, headers, user_id = await signed_in(app, auth_headers)
    key = (await (await client.post("/api/v1/auths/api_key", headers=headers)).get_json())["api_key"]
    key_headers = {"Authorization": f"Bearer {key}"}
    assert (await client.get(f"/api/users/{user_id}", headers=key_headers)).status_code == 200
    await change_elsewhere(app, "DELETE FROM auth_api_key WHERE user_id = $1", user_id)
    assert (await client.get(f"/api/users/{user_id}", headers=key_headers)).status_code == 401


# -- this worker's own changes: seen by the very next request ------------------------------------


async def test_signing_out_ends_the_session_at_once(app, auth_headers, database_backend):
    client, headers, _ = await signed_in(app, auth_headers)
    assert (await client.post("/api/v1/auths/signout", headers=headers)).status_code == 200
    assert (await client.get(ME, headers=headers)).status_code == 401


async def test_an_admin_deactivating_a_user_ends_their_session_at_once(app, auth_headers, database_backend):
    client, headers, user_id = await signed_in(app, auth_headers)
    admin = await auth_headers(app, role="admin")
    response = await client.post(f"/api/v1/users/{user_id}/update", headers=admin, json={"role": "pending"})
    assert response.status_code == 200, await response.get_data()
    assert (await (await client.get(ME, headers=headers)).get_json())["role"] == "pending"
    assert (await client.delete(f"/api/v1/users/{user_id}", headers=admin)).status_code == 200
    assert (await client.get(ME, headers=headers)).status_code == 401


async def test_a_replaced_api_key_stops_working_at_once(app, auth_headers, database_backend):
    client, headers, user_id = await signed_in(app, auth_headers)
    own = f"/api/users/{user_id}"
    old = (await (await client.post("/api/v1/auths/api_key", headers=headers)).get_json())["api_key"]
    assert (await client.get(own, headers={"Authorization": f"Bearer {old}"})).status_code == 200
    new = (await (await client.post("/api/v1/auths/api_key", headers=headers)).get_json())["api_key"]
    assert (await client.get(own, headers={"Authorization": f"Bearer {old}"})).status_code == 401
    assert (await client.get(own, headers={"Authorization": f"Bearer {new}"})).status_code == 200
    assert (await client.delete("/api/v1/auths/api_key", headers=headers)).status_code == 200
    assert (await client.get(own, headers={"Authorization": f"Bearer {new}"})).status_code == 401


# -- the listening connection --------------------------------------------------------------------


async def test_a_lookup_that_raced_a_notice_is_not_remembered(app, auth_headers, database_backend):
    postgres_only(database_backend)
    remembered = service_of(app).remembered
    started = remembered.lookup_started()
    assert started is not None
    remembered.forget_user("someone else")  # a notice arrives while the lookup is on its way
    remembered.remember("jti:raced", "someone", {"id": "someone"}, started)
    assert remembered.recall("jti:raced") is None
    remembered.remember("jti:raced", "someone", {"id": "someone"}, remembered.lookup_started())
    assert remembered.recall("jti:raced") == {"id": "someone"}


async def test_a_lost_listening_connection_remembers_nothing_until_it_is_back(
    app, auth_headers, database_backend
):
    postgres_only(database_backend)
    remembered = service_of(app).remembered
    client, headers, user_id = await signed_in(app, auth_headers)
    listener_pid = remembered._connection.get_server_pid()
    notice = remembered.next_notice()
    async with elsewhere(app) as connection:
        await connection.execute("SELECT pg_terminate_backend($1)", listener_pid)
    assert await asyncio.wait_for(notice, NOTICE_TIMEOUT) == "lost"
    assert not remembered.listening and len(remembered) == 0

    # The first lookup without a listener starts listening again; while it does, nothing is kept,
    # so a change no one could hear of is still seen.
    await promote_quietly(app, user_id)
    assert (await client.get(ADMIN_ONLY, headers=headers)).status_code == 200
    assert len(remembered) == 0
    if remembered.reconnecting is not None:  # else it is already back
        await asyncio.wait_for(remembered.reconnecting, NOTICE_TIMEOUT)
    assert remembered.listening and remembered._connection.get_server_pid() != listener_pid
    assert (await client.get(ME, headers=headers)).status_code == 200
    assert len(remembered) == 1
    await change_elsewhere(app, "UPDATE auth_user SET active = false WHERE id = $1", user_id)
    assert (await client.get(ME, headers=headers)).status_code == 401


async def test_without_the_triggers_nothing_is_remembered(app, database_backend):
    postgres_only(database_backend)
    from colonnade.auth.remembered import RememberedCallers

    async with elsewhere(app) as connection:
        await connection.execute("DROP TRIGGER auth_api_key_notify ON auth_api_key")
    remembered = RememberedCallers()
    try:
        assert await remembered.listen(User._meta.db) is False
        assert not remembered.listening
        assert remembered.lookup_started() is None
    finally:
        await remembered.close()


async def test_remember_callers_false_looks_up_every_time(make_app, auth_headers, database_backend):
    postgres_only(database_backend)
    app = await make_app({"auth": {"remember_callers": False}})
    client, headers, _ = await signed_in(app, auth_headers)
    assert (await client.get(ME, headers=headers)).status_code == 200
    assert not service_of(app).remembered.listening and len(service_of(app).remembered) == 0


async def test_own_changes_are_forgotten_without_waiting_for_the_notification(
    app, auth_headers, database_backend
):
    """The ORM's signals, not PostgreSQL's notices, make this worker's own changes seen at once."""
    postgres_only(database_backend)
    from colonnade.auth.remembered import CHANNEL

    remembered = service_of(app).remembered
    connection = remembered._connection
    schema = app.extensions["colonnade"].settings.database.schema_name
    await connection.remove_listener(f"{CHANNEL}.{schema}", remembered._heard)  # deaf from now on
    client, headers, user_id = await signed_in(app, auth_headers)
    admin = await auth_headers(app, role="admin")
    response = await client.post(f"/api/v1/users/{user_id}/update", headers=admin, json={"role": "admin"})
    assert response.status_code == 200
    assert (await client.get(ADMIN_ONLY, headers=headers)).status_code == 200
    assert (await client.post("/api/v1/auths/signout", headers=headers)).status_code == 200
    assert (await client.get(ME, headers=headers)).status_code == 401
