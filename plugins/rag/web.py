"""Fetching a web page for ingestion, without letting users reach what only the server can reach.

A page is fetched with ``GET`` through one pooled client per application whose connections are made
by :class:`GuardedBackend`: it resolves the host itself, refuses the connection when **any** address
the name resolves to is private, loopback, link-local, multicast or otherwise not global (unless
``web_loader_allow_private_addresses`` is on, or the address is in ``web_loader_allowed_networks``),
and then connects to an address it checked, so a name cannot resolve to a public address for the
check and to a private one for the connection. Only ``http`` and ``https`` are fetched; redirects
are followed by hand (at most :data:`MAX_REDIRECTS`), each hop's URL checked again and its
connection guarded like the first. Environment proxies are ignored (a proxy would resolve names
where the guard cannot see). Bodies are read up to a size limit and never buffered beyond it.

Failures are :class:`~colonnade.errors.ApiError` 400s, as Open WebUI answers them, naming the host
but never the URL's credentials or query.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from colonnade.errors import ApiError

if TYPE_CHECKING:
    import httpcore
    import httpx

#: Redirects followed before giving up.
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
HEADERS = {
    "User-Agent": "Mozilla/5.0 (compatible; colonnade-web-loader)",
    "Accept": "text/html,application/xhtml+xml,application/pdf,text/plain;q=0.9,*/*;q=0.5",
}
NAT64 = ipaddress.ip_network("64:ff9b::/96")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(Exception):
    """The host resolves to an address the server does not fetch for its users."""


@dataclass
class AddressPolicy:
    """Which addresses may be connected to (read from the configuration at each connection)."""

    allow_private: bool = False
    allowed_networks: tuple[Network, ...] = ()

    def allows(self, address: Address) -> bool:
        if self.allow_private or any(address in network for network in self.allowed_networks):
            return True
        return is_public(address)


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4, Teredo), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def is_public(address: Address) -> bool:
    """A global unicast address (and, for one that wraps an IPv4 address, that one is too)."""
    inner = embedded_ipv4(address)
    if inner is not None and not is_public(inner):
        return False
    return address.is_global and not address.is_multicast


class GuardedBackend:
    """An httpcore network backend (``httpcore.AsyncNetworkBackend``'s methods) connecting only to
    addresses the policy allows. ``httpcore`` is imported when the first one is made.

    :param policy: Called at each new connection (configuration may change while the client lives).
    """

    def __init__(self, policy: Callable[[], AddressPolicy]) -> None:
        from colonnade.netbackend import AsyncioBackend

        self.policy = policy
        self.inner = AsyncioBackend()

    async def resolve(self, host: str, port: int, timeout: float | None) -> list[str]:
        import httpcore

        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error.strerror or error}") from None
        return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        import httpcore

        addresses = await self.resolve(host, port, timeout)
        policy = self.policy()
        for address in addresses:
            if not policy.allows(ipaddress.ip_address(address)):
                raise BlockedAddress(
                    f"Refusing to fetch from {host}: it resolves to a private, loopback or link-local "
                    "address (set [plugins.rag] web_loader_allow_private_addresses or "
                    "web_loader_allowed_networks to allow it)"
                )
        error: Exception = httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as failed:
                error = failed
        raise error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> Any:
        raise BlockedAddress("Unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def guarded_transport(policy: Callable[[], AddressPolicy]) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections go through :class:`GuardedBackend` (no proxies)."""
    import httpx

    from colonnade.netbackend import asyncio_transport

    limits = httpx.Limits(max_connections=50, max_keepalive_connections=10, keepalive_expiry=5.0)
    return asyncio_transport(trust_env=False, limits=limits, network_backend=GuardedBackend(policy))


def web_client(host: Any) -> httpx.AsyncClient:
    """The application's pooled client for fetching pages (``host.http_client("rag.web")``), made
    on first use."""
    state = host.state("rag")
    client = getattr(state, "web_client", None)
    if client is not None and not client.is_closed:
        return client

    def policy() -> AddressPolicy:
        config = host.plugin_config("rag")
        rag = getattr(host.state("rag"), "service", None)
        config = getattr(rag, "config", None) or config
        return AddressPolicy(
            config.web_loader_allow_private_addresses, tuple(config.web_loader_allowed_networks)
        )

    state.web_client = host.http_client("rag.web", transport=guarded_transport(policy), trust_env=False)
    return state.web_client


def shown(url: str) -> str:
    """The URL's host (and port) for messages: never its credentials, path or query."""
    try:
        parts = urlsplit(url)
        return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else "the URL"
    except ValueError:
        return "the URL"


def check_url(url: str) -> str:
    """``url`` if it is an absolute ``http(s)`` URL with a host; else a 400."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ApiError(400, "Invalid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ApiError(400, "Only http and https URLs are fetched")
    if not parts.hostname:
        raise ApiError(400, "Invalid URL: no host")
    return url


@dataclass
class Page:
    """A fetched page."""

    #: The URL the page came from, after redirects.
    url: str
    #: ``Content-Type`` without parameters, and its ``charset`` if given.
    content_type: str
    charset: str | None
    body: bytes

    @property
    def filename(self) -> str:
        """The last path segment (extractors also look at its extension)."""
        return urlsplit(self.url).path.rstrip("/").rsplit("/", 1)[-1] or "index"


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_size: int,
    timeout: float,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    json: Any = None,
    redirects: int = MAX_REDIRECTS,
) -> Page:
    """Fetch ``url``, following up to ``redirects`` redirects, each hop checked again; all of it
    (redirects and a slowly trickling body included) within ``timeout`` seconds.

    :raises ApiError: 400 for a refused URL or address, a failed connection, a timeout, an upstream
        4xx/5xx, too many redirects or a body over ``max_size`` bytes.
    """
    import httpx

    headers = {**HEADERS, **(headers or {})}
    try:
        async with asyncio.timeout(timeout):
            for _ in range(redirects + 1):
                check_url(url)
                async with client.stream(
                    method, url, headers=headers, json=json, timeout=timeout, follow_redirects=False
                ) as response:
                    location = response.headers.get("location")
                    if response.status_code in REDIRECTS and location:
                        url = urljoin(url, location)
                        if response.status_code not in (307, 308):
                            method, json = "GET", None
                        continue
                    if response.status_code >= 400:
                        code = response.status_code
                        reason = response.reason_phrase or httpx.codes.get_reason_phrase(code)
                        raise ApiError(400, f"Fetching from {shown(url)} failed: {code} {reason}".strip())
                    body = await read_capped(response, max_size, url)
                    media, _, parameters = response.headers.get("content-type", "").partition(";")
                    return Page(str(response.url), media.strip().lower(), charset_of(parameters), body)
    except BlockedAddress as error:
        raise ApiError(400, str(error)) from None
    except (TimeoutError, httpx.TimeoutException):
        raise ApiError(400, f"Fetching from {shown(url)} timed out after {timeout:g} s") from None
    except httpx.HTTPError as error:
        reason = str(error) or type(error).__name__
        raise ApiError(400, f"Fetching from {shown(url)} failed: {reason}") from None
    if redirects == 0:
        raise ApiError(400, f"Fetching from {shown(url)} failed: it answered with a redirect")
    raise ApiError(400, f"Fetching from {shown(url)} failed: more than {redirects} redirects")


async def read_capped(response: httpx.Response, limit: int, url: str) -> bytes:
    too_large = ApiError(400, f"The page at {shown(url)} is larger than {limit} bytes")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for piece in response.aiter_bytes():
        body += piece
        if len(body) > limit:
            raise too_large
    return bytes(body)


def charset_of(parameters: str) -> str | None:
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"').lower()
    return None


def page_text_bytes(page: Page) -> bytes:
    """The body, re-encoded as UTF-8 when the server named another charset of a text type (the
    extractors read UTF-8 and fall back to Latin-1)."""
    textual = page.content_type.startswith("text/") or page.content_type in (
        "application/xhtml+xml",
        "application/json",
        "application/xml",
    )
    if not textual or page.charset in (None, "utf-8", "utf8"):
        return page.body
    try:
        return page.body.decode(page.charset, "replace").encode("utf-8")
    except LookupError:
        return page.body
