"""Callers remembered between requests on PostgreSQL, forgotten as soon as the database says they changed.

Every authenticated request needs the account behind its credential: role, email, name, whether it is
active, its session stamp, whether the token was revoked. On SQLite that lookup runs inline in tens of
microseconds (:mod:`colonnade.rawsql`); on PostgreSQL it is a round trip, and the event loop going idle
and waking up again for it costs more than the query. So on PostgreSQL each worker remembers the rows
it looked up, and PostgreSQL itself says when to forget them:

- Triggers (the ``auth`` app's migration 0002) call ``pg_notify`` whenever a row of ``auth_user``,
  ``auth_api_key`` or ``auth_revoked_token`` changes, whoever changes it: this worker, another one,
  ``colonnade`` commands, ``psql``. The payload names the user (``user:<id>``) or the revoked token
  (``jti:<id>``); ``TRUNCATE`` says ``all``.
- Each worker listens on a connection of its own and forgets what a notification names the moment it
  arrives: a change made anywhere is seen by every worker about a millisecond after it commits.
- This worker's own changes through the ORM (``save``, ``delete``, :class:`AuthService`'s methods) are
  forgotten at once, before the request that made them answers.
- Nothing is remembered while the listening connection is down (it is opened again on a later
  lookup), nor for longer than :data:`MAX_AGE` seconds, nor beyond :data:`CAPACITY` entries.

A row looked up while a notification was on its way could be stale; it is not remembered when any
notification arrived between the start of its lookup and its end (:meth:`RememberedCallers.lookup_started`).
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import Any

log = logging.getLogger("colonnade.auth")

#: The channel's name; the schema is appended (``colonnade_auth.<schema>``) so that two deployments
#: sharing one database in different schemas do not hear each other.
CHANNEL = "colonnade_auth"
#: Entries kept at most, per worker; the oldest go first.
CAPACITY = 10_000
#: Seconds an entry is trusted at most, notifications or not.
MAX_AGE = 300.0
#: Seconds between attempts to listen again after the listening connection was lost.
RETRY_INTERVAL = 1.0
#: The triggers of migration 0002, as ``(table, trigger)``; without all of them nothing is remembered.
TRIGGERS = tuple(
    (table, f"{table}_notify{suffix}")
    for table in ("auth_user", "auth_api_key", "auth_revoked_token")
    for suffix in ("", "_truncate")
)

#: Every live instance, for the ORM signal handlers (one per application; tests build many).
_live: weakref.WeakSet[RememberedCallers] = weakref.WeakSet()


def session_key(jti: str) -> str:
    """What a session token's row is remembered under."""
    return f"jti:{jti}"


def api_key_key(key_hash: str) -> str:
    """What an API key's row is remembered under."""
    return f"key:{key_hash}"


