"""The client deliveries go through: POSTs on kept-alive HTTP/1.1 connections.

Why not httpx, which every other request uses: a delivery is one RSA signature and one
POST, and httpx spent three to nine times the signature's CPU on the POST (DESIGN §7),
so a worker delivered 0.2 × the signing rate. Measured on the development machine (the
client alone, 2,000 POSTs at concurrency 50 to 200 loopback servers, CPU per POST):
httpx 1.7–2.5 ms, aiohttp 340–570 µs, this client 130–240 µs, where signing takes
250–350 µs. A delivery needs little: one method, the answer's status and
``Retry-After``, nothing of its body. `activitypub.http1` is the part that speaks
HTTP/1.1; this module keeps the connections and applies the address policy.

The same guarantees as the guarded httpx client (`activitypub.addresses`):

- every URL passes `AddressPolicy.check_url_syntax` (scheme, userinfo, host, address
  literals) before anything is sent (its verdict is remembered per scheme and
  authority, the only parts it judges); a new connection resolves the host through
  `AddressPolicy.resolve`, which checks every address, and connects to a checked
  address literal, so a later DNS answer cannot move it (DNS rebinding);
- https verifies the certificate against the URL's host (certifi's roots, as httpx);
- redirects are answers like any other, never followed; no proxies;
- the caller's deadline covers everything (the address lookup and connection too);
- at most ``max_body_bytes`` of an answer are read.

Connections are kept per origin (scheme, host, port): at most
``max_connections_per_host`` at once (more requests to the same server wait their
turn, which is gentler on it and lets them reuse connections), idle ones for
``keepalive_expiry_seconds`` and at most ``max_idle_connections`` in all (the least
recently used one closes to make room for another). A request on a reused connection
that the server had closed before answering is sent once more on a new one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urlsplit

import certifi

from activitypub.addresses import AddressPolicy
from activitypub.cavage import render_authority, render_request_target
from activitypub.errors import ConnectionClosed
from activitypub.http1 import Answer, Connection, render_request

Origin = tuple[str, str, int]  # scheme, host, port
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Origins whose URLs passed the policy's syntax check, remembered up to this many.
_MAX_CHECKED_ORIGINS = 4096


def default_ssl_context() -> ssl.SSLContext:
    """Certificates verified against certifi's roots, host names checked, HTTP/1.1."""
    context = ssl.create_default_context(cafile=certifi.where())
    context.set_alpn_protocols(["http/1.1"])
    return context


@dataclass(frozen=True, slots=True)
class _Target:
    """What a URL's scheme and authority decide: where to connect, what Host to send."""

    origin: Origin
    authority: str
    #: ``scheme://host[:port]``, for messages.
    name: str
    #: The host when it is an address literal (already checked: nothing to resolve).
    literal: str | None


@dataclass(slots=True)
class _Pool:
    """One origin's connections: a turn to take, and those idle (latest last)."""

    origin: Origin
    turns: asyncio.Semaphore
    idle: list[Connection] = field(default_factory=list)
    users: int = 0


