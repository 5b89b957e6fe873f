"""Which URLs we may fetch from or deliver to: the guard against SSRF.

A remote actor chooses the URLs we request (its inbox, its key id, the objects it
mentions), so every outgoing request is checked by an `AddressPolicy`:

- ``https`` only; ``http`` too when ``allow_http`` (local development and tests);
- no userinfo (``https://user:pass@host/``), which would smuggle credentials;
- the host must be, or resolve only to, public unicast addresses: loopback, private
  (RFC 1918, fc00::/7), link-local, shared (100.64/10), multicast, reserved,
  unspecified and documentation ranges are refused, including IPv4 addresses hidden in
  IPv6 (``::ffff:127.0.0.1``, 6to4, Teredo, NAT64) and the ``localhost`` names, unless
  ``allow_private_addresses``. A name with one bad address is refused as a whole.

DNS rebinding: checking a name and then letting the HTTP client resolve it again
leaves a window in which the name can change to a private address. We close it in
the transport: `guarded_client` builds an ``httpx.AsyncClient`` whose connections go
through `GuardedTransport`, which resolves the host itself (with the event loop's
``getaddrinfo``), checks every address, and connects to the checked address literal;
TLS still verifies the certificate against the original host name. Redirects are
never followed automatically (the client is built with ``follow_redirects=False``,
and `activitypub.fetch` follows them by hand, checking each hop), and environment
proxies are ignored, since a proxy would connect on our behalf unchecked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpcore
import httpx

from activitypub.errors import FetchFailed, FetchRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
# Host names as DNS has them (underscores included, which some real hosts use).
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME_RE = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}\.?")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IPAddress) -> bool:
    """Whether ``address`` is a globally routable unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public_address(embedded)
        if address.is_site_local:
            return False
    elif address in _SHARED:
        return False
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
    )


def _ascii_host(host: str) -> str:
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return ""


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which URLs outgoing requests may go to; both flags off in production."""

    allow_http: bool = False
    allow_private_addresses: bool = False

    def check_url_syntax(self, url: str) -> SplitResult:
        """Refuse a bad scheme, userinfo, a missing host, or a host that is a private literal."""
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise FetchRefused(f"{url!r} is not a valid URL") from None
        schemes = ("https", "http") if self.allow_http else ("https",)
        if parts.scheme not in schemes:
            raise FetchRefused(f"only {' and '.join(schemes)} URLs are allowed, not {url!r}")
        if parts.username is not None or parts.password is not None:
            raise FetchRefused("URLs with user information are not allowed")
        host = parts.hostname
        if not host:
            raise FetchRefused(f"{url!r} has no host")
        if _literal(host) is None and not _HOST_NAME_RE.fullmatch(_ascii_host(host)):
            raise FetchRefused(f"{host!r} is not a valid host name")
        self._check_name(host)
        return parts

    def _check_name(self, host: str) -> None:
        if self.allow_private_addresses:
            return
        name = host.lower().rstrip(".")
        if name in _LOCAL_NAMES or name.endswith(".localhost"):
            raise FetchRefused(f"{host} is a local name")
        literal = _literal(name)
        if literal is not None:
            self.check_address(literal, host)

    def check_address(self, address: IPAddress, host: str) -> None:
        """Refuse ``address`` (that ``host`` resolved to) unless it is public or allowed."""
        if not self.allow_private_addresses and not is_public_address(address):
            raise FetchRefused(f"{host} resolves to a non-public address ({address})")

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of ``host``, every one checked; raises if any is refused."""
        self._check_name(host)
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise FetchFailed(f"could not resolve {host}") from None
        addresses: list[str] = []
        for info in infos:
            text = str(info[4][0])
            literal = _literal(text)
            if literal is None:
                raise FetchFailed(f"{host} resolved to something that is not an address")
            self.check_address(literal, host)
            if text not in addresses:
                addresses.append(text)
        return addresses

    async def check_url(self, url: str) -> None:
        """The whole check: syntax, then every address the host resolves to."""
        parts = self.check_url_syntax(url)
        assert parts.hostname is not None  # checked above
        await self.resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves and checks the host itself, then connects to a checked address."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._policy.resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise FetchRefused("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose every connection goes to an address the policy allows."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        verify: bool | str = True,
        limits: httpx.Limits | None = None,
        http2: bool = False,
    ) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        super().__init__(verify=verify, trust_env=False, limits=limits, http2=http2)
        # Same pool as httpx builds, with our network backend (httpcore's public API).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=http2,
            network_backend=_GuardedBackend(policy),
        )


def guarded_client(
    policy: AddressPolicy,
    *,
    timeout_seconds: float,
    user_agent: str | None = None,
    limits: httpx.Limits | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` for federation: guarded connections, no redirects, no proxies."""
    headers = {"User-Agent": user_agent} if user_agent else None
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, limits=limits),
        timeout=httpx.Timeout(timeout_seconds),
        follow_redirects=False,
        trust_env=False,
        headers=headers,
    )
