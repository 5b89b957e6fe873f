"""Accounts, relationships, follows and follow requests of the Mastodon client API."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from activitypub.errors import ActivityPubError
from fediverse_share.errors import AppError, BadRequest, NotFound
from fediverse_share.federation import actions
from fediverse_share.mastodon import accounts, compose, pages, relationships, search, timelines
from fediverse_share.mastodon.entities import render_account
from fediverse_share.mastodon.social_entities import render_relationship
from fediverse_share.mastodon.status_entities import render_statuses
from fediverse_share.mastodon.statuses import load_statuses
from fediverse_share.web.mastodon_http import (
    APIResponse,
    member_of,
    optional_viewer,
    page_response,
    params_of,
    path_id,
    query_params,
    runtime_of,
    viewer,
)


async def get_account(request: Request) -> Response:
    await optional_viewer(request)
    runtime = runtime_of(request)
    actor = await runtime.db.read(relationships.get_actor, path_id(request))
    facts = await runtime.db.read(accounts.get_account, actor["id"], runtime.instance)
    return APIResponse(render_account(facts))


async def account_statuses(request: Request) -> Response:
    who = await optional_viewer(request, "read:statuses")
    runtime = runtime_of(request)
    actor = await runtime.db.read(relationships.get_actor, path_id(request))
    q = request.query_params
    how = timelines.AccountFilter(
        exclude_replies=compose.flag(q.get("exclude_replies", False)),
        exclude_reblogs=compose.flag(q.get("exclude_reblogs", False)),
        only_media=compose.flag(q.get("only_media", False)),
        pinned=compose.flag(q.get("pinned", False)),
        tagged=q.get("tagged") or None,
    )
    page = pages.parse_page(q)
    ids = await runtime.db.read(timelines.account_ids, actor["id"], who, page, how)
    found = await runtime.db.read(load_statuses, ids, runtime.instance, who)
    body = render_statuses(found, runtime.instance.base_url)
    return page_response(request, body, ids, query_params(request))


async def relationships_of(request: Request) -> Response:
    who = await viewer(request, "read:follows")
    raw = query_params(request).get("id", [])
    others = [int(i) for i in (raw if isinstance(raw, list) else [raw]) if str(i).isdigit()]
    runtime = runtime_of(request)
    found = await runtime.db.read(relationships.load, who.actor_id, others[:100])
    return APIResponse([render_relationship(r) for r in found])


def _option(params: dict[str, object], name: str) -> bool | None:
    return compose.flag(params[name]) if name in params else None


async def follow(request: Request) -> Response:
    who = await viewer(request, "write:follows")
    params = await params_of(request)
    runtime = runtime_of(request)
    found = await runtime.db.write(
        relationships.follow,
        runtime,
        who.actor_id,
        who.user_id,
        path_id(request),
        reblogs=_option(params, "reblogs"),
        notify=_option(params, "notify"),
    )
    return APIResponse(render_relationship(found))


async def unfollow(request: Request) -> Response:
    who = await viewer(request, "write:follows")
    runtime = runtime_of(request)
    found = await runtime.db.write(
        relationships.unfollow, runtime, who.actor_id, who.user_id, path_id(request)
    )
    return APIResponse(render_relationship(found))


async def lookup(request: Request) -> Response:
    await optional_viewer(request)
    runtime = runtime_of(request)
    acct = (request.query_params.get("acct") or "").strip().lstrip("@")
    if not acct:
        raise BadRequest("acct is required", code="invalid_parameter")
    if "@" not in acct:
        acct = f"{acct}@{runtime.instance.domain}"
    try:
        actor = await actions.resolve(runtime, acct)
    except (AppError, ActivityPubError) as exc:
        raise NotFound("Record not found") from exc
    if actor["type"] == "Application":
        raise NotFound("Record not found")
    facts = await runtime.db.read(accounts.get_account, actor["id"], runtime.instance)
    return APIResponse(render_account(facts))


async def search_accounts(request: Request) -> Response:
    """v1 account search (mention autocompletion in Elk and Tusky): known accounts only."""
    await viewer(request, "read:accounts")
    runtime = runtime_of(request)
    q = (request.query_params.get("q") or "").strip().lstrip("@")
    limit = pages.parse_page(request.query_params, default=40, maximum=80).limit
    ids = await runtime.db.read(search.accounts_like, q, limit, 0) if q else []
    found = await runtime.db.read(accounts.load_accounts, ids, runtime.instance)
    return APIResponse([render_account(found[i]) for i in ids if i in found])


async def nothing_of_account(request: Request) -> Response:
    """Featured tags and lists of an account: none exist here."""
    await optional_viewer(request)
    await runtime_of(request).db.read(relationships.get_actor, path_id(request))
    return APIResponse([])


async def familiar_followers(request: Request) -> Response:
    await viewer(request, "read:follows")
    raw = query_params(request).get("id", [])
    ids = [str(i) for i in (raw if isinstance(raw, list) else [raw]) if str(i).isdigit()]
    return APIResponse([{"id": i, "accounts": []} for i in ids])


async def _follow_list(request: Request, *, followers: bool) -> Response:
    await optional_viewer(request)
    runtime = runtime_of(request)
    actor = await runtime.db.read(relationships.get_actor, path_id(request))
    page = pages.parse_page(request.query_params)
    rows = await runtime.db.read(
        relationships.page_of_follows, actor["id"], page, followers=followers
    )
    found = await runtime.db.read(accounts.load_accounts, [r[1] for r in rows], runtime.instance)
    body = [render_account(found[other]) for _, other in rows if other in found]
    return page_response(request, body, [r[0] for r in rows], query_params(request))


async def followers(request: Request) -> Response:
    return await _follow_list(request, followers=True)


async def following(request: Request) -> Response:
    return await _follow_list(request, followers=False)


async def _managed(request: Request, scope: str) -> tuple[int, list[int]]:
    who = await viewer(request, scope)
    member = await member_of(request, who.user_id)
    managed = await runtime_of(request).db.read(
        relationships.managed_actor_ids, who.actor_id, member.is_admin
    )
    return who.actor_id, managed


async def follow_requests(request: Request) -> Response:
    _, managed = await _managed(request, "read:follows")
    runtime = runtime_of(request)
    page = pages.parse_page(request.query_params)
    rows = await runtime.db.read(relationships.request_ids, managed, page)
    found = await runtime.db.read(accounts.load_accounts, [r[1] for r in rows], runtime.instance)
    body = [render_account(found[other]) for _, other in rows if other in found]
    return page_response(request, body, [r[0] for r in rows], query_params(request))


async def _answer(request: Request, *, accept: bool) -> Response:
    _, managed = await _managed(request, "write:follows")
    runtime = runtime_of(request)
    found = await runtime.db.write(
        relationships.answer, runtime, managed, path_id(request), accept=accept
    )
    return APIResponse(render_relationship(found))


async def authorize(request: Request) -> Response:
    return await _answer(request, accept=True)


async def reject(request: Request) -> Response:
    return await _answer(request, accept=False)


def routes() -> list[BaseRoute]:
    return [
        Route("/api/v1/accounts/relationships", relationships_of),
        Route("/api/v1/accounts/lookup", lookup),
        Route("/api/v1/accounts/search", search_accounts),
        Route("/api/v1/accounts/familiar_followers", familiar_followers),
        Route("/api/v1/accounts/{id}/featured_tags", nothing_of_account),
        Route("/api/v1/accounts/{id}/lists", nothing_of_account),
        Route("/api/v1/accounts/{id}", get_account),
        Route("/api/v1/accounts/{id}/statuses", account_statuses),
        Route("/api/v1/accounts/{id}/followers", followers),
        Route("/api/v1/accounts/{id}/following", following),
        Route("/api/v1/accounts/{id}/follow", follow, methods=["POST"]),
        Route("/api/v1/accounts/{id}/unfollow", unfollow, methods=["POST"]),
        Route("/api/v1/follow_requests", follow_requests),
        Route("/api/v1/follow_requests/{id}/authorize", authorize, methods=["POST"]),
        Route("/api/v1/follow_requests/{id}/reject", reject, methods=["POST"]),
    ]