class RememberedCallers:
    """The rows behind credentials, by key (:func:`session_key`, :func:`api_key_key`)."""

    def __init__(self) -> None:
        #: key -> (when remembered, user id, row)
        self._entries: dict[str, tuple[float, str, dict[str, Any]]] = {}
        self._keys_of_user: dict[str, set[str]] = {}
        #: Counts notifications (and local changes): a lookup that saw it change is not remembered.
        self._generation = 0
        self._connection: Any = None
        self._connect: Any = None  # how to open the listening connection again
        self._retry_after = 0.0
        #: The task opening the listening connection again, while one runs.
        self.reconnecting: Any = None
        self.closed = False
        self._notice_waiters: list[Any] = []
        _live.add(self)

    @property
    def listening(self) -> bool:
        return self._connection is not None

    # -- lookups ---------------------------------------------------------------------------------

    def recall(self, key: str) -> dict[str, Any] | None:
        """The row remembered under ``key``, or ``None``."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if time.monotonic() - entry[0] > MAX_AGE:
            self._forget_key(key)
            return None
        return entry[2]

    def lookup_started(self) -> int | None:
        """Call before looking a row up; pass the result to :meth:`remember`. ``None`` when rows
        cannot be remembered now (not listening)."""
        if self._connection is None:
            self._listen_again()
            return None
        return self._generation

    def remember(self, key: str, user_id: str, row: dict[str, Any], started: int | None) -> None:
        """Keep ``row`` unless a change was heard since its lookup started."""
        if started is None or started != self._generation or self._connection is None:
            return
        if len(self._entries) >= CAPACITY:
            self._forget_key(next(iter(self._entries)))
        self._entries[key] = (time.monotonic(), user_id, row)
        self._keys_of_user.setdefault(user_id, set()).add(key)

    # -- forgetting ------------------------------------------------------------------------------

    def forget_user(self, user_id: str) -> None:
        self._generation += 1
        for key in self._keys_of_user.pop(user_id, ()):
            self._entries.pop(key, None)

    def forget_key(self, key: str) -> None:
        self._generation += 1
        self._forget_key(key)

    def forget_all(self) -> None:
        self._generation += 1
        self._entries.clear()
        self._keys_of_user.clear()

    def _forget_key(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            keys = self._keys_of_user.get(entry[1])
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._keys_of_user[entry[1]]

    def __len__(self) -> int:
        return len(self._entries)

    # -- listening -------------------------------------------------------------------------------

    async def listen(self, client: Any) -> bool:
        """Start listening through a connection of its own to ``client``'s PostgreSQL database.

        :param client: Tortoise's asyncpg client of the ``auth`` app.
        :return: Whether rows will be remembered: ``False`` when the triggers are missing or the
            connection failed (then every lookup goes to the database, as on SQLite).
        """
        import asyncpg

        async def connect() -> Any:
            return await asyncpg.connect(
                host=client.host,
                port=client.port,
                user=client.user,
                password=client.password,
                database=client.database,
                server_settings=dict(client.server_settings),
                **{name: value for name, value in client.extra.items() if name in _CONNECT_OPTIONS},
            )

        self._connect = connect
        return await self._open()

    async def _open(self) -> bool:
        if self.closed or self._connect is None:
            return False
        try:
            connection = await self._connect()
        except Exception as error:  # noqa: BLE001 - the database answers the lookups meanwhile
            log.warning(
                "cannot listen for changes to accounts (%s): callers are looked up on every request", error
            )
            self._retry_after = time.monotonic() + RETRY_INTERVAL
            return False
        try:
            schema = await connection.fetchval("SELECT current_schema()")
            found = await connection.fetch(
                "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND NOT t.tgisinternal"
            )
            if not set(TRIGGERS) <= {(row["relname"], row["tgname"]) for row in found}:
                log.warning(
                    "the auth triggers of migration 0002 are missing in schema %s: "
                    "callers are looked up on every request",
                    schema,
                )
                await connection.close()
                self._connect = None
                return False
            await connection.add_listener(f"{CHANNEL}.{schema}", self._heard)
            connection.add_termination_listener(self._lost)
        except Exception as error:  # noqa: BLE001
            log.warning("cannot listen for changes to accounts (%s)", error)
            await connection.close()
            self._retry_after = time.monotonic() + RETRY_INTERVAL
            return False
        if self.closed:
            await connection.close()
            return False
        # Anything may have changed while nobody listened.
        self.forget_all()
        self._connection = connection
        return True

    def _listen_again(self) -> None:
        if self.reconnecting is not None or self._connect is None or self.closed:
            return
        if time.monotonic() < self._retry_after:
            return
        import asyncio

        self._retry_after = time.monotonic() + RETRY_INTERVAL

        async def reopen() -> None:
            try:
                await self._open()
            finally:
                self.reconnecting = None

        self.reconnecting = asyncio.get_running_loop().create_task(reopen())

    def next_notice(self) -> Any:
        """A future resolved with the next notification's payload (``"lost"`` when the listening
        connection goes first): for tests that change accounts behind this worker's back."""
        import asyncio

        waiter = asyncio.get_running_loop().create_future()
        self._notice_waiters.append(waiter)
        return waiter

    def _heard(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        kind, _, value = payload.partition(":")
        if kind == "user":
            self.forget_user(value)
        elif kind == "jti":
            self.forget_key(session_key(value))
        else:
            self.forget_all()
        self._tell_waiters(payload)

    def _lost(self, connection: Any) -> None:
        if connection is self._connection:
            log.warning("the connection listening for changes to accounts was lost; listening again")
            self._connection = None
            self.forget_all()
            self._tell_waiters("lost")

    def _tell_waiters(self, payload: str) -> None:
        waiters, self._notice_waiters = self._notice_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(payload)

    async def close(self) -> None:
        self.closed = True
        connection, self._connection = self._connection, None
        self.forget_all()
        if self.reconnecting is not None:
            self.reconnecting.cancel()
        if connection is not None:
            try:
                await connection.close()
            except Exception:  # closing is best effort
                log.debug("closing the listening connection failed", exc_info=True)


#: ``asyncpg.connect`` options that Tortoise passes through its ``extra`` credentials.
_CONNECT_OPTIONS = frozenset({"ssl", "direct_tls", "timeout", "command_timeout", "statement_cache_size"})


def forget_user_everywhere(user_id: str) -> None:
    """Forget ``user_id``'s rows in every live instance (a change made through the ORM here)."""
    for remembered in list(_live):
        remembered.forget_user(user_id)


def forget_key_everywhere(key: str) -> None:
    for remembered in list(_live):
        remembered.forget_key(key)


_signals_installed = False


def install_orm_signals() -> None:
    """Forget a user as soon as this process saves or deletes its row, an API key or a revocation
    through the ORM, without waiting for PostgreSQL's notification. Idempotent."""
    global _signals_installed
    if _signals_installed:
        return
    from tortoise.signals import post_delete, post_save

    from colonnade.auth.models import ApiKey, RevokedToken, User

    async def user_changed(sender: Any, instance: Any, *args: Any) -> None:
        forget_user_everywhere(instance.id)

    async def api_key_changed(sender: Any, instance: Any, *args: Any) -> None:
        forget_user_everywhere(instance.user_id)

    async def token_revoked(sender: Any, instance: Any, *args: Any) -> None:
        forget_key_everywhere(session_key(instance.jti))

    for model, handler in ((User, user_changed), (ApiKey, api_key_changed), (RevokedToken, token_revoked)):
        post_save(model)(handler)
        post_delete(model)(handler)
    _signals_installed = True
