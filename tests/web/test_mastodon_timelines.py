"""Timelines, accounts, relationships, the community as a group, notifications and
follow requests through the client API, on one instance (one member per test)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import Connection, update

from fediverse_share import tables
from fediverse_share.listings import store
from fediverse_share.listings.model import Draft, Kind, Purpose
from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import running_instance
from tests.support.mastodon_client import Site
from tests.support.mastodon_entities import (
    check_account,
    check_json_error,
    check_notification,
    check_relationship,
    check_status,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
NEXT = re.compile(r'<([^>]+)>; rel="next"')


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    tmp = tmp_path_factory.mktemp("timelines")
    async with (
        running_instance("timelines", tmp, TEST_DATABASE_URL) as instance,
        httpx.AsyncClient(base_url=instance.base_url) as http,
    ):
        yield Site(instance, http)


async def _community_id(site: Site) -> str:
    name = site.instance.runtime.instance.community_username
    found = (await site.http.get("/api/v1/accounts/lookup", params={"acct": name})).json()
    check_account(found)
    return str(found["id"])


async def test_home_pages_with_link_next_first(site: Site) -> None:
    """Home holds followed accounts' posts; Link has next first and is exposed by CORS."""
    ana = await site.member("ana")
    ben = await site.member("ben")
    await ana.post(f"/api/v1/accounts/{ben.actor_id}/follow")
    posted = [
        (await ben.post("/api/v1/statuses", data={"status": f"tool {n}"}))["id"] for n in range(5)
    ]
    response = await ana.call("GET", "/api/v1/timelines/home", params={"limit": 2})
    page = response.json()
    assert [s["id"] for s in page] == posted[::-1][:2]
    for status in page:
        check_status(status)
    link = response.headers["link"]
    assert link.startswith("<") and NEXT.match(link), link
    assert 'rel="prev"' in link
    assert "Link" in response.headers["access-control-expose-headers"]
    assert response.headers["access-control-allow-origin"] == "*"
    seen = [s["id"] for s in page]
    while (found := NEXT.match(response.headers.get("link", ""))) and len(seen) < 10:
        response = await ana.call("GET", found.group(1).replace(site.base_url, ""))
        seen += [s["id"] for s in response.json()]
    assert seen[:5] == posted[::-1]
    newer = await ana.get("/api/v1/timelines/home", params={"min_id": posted[1], "limit": 2})
    assert [s["id"] for s in newer] == [posted[3], posted[2]]
    since = await ana.get("/api/v1/timelines/home", params={"since_id": posted[2]})
    assert [s["id"] for s in since] == [posted[4], posted[3]]
    check_json_error(await ana.call("GET", "/api/v1/timelines/home?max_id=x"), 400)
    check_json_error(await site.http.get("/api/v1/timelines/home"), 401)


async def test_public_local_and_tag_timelines(site: Site) -> None:
    """Anyone reads the public, local and tag timelines; unlisted posts stay off them."""
    cat = await site.member("cat")
    tagged = await cat.post("/api/v1/statuses", data={"status": "Spare #Drill here"})
    quiet = await cat.post("/api/v1/statuses", data={"status": "shh", "visibility": "unlisted"})
    public = (await site.http.get("/api/v1/timelines/public")).json()
    ids = [s["id"] for s in public]
    assert tagged["id"] in ids and quiet["id"] not in ids
    for status in public:
        check_status(status, authenticated=False)
    local = (await site.http.get("/api/v1/timelines/public", params={"local": "true"})).json()
    assert tagged["id"] in [s["id"] for s in local]
    remote = (await site.http.get("/api/v1/timelines/public", params={"remote": "1"})).json()
    assert remote == []
    by_tag = (await site.http.get("/api/v1/timelines/tag/drill")).json()
    assert [s["id"] for s in by_tag] == [tagged["id"]]