class DeliveryClient:
    """Sends POSTs to inboxes; one per instance, closed with `aclose`."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        user_agent: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_connections_per_host: int = 4,
        max_idle_connections: int = 100,
        keepalive_expiry_seconds: float = 5.0,
    ) -> None:
        self._policy = policy
        self._user_agent = user_agent
        self._ssl_context = ssl_context or default_ssl_context()
        self._max_connections_per_host = max_connections_per_host
        self._max_idle_connections = max_idle_connections
        self._keepalive_expiry_seconds = keepalive_expiry_seconds
        self._pools: dict[Origin, _Pool] = {}
        self._targets: dict[tuple[str, str], _Target] = {}
        #: Every idle connection, least recently used first.
        self._idle: OrderedDict[Connection, _Pool] = OrderedDict()
        self._swept_at = time.monotonic()
        self._closed = False

    async def post(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        timeout_seconds: float,
        max_body_bytes: int,
    ) -> Answer:
        """POST ``body`` with ``headers`` (Host, Content-Length and User-Agent added).

        Raises `FetchRefused` (the policy, or a URL that cannot be sent), `FetchFailed`
        (an answer that is not HTTP/1.1), ``TimeoutError`` and ``OSError``.
        """
        parts = urlsplit(url)
        target = self._targets.get((parts.scheme, parts.netloc)) or self._check(url)
        given = {name.lower() for name in headers}
        all_headers = {} if "host" in given else {"Host": target.authority}
        if self._user_agent and "user-agent" not in given:
            all_headers["User-Agent"] = self._user_agent
        all_headers.update(headers)
        request = render_request("POST", render_request_target(parts), all_headers, body)
        async with asyncio.timeout(timeout_seconds):
            pool = self._pools.get(target.origin)
            if pool is None:
                turns = asyncio.Semaphore(self._max_connections_per_host)
                pool = self._pools[target.origin] = _Pool(target.origin, turns)
            pool.users += 1
            try:
                async with pool.turns:
                    return await self._exchange(target, pool, request, max_body_bytes)
            finally:
                pool.users -= 1
                if not pool.users and not pool.idle and self._pools.get(pool.origin) is pool:
                    del self._pools[pool.origin]

    def _check(self, url: str) -> _Target:
        """The policy's syntax check, whose verdict depends on the scheme and authority
        only (the path is not judged): remembered per origin, it costs ~20-50 µs."""
        parts = self._policy.check_url_syntax(url)  # literals are checked here too
        host = parts.hostname
        assert host is not None  # checked above
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
        authority = render_authority(parts)
        try:
            literal: str | None = str(ipaddress.ip_address(host))
        except ValueError:
            literal = None
        name = f"{parts.scheme}://{authority}"
        target = _Target((parts.scheme, host, port), authority, name, literal)
        if len(self._targets) >= _MAX_CHECKED_ORIGINS:
            self._targets.clear()
        self._targets[parts.scheme, parts.netloc] = target
        return target

    async def _exchange(
        self, target: _Target, pool: _Pool, request: bytes, max_body_bytes: int
    ) -> Answer:
        connection = self._take_idle(pool)
        if connection is not None:
            try:
                return await self._send(pool, connection, request, target.name, max_body_bytes)
            except ConnectionClosed:
                pass  # closed while idle, before our request reached it: once more
        connection = await self._connect(target)
        return await self._send(pool, connection, request, target.name, max_body_bytes)

    async def _send(
        self, pool: _Pool, connection: Connection, request: bytes, name: str, max_body_bytes: int
    ) -> Answer:
        try:
            answer = await connection.request(request, origin=name, max_body_bytes=max_body_bytes)
        except BaseException:
            connection.close()  # in an unknown state (a timeout or cancellation included)
            raise
        if not answer.reusable or self._closed:
            connection.close()
            return answer
        connection.idle_since = time.monotonic()
        pool.idle.append(connection)
        self._idle[connection] = pool
        if len(self._idle) > self._max_idle_connections:
            self._drop_idle(next(iter(self._idle)))
        self._sweep(connection.idle_since)
        return answer

    def _take_idle(self, pool: _Pool) -> Connection | None:
        expired_at = time.monotonic() - self._keepalive_expiry_seconds
        while pool.idle:
            connection = pool.idle.pop()
            del self._idle[connection]
            if connection.idle_since > expired_at and not connection.closed:
                return connection
            connection.close()
        return None

    def _drop_idle(self, connection: Connection) -> None:
        pool = self._idle.pop(connection)
        pool.idle.remove(connection)
        connection.close()
        if not pool.users and not pool.idle and self._pools.get(pool.origin) is pool:
            del self._pools[pool.origin]

    def _sweep(self, now: float) -> None:
        """Close connections idle past their expiry, at most once per expiry period."""
        if now - self._swept_at < self._keepalive_expiry_seconds:
            return
        self._swept_at = now
        expired_at = now - self._keepalive_expiry_seconds
        while self._idle and (oldest := next(iter(self._idle))).idle_since <= expired_at:
            self._drop_idle(oldest)

    async def _connect(self, target: _Target) -> Connection:
        """A connection to a checked address: the literal, or each address the policy
        resolved the name to (every one checked), until one answers."""
        scheme, host, port = target.origin
        tls = self._ssl_context if scheme == "https" else None
        addresses = [target.literal] if target.literal else await self._policy.resolve(host, port)
        failure: OSError = OSError(f"{host} has no address")
        for address in addresses:
            try:
                return await Connection.open(address, port, ssl_context=tls, server_hostname=host)
            except OSError as error:  # ssl.SSLError included
                failure = error
        raise failure

    async def aclose(self) -> None:
        """Close the idle connections; those in use close when their request ends."""
        self._closed = True
        idle = list(self._idle)
        for connection in idle:
            self._drop_idle(connection)
        await asyncio.gather(*(connection.wait_closed() for connection in idle))

    async def __aenter__(self) -> DeliveryClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
