"""Statuses through the client API: posting, formatting, reading, deleting, threads,
favourites, reblogs and bookmarks, with every entity checked and every refusal JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import running_instance
from tests.support.mastodon_client import Site
from tests.support.mastodon_entities import check_json_error, check_status

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    tmp = tmp_path_factory.mktemp("statuses")
    async with (
        running_instance("statuses", tmp, TEST_DATABASE_URL) as instance,
        httpx.AsyncClient(base_url=instance.base_url) as http,
    ):
        yield Site(instance, http)


async def test_post_as_form_and_as_json(site: Site) -> None:
    """A status posted as a form or as JSON comes back as a complete Status."""
    ann = await site.member("ann")
    as_form = await ann.post("/api/v1/statuses", data={"status": "Lending a ladder"})
    check_status(as_form)
    assert as_form["content"] == "<p>Lending a ladder</p>"
    assert as_form["visibility"] == "public"
    assert as_form["account"]["acct"] == "ann"
    as_json = await ann.post(
        "/api/v1/statuses",
        json={"status": "Quiet one", "visibility": "unlisted", "spoiler_text": "cw"},
    )
    check_status(as_json)
    assert as_json["visibility"] == "unlisted"
    assert as_json["spoiler_text"] == "cw" and as_json["sensitive"] is True
    assert int(as_json["id"]) > int(as_form["id"])
    again = await ann.get(f"/api/v1/statuses/{as_json['id']}")
    assert again == as_json


async def test_text_becomes_safe_html(site: Site) -> None:
    """Paragraphs, line breaks, links, mentions and hashtags; markup is escaped."""
    bea = await site.member("bea")
    text = "Hi @bea and @nobody!\nSee https://example.org/x?y=1 #Ladders\n\n<b>two</b> & more"
    status = await bea.post("/api/v1/statuses", json={"status": text})
    content = status["content"]
    assert content.startswith("<p>Hi ") and content.count("<p>") == 2
    assert "<br />" in content
    assert '<a href="https://example.org/x?y=1"' in content
    assert f'href="{site.base_url}/tags/ladders" class="mention hashtag"' in content
    assert 'class="u-url mention">@<span>bea</span></a>' in content
    assert "@nobody!" in content  # unknown: left as text
    assert "&lt;b&gt;two&lt;/b&gt; &amp; more" in content
    assert status["tags"] == [{"name": "ladders", "url": f"{site.base_url}/tags/ladders"}]
    assert [m["acct"] for m in status["mentions"]] == ["bea"]


async def test_idempotency_key_returns_the_same_status(site: Site) -> None:
    """A POST repeated with the same Idempotency-Key creates nothing new."""
    cy = await site.member("cy")
    key = {"Idempotency-Key": "retry-1"}
    first = await cy.post("/api/v1/statuses", data={"status": "once"}, headers=key)
    second = await cy.post("/api/v1/statuses", data={"status": "once"}, headers=key)
    other = await cy.post("/api/v1/statuses", data={"status": "once"})
    assert first["id"] == second["id"] != other["id"]
    me = await cy.get("/api/v1/accounts/verify_credentials")
    assert me["statuses_count"] == 2


async def test_delete_own_but_not_others(site: Site) -> None:
    """Only the author deletes a status; then it is gone (404) for everyone."""
    dee = await site.member("dee")
    eve = await site.member("eve")
    status = await dee.post("/api/v1/statuses", data={"status": "bike for loan"})
    check_json_error(await eve.call("DELETE", f"/api/v1/statuses/{status['id']}"), 403)
    deleted = await dee.call("DELETE", f"/api/v1/statuses/{status['id']}")
    assert deleted.status_code == 200 and deleted.json()["id"] == status["id"]
    assert deleted.json()["text"] == "bike for loan"  # for "delete and redraft"
    check_json_error(await eve.call("GET", f"/api/v1/statuses/{status['id']}"), 404)
    check_json_error(await dee.call("DELETE", f"/api/v1/statuses/{status['id']}"), 404)
    me = await dee.get("/api/v1/accounts/verify_credentials")
    assert me["statuses_count"] == 0 and me["last_status_at"] is not None


async def test_replies_and_context(site: Site) -> None:
    """A reply names its parent; the context lists ancestors and descendants."""
    fay = await site.member("fay")
    gus = await site.member("gus")
    root = await fay.post("/api/v1/statuses", data={"status": "who has a drill?"})
    reply = await gus.post(
        "/api/v1/statuses", data={"status": "I do", "in_reply_to_id": root["id"]}
    )
    check_status(reply)
    assert reply["in_reply_to_id"] == root["id"]
    assert reply["in_reply_to_account_id"] == root["account"]["id"]
    assert [m["acct"] for m in reply["mentions"]] == ["fay"]
    answer = await fay.post(
        "/api/v1/statuses", data={"status": "ta", "in_reply_to_id": reply["id"]}
    )
    context = await gus.get(f"/api/v1/statuses/{reply['id']}/context")
    assert [s["id"] for s in context["ancestors"]] == [root["id"]]
    assert [s["id"] for s in context["descendants"]] == [answer["id"]]
    for status in context["ancestors"] + context["descendants"]:
        check_status(status)
    again = await fay.get(f"/api/v1/statuses/{root['id']}")
    assert again["replies_count"] == 1


async def test_favourite_reblog_bookmark_and_undo(site: Site) -> None:
    """Each action shows in counts and flags, lists and notifications, and undoes."""
    hal = await site.member("hal")
    ida = await site.member("ida")
    status = await hal.post("/api/v1/statuses", data={"status": "spare seeds"})
    sid = status["id"]
    faved = await ida.post(f"/api/v1/statuses/{sid}/favourite")
    assert faved["favourited"] is True and faved["favourites_count"] == 1
    reblog = await ida.post(f"/api/v1/statuses/{sid}/reblog")
    check_status(reblog)
    assert reblog["reblog"]["id"] == sid and reblog["id"] != sid
    assert reblog["account"]["acct"] == "ida" and reblog["reblog"]["reblogged"] is True
    assert (await ida.post(f"/api/v1/statuses/{sid}/reblog"))["id"] == reblog["id"]
    marked = await ida.post(f"/api/v1/statuses/{sid}/bookmark")
    assert marked["bookmarked"] is True
    assert [s["id"] for s in await ida.get("/api/v1/bookmarks")] == [sid]
    assert [s["id"] for s in await ida.get("/api/v1/favourites")] == [sid]
    seen = await hal.get(f"/api/v1/statuses/{sid}")
    # The community's own boost (FEP-1b12) counts too.
    boosts = status["reblogs_count"]
    assert (seen["favourites_count"], seen["reblogs_count"]) == (1, boosts + 1)
    assert seen["favourited"] is False and seen["bookmarked"] is False
    faved_by = await hal.get(f"/api/v1/statuses/{sid}/favourited_by")
    assert [a["acct"] for a in faved_by] == ["ida"]
    boosted_by = {a["acct"] for a in await hal.get(f"/api/v1/statuses/{sid}/reblogged_by")}
    assert "ida" in boosted_by
    kinds = {n["type"] for n in await hal.get("/api/v1/notifications")}
    assert {"favourite", "reblog"} <= kinds

    assert (await ida.post(f"/api/v1/statuses/{sid}/unfavourite"))["favourited"] is False
    undone = await ida.post(f"/api/v1/statuses/{sid}/unreblog")
    assert undone["reblogged"] is False and undone["reblogs_count"] == boosts
    assert (await ida.post(f"/api/v1/statuses/{sid}/unbookmark"))["bookmarked"] is False
    check_json_error(await ida.call("GET", f"/api/v1/statuses/{reblog['id']}"), 404)
    assert await ida.get("/api/v1/bookmarks") == []


async def test_bad_requests_are_json_errors(site: Site) -> None:
    """Unknown ids, missing scopes and tokens, and malformed bodies: status and JSON."""
    jo = await site.member("jo")
    check_json_error(await jo.call("GET", "/api/v1/statuses/12345"), 404)
    check_json_error(await jo.call("GET", "/api/v1/statuses/not-a-number"), 404)
    check_json_error(await jo.call("POST", "/api/v1/statuses", data={"status": " "}), 422)
    long = {"status": "x" * 501}
    check_json_error(await jo.call("POST", "/api/v1/statuses", data=long), 422)
    odd = {"status": "x", "visibility": "everyone"}
    check_json_error(await jo.call("POST", "/api/v1/statuses", data=odd), 422)
    broken = await jo.call(
        "POST",
        "/api/v1/statuses",
        content=b'{"status": ',
        headers={"Content-Type": "application/json"},
    )
    check_json_error(broken, 400)
    check_json_error(await jo.call("POST", "/api/v1/statuses", json={"media_ids": ["9"]}), 422)
    check_json_error(await site.http.post("/api/v1/statuses", data={"status": "x"}), 401)
    read_only = await site.token("jo", scope="read")
    refused = await site.http.post(
        "/api/v1/statuses",
        data={"status": "x"},
        headers={"Authorization": f"Bearer {read_only}"},
    )
    check_json_error(refused, 403)
    check_json_error(await jo.call("GET", "/api/v1/no/such/thing"), 404)
    check_json_error(await jo.call("PATCH", "/api/v1/statuses"), 405)


async def test_private_and_direct_statuses_are_kept_to_their_audience(site: Site) -> None:
    """Followers-only posts reach followers; direct ones only those mentioned."""
    kim = await site.member("kim")
    lou = await site.member("lou")
    max_ = await site.member("max")
    await lou.post(f"/api/v1/accounts/{kim.actor_id}/follow")
    private = await kim.post(
        "/api/v1/statuses", data={"status": "home only", "visibility": "private"}
    )
    direct = await kim.post(
        "/api/v1/statuses", data={"status": "@max psst", "visibility": "direct"}
    )
    assert (await lou.call("GET", f"/api/v1/statuses/{private['id']}")).status_code == 200
    check_json_error(await max_.call("GET", f"/api/v1/statuses/{private['id']}"), 404)
    check_json_error(await site.http.get(f"/api/v1/statuses/{private['id']}"), 404)
    assert (await max_.call("GET", f"/api/v1/statuses/{direct['id']}")).status_code == 200
    check_json_error(await lou.call("GET", f"/api/v1/statuses/{direct['id']}"), 404)
    check_json_error(await lou.call("POST", f"/api/v1/statuses/{private['id']}/reblog"), 422)
    lou_home = [s["id"] for s in await lou.get("/api/v1/timelines/home")]
    assert private["id"] in lou_home and direct["id"] not in lou_home
    max_home = [s["id"] for s in await max_.get("/api/v1/timelines/home")]
    assert direct["id"] in max_home
    public = [s["id"] for s in (await site.http.get("/api/v1/timelines/public")).json()]
    assert private["id"] not in public and direct["id"] not in public
