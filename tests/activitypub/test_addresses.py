"""The address policy: which URLs we may send requests to (decisions only, no traffic)."""

from __future__ import annotations

import ipaddress

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from activitypub.addresses import AddressPolicy, guarded_client, is_public_address
from activitypub.errors import FetchRefused
from tests.support.serve import serve_app

STRICT = AddressPolicy()
PERMISSIVE = AddressPolicy(allow_http=True, allow_private_addresses=True)

PRIVATE_HOSTS = [
    "127.0.0.1",
    "127.8.9.10",
    "[::1]",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.20",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.251",
    "[fc00::1]",
    "[fd12:3456::1]",
    "[fe80::1]",
    "[ff02::1]",
    "[::]",
    "[::ffff:127.0.0.1]",
    "[::ffff:10.0.0.1]",
    "[2002:7f00:1::1]",
    "[64:ff9b::a00:1]",
    "localhost",
    "LOCALHOST",
    "api.localhost",
]


@pytest.mark.parametrize("host", PRIVATE_HOSTS)
async def test_private_and_local_hosts_are_refused_by_default(host):
    """Loopback, private, link-local, multicast, mapped and local names are refused."""
    with pytest.raises(FetchRefused):
        await STRICT.check_url(f"https://{host}/users/ana")


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "10.0.0.1", "[fc00::1]", "localhost"])
async def test_private_hosts_are_allowed_when_the_flag_says_so(host):
    """allow_private_addresses lets local development reach loopback and LAN peers."""
    await PERMISSIVE.check_url(f"http://{host}:8001/users/ana")


@pytest.mark.parametrize("host", ["93.184.216.34", "[2606:2800:220:1:248:1893:25c8:1946]"])
async def test_public_literals_pass(host):
    """Public addresses pass (checked by address only; nothing is sent)."""
    await STRICT.check_url(f"https://{host}/users/ana")


async def test_http_is_refused_unless_allowed():
    """Plain HTTP needs allow_http; other schemes never pass."""
    with pytest.raises(FetchRefused, match="only https"):
        await STRICT.check_url("http://93.184.216.34/")
    await AddressPolicy(allow_http=True).check_url("http://93.184.216.34/")
    for url in ("ftp://93.184.216.34/", "file:///etc/passwd", "gopher://93.184.216.34/"):
        with pytest.raises(FetchRefused):
            await PERMISSIVE.check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://user@93.184.216.34/",
        "https://user:secret@93.184.216.34/",
        "https:///no-host",
        "https://93.184.216.34:99999/",
        "https://93.184.216.34:port/",
        "https://exa mple.com/",
        "https://a..b.example/",
        "https://[::1/",
    ],
)
async def test_userinfo_bad_hosts_and_bad_ports_are_refused(url):
    """User information, a missing or malformed host, or a bad port are refused outright."""
    with pytest.raises(FetchRefused):
        await PERMISSIVE.check_url(url)


async def test_resolution_checks_every_address():
    """localhost resolves to loopback, which the permissive policy returns and checks."""
    addresses = await PERMISSIVE.resolve("localhost", 80)
    assert addresses
    assert all(not is_public_address(ipaddress.ip_address(a)) for a in addresses)


def test_public_address_classification():
    """Globally routable unicast only; IPv4 hidden in IPv6 is judged as IPv4."""
    public = ["8.8.8.8", "172.32.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808"]
    private = ["192.0.2.1", "198.18.0.1", "255.255.255.255", "2001:db8::1", "fec0::1", "::"]
    assert all(is_public_address(ipaddress.ip_address(a)) for a in public)
    assert not any(is_public_address(ipaddress.ip_address(a)) for a in private)


async def test_guarded_client_refuses_loopback_and_permissive_one_connects():
    """The transport checks the address it connects to, whatever the URL check said."""

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hello")

    app = Starlette(routes=[Route("/", hello)])
    async with serve_app(app) as base_url:
        async with guarded_client(AddressPolicy(allow_http=True), timeout_seconds=5) as strict:
            with pytest.raises(FetchRefused):
                await strict.get(base_url)
            with pytest.raises(FetchRefused):
                await strict.get(base_url.replace("127.0.0.1", "localhost"))
        async with guarded_client(PERMISSIVE, timeout_seconds=5) as permissive:
            response = await permissive.get(base_url)
    assert response.text == "hello"


async def test_guarded_client_ignores_environment_proxies(monkeypatch):
    """HTTP(S)_PROXY cannot route our requests around the address check."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    async with guarded_client(AddressPolicy(allow_http=True), timeout_seconds=5) as client:
        # Through a proxy this would be a connection error; FetchRefused means our
        # transport, not a proxy transport, handled the request.
        with pytest.raises(FetchRefused):
            await client.get("http://127.0.0.1:9/")
