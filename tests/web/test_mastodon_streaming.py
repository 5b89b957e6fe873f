"""Streaming: the WebSocket (token as header, query or subprotocol; subscribe messages)
and server-sent events driven by Mastodon.py; events carry complete entities."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from mastodon import Mastodon, StreamListener
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import running_instance
from tests.support.mastodon_client import Site
from tests.support.mastodon_entities import check_notification, check_status

pytestmark = pytest.mark.asyncio(loop_scope="module")
WAIT_SECONDS = 10


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    tmp = tmp_path_factory.mktemp("streaming")
    async with (
        running_instance("streaming", tmp, TEST_DATABASE_URL) as instance,
        httpx.AsyncClient(base_url=instance.base_url) as http,
    ):
        yield Site(instance, http)


def _ws_url(site: Site, query: str = "") -> str:
    return "ws" + site.base_url.removeprefix("http") + "/api/v1/streaming" + query


async def _next_event(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), WAIT_SECONDS))
    return message


async def test_websocket_user_stream_with_the_token_as_subprotocol(site: Site) -> None:
    """masto.js's way: the token as Sec-WebSocket-Protocol (echoed), then subscribe."""
    ava = await site.member("ava")
    bram = await site.member("bram")
    await ava.post(f"/api/v1/accounts/{bram.actor_id}/follow")
    async with connect(_ws_url(site), subprotocols=[ava.token]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == ava.token
        await ws.send(orjson.dumps({"type": "subscribe", "stream": "user"}).decode())
        await asyncio.sleep(0.2)
        posted = await bram.post("/api/v1/statuses", data={"status": "streamed @ava"})
        seen: dict[str, dict[str, Any]] = {}
        while {"update", "notification"} - set(seen):
            message = await _next_event(ws)
            assert message["stream"] == ["user"]
            seen[message["event"]] = orjson.loads(message["payload"])
        check_status(seen["update"])
        assert seen["update"]["id"] == posted["id"]
        check_notification(seen["notification"])
        assert seen["notification"]["type"] == "mention"


async def test_websocket_hashtag_stream_with_a_query_token(site: Site) -> None:
    """?access_token= and ?stream=hashtag&tag=…; a bad subscription is answered, not fatal."""
    cleo = await site.member("cleo")
    query = f"?access_token={cleo.token}&stream=hashtag&tag=Lamps"
    async with connect(_ws_url(site, query)) as ws:
        await ws.send('{"type": "subscribe", "stream": "nonsense"}')
        assert (await _next_event(ws))["error"] == "Unknown stream type"
        await cleo.post("/api/v1/statuses", data={"status": "no tag here"})
        tagged = await cleo.post("/api/v1/statuses", data={"status": "two #lamps spare"})
        message = await _next_event(ws)
        assert message["stream"] == ["hashtag", "lamps"] and message["event"] == "update"
        assert orjson.loads(message["payload"])["id"] == tagged["id"]


async def test_streams_refuse_bad_tokens(site: Site) -> None:
    """A WebSocket handshake with a bad token is refused; SSE answers JSON 401."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect(_ws_url(site, "?access_token=nope&stream=user")):
            pass
    assert refused.value.response.status_code == 403
    response = await site.http.get("/api/v1/streaming/user")
    assert response.status_code == 401 and "error" in response.json()
    assert (await site.http.get("/api/v1/streaming/health")).text == "OK"


class _Collector(StreamListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.updates: list[Any] = []
        self.notifications: list[Any] = []
        self.both = threading.Event()

    def on_update(self, status: Any) -> None:
        self.updates.append(status)
        self._check()

    def on_notification(self, notification: Any) -> None:
        self.notifications.append(notification)
        self._check()

    def _check(self) -> None:
        if self.updates and self.notifications:
            self.both.set()


async def test_mastodon_py_streams_the_user_over_server_sent_events(site: Site) -> None:
    """Mastodon.py finds the stream in the instance document and reads user events."""
    dora = await site.member("dora")
    eli = await site.member("eli")
    api = Mastodon(access_token=dora.token, api_base_url=site.base_url, version_check_mode="none")
    assert await asyncio.to_thread(api.stream_healthy)
    collector = _Collector()
    handle = await asyncio.to_thread(api.stream_user, collector, run_async=True)
    try:
        await asyncio.sleep(0.5)
        await eli.post(f"/api/v1/accounts/{dora.actor_id}/follow")
        await dora.post("/api/v1/statuses", data={"status": "my own post"})
        assert await asyncio.to_thread(collector.both.wait, WAIT_SECONDS)
    finally:
        # Closing waits for the client's reader, blocked until the stream sends
        # something: a post wakes it instead of the 15-second heartbeat.
        closing = asyncio.ensure_future(asyncio.to_thread(handle.close))
        await asyncio.sleep(0.1)
        await dora.post("/api/v1/statuses", data={"status": "wake the stream"})
        await closing
    assert collector.updates[0].content == "<p>my own post</p>"
    assert collector.notifications[0].type == "follow"
