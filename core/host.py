"""``Host``: the per-application facade handed to every hook.

It is stored at ``app.extensions["colonnade"]``. Plugins reach configuration, per-app state, pooled HTTP
clients, events and permission checks through it, never through module globals.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from colonnade.actors import Action, Actor
from colonnade.calling import await_me_maybe, call_all
from colonnade.errors import StartupError
from colonnade.registry import NamedRegistry, did_you_mean

if TYPE_CHECKING:
    import httpx
    from pydantic import BaseModel
    from quart import Quart

    from colonnade.events import Event
    from colonnade.plugin_manager import ColonnadePluginManager
    from colonnade.settings import Settings

log = logging.getLogger("colonnade")


class Host:
    """Everything a plugin may use of the application.

    :param app: The Quart application (``host.app``), for the rare plugin that truly needs it.
    :param pm: The application's plugin manager.
    :param settings: The validated settings.
    """

    def __init__(self, app: Quart, pm: ColonnadePluginManager, settings: Settings) -> None:
        self.app = app
        self.pm = pm
        self.settings = settings
        self.actions: NamedRegistry[Action] = NamedRegistry("action")
        self.event_classes: tuple[type[Event], ...] = ()
        self._plugin_configs: dict[str, BaseModel] = {}
        self._state: dict[str, SimpleNamespace] = {}
        self._http_clients: dict[str, httpx.AsyncClient] = {}
        self._redis: Any = None
        self._upstreams: dict[str, str] = {}
        #: The exception that stopped the start, if one did (the ASGI lifespan keeps only its text).
        self.startup_error: BaseException | None = None

    # -- configuration ---------------------------------------------------------------------------

    def plugin_config(self, name: str) -> Any:
        """The validated, immutable configuration model of ``[plugins.<name>]``."""
        try:
            return self._plugin_configs[name]
        except KeyError:
            raise KeyError(
                f"no configuration model is registered for plugin {name!r}"
                f"{did_you_mean(name, list(self._plugin_configs))}"
            ) from None

    def upstream_url(self, name: str, default: str | None = None) -> str | None:
        """A base URL overridden for tests through ``create_app(upstreams={name: url})``."""
        return self._upstreams.get(name, default)

    # -- per-app state ---------------------------------------------------------------------------

    def state(self, name: str) -> SimpleNamespace:
        """A namespace for plugin ``name``'s per-application state (never module globals)."""
        return self._state.setdefault(name, SimpleNamespace())

    # -- upstreams -------------------------------------------------------------------------------

    def http_client(self, name: str, **options: Any) -> httpx.AsyncClient:
        """The pooled ``httpx.AsyncClient`` for upstream ``name``; created on first use, closed at shutdown.

        Its connections are made by :class:`colonnade.netbackend.AsyncioBackend` rather than httpcore's
        anyio backend (unless ``transport`` or a proxy is given, which httpx handles as usual).

        :param options: ``httpx.AsyncClient`` arguments, used when the client is first created. A timeout
            is always set (30 s to read, 5 s to connect, unless given).
        """
        client = self._http_clients.get(name)
        if client is None:
            import httpx

            from colonnade.netbackend import UpstreamClient

            options.setdefault("timeout", httpx.Timeout(30.0, connect=5.0))
            options.setdefault("limits", httpx.Limits(max_connections=100, max_keepalive_connections=20))
            client = self._http_clients[name] = UpstreamClient(**options)
        return client

    async def close_http_clients(self) -> None:
        clients, self._http_clients = self._http_clients, {}
        for client in clients.values():
            await client.aclose()

    @property
    def redis(self) -> Any:
        """A shared ``redis.asyncio.Redis`` client when ``[database] redis_url`` is set, else ``None``."""
        url = self.settings.database.redis_url
        if url is None:
            return None
        if self._redis is None:
            import redis.asyncio

            self._redis = redis.asyncio.Redis.from_url(url, decode_responses=True)
        return self._redis

    async def close_redis(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    # -- events ----------------------------------------------------------------------------------

    async def emit(self, event: Event) -> None:
        """Deliver ``event`` to every ``on_event`` implementation; a failing observer is logged."""
        if not isinstance(event, self.event_classes):
            raise TypeError(f"event class {type(event).__name__} is not registered through register_events")
        # One implementation at a time: through pluggy, a sync observer that raises would end the whole
        # call and the observers after it would never see the event.
        impls = [impl for impl in reversed(self.pm.hook.on_event.get_hookimpls()) if not impl.wrapper]
        if self.pm.tracing:
            logging.getLogger("colonnade.trace").warning(
                "hook on_event(host, event) -> %s for %s", [impl.plugin_name for impl in impls], event.name
            )
        for impl in impls:
            if impl.hookwrapper:
                continue
            arguments = {"host": self, "event": event}
            try:
                await await_me_maybe(impl.function(**{name: arguments[name] for name in impl.argnames}))
            except Exception:
                log.exception("on_event observer %r failed for %s", impl.plugin_name, event.name)

    # -- permissions -----------------------------------------------------------------------------

    async def check_permission(self, actor: Actor | None, action: str, resource: Any = None) -> bool:
        """Whether ``actor`` may perform ``action``: any ``False`` denies, any ``True`` allows, else the
        action's ``default_role`` decides."""
        if action not in self.actions:
            raise StartupError(f"permission check for unregistered action {action!r}")
        if actor is None:
            return False
        verdicts = await call_all(
            self.pm.hook.permission_allowed(host=self, actor=actor, action=action, resource=resource)
        )
        if False in verdicts:
            return False
        if True in verdicts:
            return True
        return actor.has_role(self.actions[action].default_role)
