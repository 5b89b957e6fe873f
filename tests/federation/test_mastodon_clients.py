"""Mastodon.py and toot, real third-party clients, use a member's account end to end:
log in, post, follow a community on another instance, see its posts arrive as the
Group's reblogs, favourite and boost them across instances, read notifications; post
an offer from an app and see it reach, and be matched on, the other instance."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from mastodon import Mastodon
from toot import api as toot_api
from toot import auth as toot_auth

from fediverse_share.trades.negotiation import trade_id_for
from fediverse_share.worker import run_until_idle
from tests.support.instances import Instance
from tests.support.mastodon_client import PASSWORD, Member, Site
from tests.support.mastodon_entities import check_account, check_notification, check_status
from tests.web.oauth_client import code_on_page, read_form

SCOPES = ["read", "write", "follow", "push"]


async def _mastodon_py(site: Site, username: str) -> Mastodon:
    """Mastodon.py registers its app (form, oob) and logs in with the password grant."""
    client_id, client_secret = await asyncio.to_thread(
        Mastodon.create_app, "Mastodon.py e2e", scopes=SCOPES, api_base_url=site.base_url
    )
    api = Mastodon(
        client_id=client_id,
        client_secret=client_secret,
        api_base_url=site.base_url,
        version_check_mode="none",
    )
    await asyncio.to_thread(api.log_in, username, PASSWORD, scopes=SCOPES, allow_http=True)
    return api


async def _toot_code_flow(site: Site, username: str) -> tuple[Any, Any]:
    """toot reads the instance, registers (JSON, oob), and logs in with a code from the page."""
    app = await asyncio.to_thread(toot_auth.get_or_create_app, site.base_url)
    url = toot_api.get_browser_login_url(app)
    assert "/oauth/authorize/?" in url  # toot's trailing slash
    async with httpx.AsyncClient() as browser:
        action, fields = read_form((await browser.get(url)).text)
        fields.update(username=username, password=PASSWORD, decision="approve")
        shown = await browser.post(f"{site.base_url}{action}", data=fields)
    user = await asyncio.to_thread(toot_auth.login_auth_code, app, code_on_page(shown.text))
    return app, user


async def _raw(member: Member, path: str, **params: Any) -> Any:
    return await member.get(path, params=params)


async def test_clients_follow_a_remote_community_and_interact(
    two: tuple[Instance, Instance], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mastodon.py and toot on B follow A's community; A's posts arrive as its reblogs."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    a, b = two
    async with (
        httpx.AsyncClient(base_url=a.base_url) as ha,
        httpx.AsyncClient(base_url=b.base_url) as hb,
    ):
        site_a, site_b = Site(a, ha), Site(b, hb)
        alice = await site_a.member("alice")
        bob = await site_b.member("bob")
        carol = await site_b.member("carol")
        api = await _mastodon_py(site_b, "bob")
        toot_app, toot_user = await _toot_code_flow(site_b, "carol")

        # Posting and reading home, with both clients.
        mine = await asyncio.to_thread(api.status_post, "Hello from B, #tools to share")
        home = await asyncio.to_thread(api.timeline_home)
        assert [s.id for s in home][:1] == [mine.id]
        posted = await asyncio.to_thread(toot_api.post_status, toot_app, toot_user, "carol here")
        assert posted.json()["account"]["acct"] == "carol"

        # Resolve and follow A's community (WebFinger + actor fetch), as toot does it.
        handle = f"{a.runtime.instance.community_username}@{a.domain}"
        found = await asyncio.to_thread(api.search_v2, f"@{handle}", resolve=True)
        group = next(acc for acc in found.accounts if acc.acct == handle)
        assert group.group is True
        relation = await asyncio.to_thread(api.account_follow, group.id, notify=True)
        assert relation.requested is True or relation.following is True
        community = await asyncio.to_thread(toot_api.find_account, toot_app, toot_user, handle)
        await asyncio.to_thread(toot_api.follow, toot_app, toot_user, community["id"])
        await run_until_idle(a.runtime, b.runtime)
        relation = (await asyncio.to_thread(api.account_relationships, [group.id]))[0]
        assert relation.following is True and relation.notifying is True

        # Alice posts on A: the community announces it; B shows the Group's reblog.
        original = await alice.post("/api/v1/statuses", data={"status": "Ladder free to borrow"})
        await run_until_idle(a.runtime, b.runtime)
        home = await _raw(bob, "/api/v1/timelines/home")
        boost = next(s for s in home if s["reblog"] and s["reblog"]["uri"] == original["uri"])
        for status in home:
            check_status(status)
        assert boost["account"]["acct"] == handle and boost["account"]["group"] is True
        assert "Ladder free to borrow" in boost["reblog"]["content"]
        assert boost["reblog"]["account"]["acct"] == f"alice@{a.domain}"
        check_account(boost["reblog"]["account"])
        via_toot = await asyncio.to_thread(
            lambda: next(toot_api.home_timeline_generator(toot_app, toot_user, limit=10))
        )
        assert boost["reblog"]["uri"] in [s["reblog"]["uri"] for s in via_toot if s["reblog"]]
        alerts = await asyncio.to_thread(api.notifications, types=["status"])
        assert [n.status.id for n in alerts] == [boost["id"]]
        for notification in await _raw(bob, "/api/v1/notifications"):
            check_notification(notification)

        # Bob favourites and boosts it, and carol mentions alice: A hears of all three.
        remote_id = boost["reblog"]["id"]
        await asyncio.to_thread(api.status_favourite, remote_id)
        await asyncio.to_thread(api.status_reblog, remote_id)
        await asyncio.to_thread(
            toot_api.post_status, toot_app, toot_user, f"@alice@{a.domain} may I borrow it?"
        )
        await run_until_idle(a.runtime, b.runtime)
        told = await _raw(alice, "/api/v1/notifications")
        kinds = {(n["type"], n["account"]["acct"]) for n in told}
        assert {
            ("favourite", f"bob@{b.domain}"),
            ("reblog", f"bob@{b.domain}"),
            ("mention", f"carol@{b.domain}"),
        } <= kinds
        for notification in told:
            check_notification(notification)
        seen = await _raw(alice, f"/api/v1/statuses/{original['id']}")
        assert seen["favourites_count"] == 1

        # Undo travels too.
        await asyncio.to_thread(api.status_unfavourite, remote_id)
        await asyncio.to_thread(api.status_unreblog, remote_id)
        await run_until_idle(a.runtime, b.runtime)
        seen = await _raw(alice, f"/api/v1/statuses/{original['id']}")
        assert seen["favourites_count"] == 0
        assert seen["reblogs_count"] == original["reblogs_count"]

        # toot's command line, configured by the login above, reads the same account.
        env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "toot", "whoami",
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        assert "carol" in out.decode()
        assert carol.username == "carol"


async def _exchange(
    http: httpx.AsyncClient, api: Mastodon, path: str, body: Any, key: str = "once"
) -> Any:
    headers = {"Authorization": f"Bearer {api.access_token}", "Idempotency-Key": key}
    response = await http.post(f"/api/exchange/v1{path}", json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def test_an_offer_from_an_app_reaches_another_community_and_is_matched(
    two: tuple[Instance, Instance],
) -> None:
    """Mastodon.py: an #offer on A reaches B as the Group's reblog with card and tags; a
    #need on B is matched with it; the trade's steps come back as notifications."""
    a, b = two
    async with (
        httpx.AsyncClient(base_url=a.base_url) as ha,
        httpx.AsyncClient(base_url=b.base_url) as hb,
    ):
        site_a, site_b = Site(a, ha), Site(b, hb)
        await site_a.member("alice")
        bob = await site_b.member("bob")
        alice_app = await _mastodon_py(site_a, "alice")
        bob_app = await _mastodon_py(site_b, "bob")
        handle = f"{a.runtime.instance.community_username}@{a.domain}"
        found = await asyncio.to_thread(bob_app.search_v2, f"@{handle}", resolve=True)
        group = next(acc for acc in found.accounts if acc.acct == handle)
        await asyncio.to_thread(bob_app.account_follow, group.id)
        await run_until_idle(a.runtime, b.runtime)

        # Alice offers a ladder from her app: the status she gets back is the listing's.
        text = "#offer Aluminium ladder, 3 m #lend #tools\nPick it up in Kreuzberg."
        offer = await asyncio.to_thread(alice_app.status_post, text, idempotency_key="ladder")
        assert offer.card.title == "Offer: Aluminium ladder, 3 m"
        await run_until_idle(a.runtime, b.runtime)

        # Bob's home on B holds the community's reblog, with the card and the tags.
        home = await _raw(bob, "/api/v1/timelines/home")
        for status in home:
            check_status(status)
        boost = next(s for s in home if s["reblog"] and s["reblog"]["uri"] == offer.uri)
        assert boost["account"]["acct"] == handle and boost["account"]["group"] is True
        shown = boost["reblog"]
        assert shown["account"]["acct"] == f"alice@{a.domain}"
        assert {"offer", "tools"} <= {t["name"] for t in shown["tags"]}
        assert shown["card"]["title"] == "Offer: Aluminium ladder, 3 m"
        assert shown["card"]["provider_name"] == group.display_name
        # Only the listing's description follows the terms: not its title, link or tags.
        assert shown["card"]["description"] == "lend · Pick it up in Kreuzberg."

        # Bob's need on B is matched with Alice's offer: a status notification.
        need = "#need A ladder for the weekend #tools"
        await asyncio.to_thread(bob_app.status_post, need)
        alerts = await asyncio.to_thread(bob_app.notifications, types=["status"])
        assert [(n.account.acct, n.status.uri) for n in alerts] == [
            (f"alice@{a.domain}", offer.uri)
        ]
        for notification in await _raw(bob, "/api/v1/notifications"):
            check_notification(notification)

        # Bob proposes a loan on it; each side hears of the other's step from its community.
        due = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        body = {"listing_uri": offer.uri, "return_due_at": due}
        trade = await _exchange(hb, bob_app, "/trades", body, "ladder")
        await run_until_idle(a.runtime, b.runtime)
        [asked] = await asyncio.to_thread(alice_app.notifications, types=["mention"])
        assert asked.account.acct == a.runtime.instance.community_username
        assert f"@bob@{b.domain}</a> proposes a trade on" in asked.status.content
        bob_uri = (await asyncio.to_thread(bob_app.me)).uri
        on_a = trade_id_for(f"{bob_uri}/agreements/ladder")  # A's id for B's Agreement
        assert f"<code>{on_a}</code>" in asked.status.content
        await _exchange(ha, alice_app, f"/trades/{on_a}/accept", {})
        await run_until_idle(a.runtime, b.runtime)
        [answer] = await asyncio.to_thread(bob_app.notifications, types=["mention"])
        assert answer.account.acct == b.runtime.instance.community_username
        assert f"@alice@{a.domain}</a> accepted the trade on" in answer.status.content
        assert f"<code>{trade['id']}</code>" in answer.status.content
        for notification in await _raw(bob, "/api/v1/notifications"):
            check_notification(notification)
