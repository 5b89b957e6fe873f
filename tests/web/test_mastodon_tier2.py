"""What web and mobile clients call on their first screen: preferences, empty lists,
the push 404, markers, media uploads and attachments, search, CORS; never HTML."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from tests.conftest import TEST_DATABASE_URL
from tests.support.images import png
from tests.support.instances import running_instance
from tests.support.mastodon_client import Site
from tests.support.mastodon_entities import (
    ISO_MILLIS,
    check_account,
    check_json_error,
    check_media,
    check_status,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

EMPTY = [
    "/api/v1/custom_emojis",
    "/api/v1/filters",
    "/api/v2/filters",
    "/api/v1/lists",
    "/api/v1/announcements",
    "/api/v1/followed_tags",
    "/api/v1/trends/tags",
    "/api/v1/trends/statuses",
    "/api/v1/trends/links",
    "/api/v2/suggestions",
    "/api/v1/conversations",
    "/api/v1/instance/rules",
    "/api/v1/blocks",
    "/api/v1/mutes",
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    tmp = tmp_path_factory.mktemp("tier2")
    async with (
        running_instance("tier2", tmp, TEST_DATABASE_URL) as instance,
        httpx.AsyncClient(base_url=instance.base_url) as http,
    ):
        yield Site(instance, http)


async def test_first_screen_endpoints(site: Site) -> None:
    """Preferences, the empty lists, and a JSON 404 for the push subscription."""
    amy = await site.member("amy")
    preferences = await amy.get("/api/v1/preferences")
    assert preferences["posting:default:visibility"] == "public"
    assert preferences["reading:expand:spoilers"] is False
    for path in EMPTY:
        assert await amy.get(path) == [], path
    check_json_error(await amy.call("GET", "/api/v1/push/subscription"), 404)
    check_json_error(await amy.call("POST", "/api/v1/push/subscription"), 404)
    check_json_error(await site.http.get("/api/v1/lists"), 401)
    check_json_error(await amy.call("GET", "/api/v1/lists/1"), 404)
    check_json_error(await amy.call("GET", "/api/v2/notifications"), 404)


async def test_profile_page_endpoints(site: Site) -> None:
    """What a profile or tag page asks besides the account: all answered, none invented."""
    ann = await site.member("ann")
    assert [a["acct"] for a in await ann.get("/api/v1/accounts/search", params={"q": "an"})] == [
        "ann"
    ]
    assert await ann.get(f"/api/v1/accounts/{ann.actor_id}/featured_tags") == []
    assert await ann.get(f"/api/v1/accounts/{ann.actor_id}/lists") == []
    check_json_error(await ann.call("GET", "/api/v1/accounts/42/lists"), 404)
    familiar = await ann.get("/api/v1/accounts/familiar_followers", params={"id[]": "5"})
    assert familiar == [{"id": "5", "accounts": []}]
    tag = await ann.get("/api/v1/tags/Tools")
    assert tag == {"name": "tools", "url": f"{site.base_url}/tags/tools", "history": [],
                   "following": False}  # fmt: skip


async def test_cors_as_mastodon_does_it(site: Site) -> None:
    """A preflight is answered; API answers allow any origin and expose Link."""
    preflight = await site.http.options(
        "/api/v1/timelines/home",
        headers={
            "Origin": "https://elk.zone",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert preflight.headers["access-control-allow-headers"] == "authorization"
    answer = await site.http.get("/api/v1/custom_emojis", headers={"Origin": "https://x.y"})
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "Link" in answer.headers["access-control-expose-headers"]


async def test_markers_are_stored(site: Site) -> None:
    """Markers saved as a form or as JSON come back with a version and a time."""
    bo = await site.member("bo")
    assert await bo.get("/api/v1/markers", params={"timeline[]": "home"}) == {}
    saved = await bo.post("/api/v1/markers", data={"home[last_read_id]": "103"})
    assert saved["home"]["last_read_id"] == "103" and saved["home"]["version"] == 1
    assert ISO_MILLIS.fullmatch(saved["home"]["updated_at"])
    again = await bo.post(
        "/api/v1/markers",
        json={"home": {"last_read_id": "105"}, "notifications": {"last_read_id": "7"}},
    )
    assert again["home"]["version"] == 2 and again["notifications"]["last_read_id"] == "7"
    both = await bo.get("/api/v1/markers", params={"timeline[]": ["home", "notifications"]})
    assert set(both) == {"home", "notifications"}
    check_json_error(
        await bo.call("POST", "/api/v1/markers", data={"home[last_read_id]": "x"}), 400
    )


async def test_media_upload_attach_and_serve(site: Site) -> None:
    """An image is checked by its bytes, stored, served with its type, and attached."""
    cy = await site.member("cy")
    dee = await site.member("dee")
    image = png(3, 2)
    files = {"file": ("photo.bin", image, "application/octet-stream")}
    uploaded = await cy.post("/api/v2/media", files=files, data={"description": "a rake"})
    check_media(uploaded)
    assert uploaded["type"] == "image" and uploaded["description"] == "a rake"
    assert uploaded["meta"]["original"]["width"] == 3
    served = await site.http.get(uploaded["url"].replace(site.base_url, ""))
    assert served.status_code == 200 and served.content == image
    assert served.headers["content-type"] == "image/png"
    described = await cy.call(
        "PUT", f"/api/v1/media/{uploaded['id']}", data={"description": "rake"}
    )
    assert described.json()["description"] == "rake"
    check_json_error(await dee.call("GET", f"/api/v1/media/{uploaded['id']}"), 404)
    check_json_error(
        await dee.call(
            "POST", "/api/v1/statuses", data={"status": "x", "media_ids[]": uploaded["id"]}
        ),
        422,
    )
    status = await cy.post("/api/v1/statuses", data={"status": "", "media_ids[]": uploaded["id"]})
    check_status(status)
    assert [m["id"] for m in status["media_attachments"]] == [uploaded["id"]]
    again = {"status": "twice", "media_ids[]": uploaded["id"]}
    check_json_error(await cy.call("POST", "/api/v1/statuses", data=again), 422)
    text = {"file": ("notes.txt", b"just text", "image/png")}
    check_json_error(await cy.call("POST", "/api/v1/media", files=text), 422)
    check_json_error(await cy.call("POST", "/api/v1/media", data={"description": "x"}), 422)
    check_json_error(await site.http.get("/media/nothing.png"), 404)
    huge = {"file": ("big.png", image + b"\0" * (17 * 1024 * 1024), "image/png")}
    check_json_error(await cy.call("POST", "/api/v2/media", files=huge), 413)


async def test_search_accounts_hashtags_and_status_urls(site: Site) -> None:
    """Search finds local accounts by name, hashtags by prefix and statuses by URL."""
    eve = await site.member("eve")
    posted = await eve.post("/api/v1/statuses", data={"status": "#gardening tools to lend"})
    found = await eve.get("/api/v2/search", params={"q": "eve", "type": "accounts"})
    assert [a["acct"] for a in found["accounts"]] == ["eve"]
    check_account(found["accounts"][0])
    assert found["statuses"] == [] and found["hashtags"] == []
    tags = await eve.get("/api/v2/search", params={"q": "#garden"})
    assert [t["name"] for t in tags["hashtags"]] == ["gardening"]
    by_url = await eve.get("/api/v2/search", params={"q": posted["uri"], "resolve": "true"})
    assert [s["id"] for s in by_url["statuses"]] == [posted["id"]]
    by_page = await eve.get("/api/v2/search", params={"q": posted["url"]})
    assert [s["id"] for s in by_page["statuses"]] == [posted["id"]]
    anonymous = (await site.http.get("/api/v2/search", params={"q": "eve"})).json()
    assert anonymous["accounts"][0]["acct"] == "eve"