async def test_accounts_and_relationships(site: Site) -> None:
    """Account, its statuses, lookup, followers/following and every relationship field."""
    dan = await site.member("dan")
    eli = await site.member("eli")
    status = await eli.post("/api/v1/statuses", data={"status": "hello"})
    account = await dan.get(f"/api/v1/accounts/{eli.actor_id}")
    check_account(account)
    assert account["acct"] == "eli" and account["group"] is False
    statuses = await dan.get(f"/api/v1/accounts/{eli.actor_id}/statuses")
    assert [s["id"] for s in statuses] == [status["id"]]
    assert await dan.get(f"/api/v1/accounts/{eli.actor_id}/statuses?pinned=true") == []
    looked_up = await dan.get("/api/v1/accounts/lookup", params={"acct": "eli"})
    assert looked_up["id"] == account["id"]
    followed = await dan.post(
        f"/api/v1/accounts/{eli.actor_id}/follow", data={"notify": "true", "reblogs": "false"}
    )
    check_relationship(followed)
    assert followed["following"] is True and followed["notifying"] is True
    assert followed["showing_reblogs"] is False
    both = await eli.get("/api/v1/accounts/relationships", params={"id[]": [dan.actor_id, 1]})
    assert len(both) == 1
    check_relationship(both[0])
    assert both[0]["followed_by"] is True and both[0]["following"] is False
    followers = await dan.get(f"/api/v1/accounts/{eli.actor_id}/followers")
    assert [a["acct"] for a in followers] == ["dan"]
    following = await dan.get(f"/api/v1/accounts/{dan.actor_id}/following")
    assert [a["acct"] for a in following] == ["eli"]
    news = await eli.post("/api/v1/statuses", data={"status": "news"})
    alerts = await dan.get("/api/v1/notifications", params={"types[]": "status"})
    assert [n["status"]["id"] for n in alerts] == [news["id"]]
    unfollowed = await dan.post(f"/api/v1/accounts/{eli.actor_id}/unfollow")
    assert unfollowed["following"] is False
    assert (await dan.post(f"/api/v1/accounts/{eli.actor_id}/unfollow"))["following"] is False
    check_json_error(await dan.call("GET", "/api/v1/accounts/999"), 404)
    check_json_error(await dan.call("POST", "/api/v1/accounts/999/follow"), 404)
    check_json_error(await dan.call("GET", "/api/v1/accounts/lookup?acct=nobody"), 404)


async def test_community_posts_arrive_as_the_groups_reblogs(site: Site) -> None:
    """The community is a group account; its boosts of members' posts fill the home."""
    fox = await site.member("fox")
    gil = await site.member("gil")
    community = await _community_id(site)
    group = await fox.get(f"/api/v1/accounts/{community}")
    assert group["group"] is True and group["bot"] is False
    await fox.post(f"/api/v1/accounts/{community}/follow", data={"notify": "1"})
    post = await gil.post("/api/v1/statuses", data={"status": "free apples"})
    home = await fox.get("/api/v1/timelines/home")
    boost = next(s for s in home if s["reblog"] and s["reblog"]["id"] == post["id"])
    check_status(boost)
    assert boost["account"]["id"] == community and boost["account"]["group"] is True
    assert int(boost["id"]) > int(post["id"])
    group_statuses = await fox.get(f"/api/v1/accounts/{community}/statuses")
    assert boost["id"] in [s["id"] for s in group_statuses]
    alerts = await fox.get("/api/v1/notifications", params={"types[]": ["status"]})
    assert alerts and alerts[0]["status"]["id"] == boost["id"]
    check_notification(alerts[0])
    told = await gil.get("/api/v1/notifications", params={"types[]": "reblog"})
    assert [n["account"]["id"] for n in told] == [community]
    await fox.post(f"/api/v1/accounts/{gil.actor_id}/follow")
    again = await gil.post("/api/v1/statuses", data={"status": "and pears"})
    home = await fox.get("/api/v1/timelines/home")
    shown = [s for s in home if "pears" in (s["reblog"] or s)["content"]]
    assert [s["id"] for s in shown] == [again["id"]]  # the post once, not also its boost


async def test_notifications_list_filter_get_dismiss_clear(site: Site) -> None:
    """Follow and mention notifications, filtered by types; one read, one dismissed."""
    hex_ = await site.member("hex")
    ivy = await site.member("ivy")
    await ivy.post(f"/api/v1/accounts/{hex_.actor_id}/follow")
    await ivy.post("/api/v1/statuses", data={"status": "@hex want a lamp?"})
    every = await hex_.get("/api/v1/notifications")
    assert [n["type"] for n in every] == ["mention", "follow"]
    for notification in every:
        check_notification(notification)
    mentions = await hex_.get("/api/v1/notifications", params={"exclude_types[]": "follow"})
    assert [n["type"] for n in mentions] == ["mention"]
    one = await hex_.get(f"/api/v1/notifications/{every[1]['id']}")
    assert one == every[1]
    check_json_error(await ivy.call("GET", f"/api/v1/notifications/{every[1]['id']}"), 404)
    assert await hex_.post(f"/api/v1/notifications/{every[1]['id']}/dismiss") == {}
    assert [n["type"] for n in await hex_.get("/api/v1/notifications")] == ["mention"]
    check_json_error(await hex_.call("POST", "/api/v1/notifications/1/dismiss"), 404)
    assert await hex_.post("/api/v1/notifications/clear") == {}
    assert await hex_.get("/api/v1/notifications") == []


