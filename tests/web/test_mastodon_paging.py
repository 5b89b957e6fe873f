"""``Link`` pagination on followers, following and notifications, followed to the end
in both directions as Tusky and toot do it: ``next`` first, then ``prev``, numeric ids,
the other query parameters kept, every entity well formed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
import pytest_asyncio

from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import running_instance
from tests.support.mastodon_client import Member, Site
from tests.support.mastodon_entities import check_account, check_notification

pytestmark = pytest.mark.asyncio(loop_scope="module")

LINK = re.compile(r'<([^>]+)>; rel="next", <([^>]+)>; rel="prev"')


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    tmp = tmp_path_factory.mktemp("paging")
    async with (
        running_instance("paging", tmp, TEST_DATABASE_URL) as instance,
        httpx.AsyncClient(base_url=instance.base_url) as http,
    ):
        yield Site(instance, http)


def _links(site: Site, response: httpx.Response, path: str) -> tuple[str, str] | None:
    """The next and prev links of an answer (None without ``Link``), checked for form."""
    header = response.headers.get("link")
    if header is None:
        return None
    found = LINK.fullmatch(header)
    assert found, header
    assert "Link" in response.headers["access-control-expose-headers"]
    for url, bound in ((found.group(1), "max_id"), (found.group(2), "min_id")):
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == site.base_url and parts.path == path, url
        query = parse_qsl(parts.query)
        assert [value.isdigit() for key, value in query if key == bound] == [True], url
        assert not {"max_id", "min_id", "since_id"} - {bound} & {key for key, _ in query}, url
    return found.group(1), found.group(2)


Page = tuple[list[dict[str, Any]], tuple[str, str]]


async def _walk(site: Site, member: Member, path: str, url: str, rel: int) -> list[Page]:
    """Pages from ``url`` following one of the links (0 next, 1 prev) until one is empty."""
    pages: list[Page] = []
    for _ in range(50):
        response = await member.call("GET", url.removeprefix(site.base_url))
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()
        links = _links(site, response, path)
        if not items:
            assert links is None, response.headers["link"]
            return pages
        assert links is not None
        pages.append((items, links))
        url = links[rel]
    raise AssertionError(f"{path} did not end")


def _ids(pages: list[Page]) -> list[str]:
    return [item["id"] for items, _ in pages for item in items]


async def _walk_both_ways(
    site: Site, member: Member, path: str, query: list[tuple[str, str]], size: int
) -> list[dict[str, Any]]:
    """Every item of ``path``, ``size`` a page: forward with ``next`` to the end, then
    back with ``prev`` from the last page to the first; both walks see the same items
    in the same order, and every link keeps the other query parameters."""
    start = f"{path}?{urlencode([*query, ('limit', str(size))])}"
    forward = await _walk(site, member, path, start, 0)
    assert forward, f"{path} is empty"
    assert [len(items) for items, _ in forward[:-1]] == [size] * (len(forward) - 1)
    assert 1 <= len(forward[-1][0]) <= size
    for _, links in forward:
        for link in links:
            kept = parse_qsl(urlsplit(link).query)
            assert [(k, v) for k, v in kept if k not in ("max_id", "min_id")] == [
                *query,
                ("limit", str(size)),
            ], link
    backward = await _walk(site, member, path, forward[-1][1][1], 1)
    newest_first = [item for items, _ in reversed(backward) for item in items]
    assert [i["id"] for i in newest_first] == _ids(forward[:-1])
    return [item for items, _ in forward for item in items]


async def test_followers_and_following_page_with_link_to_the_end(site: Site) -> None:
    """Followers and following, two a page: every follow once, newest first, both ways."""
    hub = await site.member("hub")
    fans = [await site.member(f"fan{n}") for n in range(5)]
    for fan in fans:
        await fan.post(f"/api/v1/accounts/{hub.actor_id}/follow")
    for fan in fans[::-1]:  # hub follows them in the other order
        await hub.post(f"/api/v1/accounts/{fan.actor_id}/follow")
    reader = fans[0]

    followers = await _walk_both_ways(
        site, reader, f"/api/v1/accounts/{hub.actor_id}/followers", [], 2
    )
    for account in followers:
        check_account(account)
    accts = [a["acct"] for a in followers]
    assert accts[:5] == [f"fan{n}" for n in range(4, -1, -1)]  # newest follow first
    assert len(set(accts)) == len(accts)
    shown = await reader.get(f"/api/v1/accounts/{hub.actor_id}")
    assert shown["followers_count"] == len(followers)

    following = await _walk_both_ways(
        site, reader, f"/api/v1/accounts/{hub.actor_id}/following", [], 2
    )
    for account in following:
        check_account(account)
    accts = [a["acct"] for a in following]
    assert accts[:5] == [f"fan{n}" for n in range(5)]
    assert len(set(accts)) == len(accts) == shown["following_count"]

    # Anonymous readers get the same pages (and links); an unknown account is a JSON 404.
    anonymous = await site.http.get(
        f"/api/v1/accounts/{hub.actor_id}/followers", params={"limit": "2"}
    )
    assert [a["acct"] for a in anonymous.json()] == [a["acct"] for a in followers[:2]]
    assert LINK.fullmatch(anonymous.headers["link"])
    unknown = await reader.call("GET", "/api/v1/accounts/999999999/followers")
    assert unknown.status_code == 404 and "error" in unknown.json()


async def test_notifications_page_with_link_to_the_end(site: Site) -> None:
    """Notifications, filtered or not, two a page: all of them once, newest first, both ways."""
    star = await site.member("star")
    others = [await site.member(f"pal{n}") for n in range(3)]
    for other in others:
        await other.post(f"/api/v1/accounts/{star.actor_id}/follow")
        await other.post("/api/v1/statuses", data={"status": f"@star hello from {other.username}"})
    mine = await star.post("/api/v1/statuses", data={"status": "anyone?"})
    await others[0].post(f"/api/v1/statuses/{mine['id']}/favourite")

    every = await _walk_both_ways(site, star, "/api/v1/notifications", [], 2)
    for notification in every:
        check_notification(notification)
    # The community boosts its members' public posts: those reblogs come in between.
    community = site.instance.runtime.instance.community_username
    kinds = [(n["type"], n["account"]["acct"]) for n in every if n["account"]["acct"] != community]
    assert kinds == [
        ("favourite", "pal0"),
        ("mention", "pal2"),
        ("follow", "pal2"),
        ("mention", "pal1"),
        ("follow", "pal1"),
        ("mention", "pal0"),
        ("follow", "pal0"),
    ]
    ids = [int(n["id"]) for n in every]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)

    mentions = await _walk_both_ways(
        site, star, "/api/v1/notifications", [("types[]", "mention")], 2
    )
    assert [n["account"]["acct"] for n in mentions] == ["pal2", "pal1", "pal0"]
    for notification in mentions:
        check_notification(notification)
        assert notification["status"]["mentions"][0]["acct"] == "star"
    quiet = await _walk_both_ways(
        site,
        star,
        "/api/v1/notifications",
        [("exclude_types[]", kind) for kind in ("follow", "favourite", "reblog")],
        1,
    )
    assert [n["id"] for n in quiet] == [n["id"] for n in mentions]