def _close_community(conn: Connection, uri: str) -> None:
    a = tables.actors
    conn.execute(update(a).where(a.c.uri == uri).values(manually_approves_followers=True))


async def test_follow_requests_of_a_closed_community(site: Site) -> None:
    """A closed community asks; an admin authorizes one request and rejects another."""
    runtime = site.instance.runtime
    await runtime.db.write(_close_community, runtime.instance.community_uri)
    admin = await site.member("root", is_admin=True)
    jan = await site.member("jan")
    kai = await site.member("kai")
    community = await _community_id(site)
    asked = await jan.post(f"/api/v1/accounts/{community}/follow")
    assert asked["requested"] is True and asked["following"] is False
    await kai.post(f"/api/v1/accounts/{community}/follow")
    requests = await admin.get("/api/v1/follow_requests")
    assert {a["acct"] for a in requests} == {"jan", "kai"}
    assert await jan.get("/api/v1/follow_requests") == []
    yes = await admin.post(f"/api/v1/follow_requests/{jan.actor_id}/authorize")
    check_relationship(yes)
    assert yes["followed_by"] is True
    await admin.post(f"/api/v1/follow_requests/{kai.actor_id}/reject")
    mine = await jan.get("/api/v1/accounts/relationships", params={"id[]": community})
    assert mine[0]["following"] is True
    theirs = await kai.get("/api/v1/accounts/relationships", params={"id[]": community})
    assert theirs[0]["following"] is False and theirs[0]["requested"] is False
    check_json_error(
        await admin.call("POST", f"/api/v1/follow_requests/{kai.actor_id}/reject"), 404
    )


async def test_profile_edits_and_a_locked_members_requests(site: Site) -> None:
    """update_credentials changes name and bio; a locked member answers requests."""
    lea = await site.member("lea")
    max_ = await site.member("maxi")
    ned = await site.member("ned")
    edited = await lea.call(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        data={"display_name": "Léa", "note": "Tools & seeds\nAsk me", "locked": "true"},
    )
    me = edited.json()
    check_account(me)
    assert me["display_name"] == "Léa" and me["locked"] is True
    assert me["note"] == "<p>Tools &amp; seeds<br />Ask me</p>"
    assert me["source"]["note"] == "Tools & seeds\nAsk me"
    too_long = await lea.call(
        "PATCH", "/api/v1/accounts/update_credentials", data={"display_name": "x" * 31}
    )
    check_json_error(too_long, 422)
    assert (await max_.post(f"/api/v1/accounts/{lea.actor_id}/follow"))["requested"] is True
    await ned.post(f"/api/v1/accounts/{lea.actor_id}/follow")
    asks = await lea.get("/api/v1/notifications", params={"types[]": "follow_request"})
    assert {n["account"]["acct"] for n in asks} == {"maxi", "ned"}
    assert {a["acct"] for a in await lea.get("/api/v1/follow_requests")} == {"maxi", "ned"}
    yes = await lea.post(f"/api/v1/follow_requests/{max_.actor_id}/authorize")
    assert yes["followed_by"] is True
    me = await lea.get("/api/v1/accounts/verify_credentials")
    assert me["source"]["follow_requests_count"] == 1
    await lea.call("PATCH", "/api/v1/accounts/update_credentials", json={"locked": False})
    theirs = await ned.get("/api/v1/accounts/relationships", params={"id[]": lea.actor_id})
    assert theirs[0]["following"] is True  # unlocking accepted the waiting request


async def test_a_listing_is_a_status_with_its_tags(site: Site) -> None:
    """The seam with listings: an offer is a status, tagged #offer and its category."""
    ola = await site.member("ola")
    pia = await site.member("pia")
    await pia.post(f"/api/v1/accounts/{ola.actor_id}/follow")
    draft = Draft(Purpose.OFFER, Kind.LEND, "Cargo bike", "Weekends only", "bikes", None)
    runtime = site.instance.runtime
    listing = await runtime.db.write(store.publish_listing, runtime, ola.actor_id, draft)
    status = await pia.get(f"/api/v1/statuses/{listing.id}")
    check_status(status)
    assert "Cargo bike" in status["content"]
    assert {"offer", "bikes"} <= {t["name"] for t in status["tags"]}
    assert status["id"] in [s["id"] for s in await pia.get("/api/v1/timelines/home")]
    by_tag = (await site.http.get("/api/v1/timelines/tag/offer")).json()
    assert [s["id"] for s in by_tag] == [status["id"]]
