"""Posting a status from a client: parameters checked, mentions resolved, text
formatted, then one write that publishes the Note (`federation.publish`), attaches
its media and remembers the ``Idempotency-Key``.

A public status that is not a reply and has no content warning, tagged ``#offer``
or ``#need``, is published as a listing instead (`listing_text` reads it;
`listings.store.publish_listing` sends it): the status the client gets back is the
listing's, its photos are the listing's, and the key remembers it the same way.

Remote mentions are resolved (WebFinger and an actor fetch) before the write, so
no database transaction waits on the network; a handle that cannot be resolved
stays plain text, as in Mastodon.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, select

from activitypub.errors import ActivityPubError
from fediverse_share import tables
from fediverse_share.clock import now_us
from fediverse_share.errors import AppError, BadRequest
from fediverse_share.federation import actions, publish
from fediverse_share.listings import model, store
from fediverse_share.mastodon import formatting, listing_text, media, timelines
from fediverse_share.mastodon import tables as mt
from fediverse_share.mastodon.errors import NotSupported, ValidationFailed
from fediverse_share.mastodon.instance import Limits
from fediverse_share.mastodon.statuses import Viewer
from fediverse_share.runtime import Runtime
from fediverse_share.upserts import insert_or_ignore

VISIBILITIES = ("public", "unlisted", "private", "direct")
_TRUE = frozenset({"1", "true", "on", "yes"})


@dataclass(frozen=True, slots=True)
class Draft:
    text: str
    visibility: str
    spoiler_text: str
    sensitive: bool
    language: str | None
    in_reply_to_id: int | None
    media_ids: tuple[int, ...]


def flag(value: object) -> bool:
    """A boolean as clients send it: ``true``/``false``, ``1``/``0``, or JSON."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in _TRUE


def _text(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None:
        return ""
    if not isinstance(value, str | int | float):
        raise BadRequest(f"{name} must be a string", code="invalid_parameter")
    return str(value)


def _ids(value: object, name: str) -> tuple[int, ...]:
    items = value if isinstance(value, list) else ([] if value in (None, "") else [value])
    try:
        return tuple(int(str(item)) for item in items)
    except ValueError as exc:
        raise BadRequest(f"{name} must be ids", code="invalid_parameter") from exc


def parse_draft(params: Mapping[str, Any]) -> Draft:
    limits = Limits()
    if params.get("poll"):
        raise NotSupported("Polls are not supported here")
    text = _text(params, "status")
    media_ids = _ids(params.get("media_ids"), "media_ids")
    if not text.strip() and not media_ids:
        raise ValidationFailed("Text can't be blank")
    if len(text) > limits.max_characters:
        raise ValidationFailed(f"Text character limit of {limits.max_characters} exceeded")
    if len(media_ids) > limits.max_media_attachments:
        raise ValidationFailed(f"At most {limits.max_media_attachments} media attachments")
    visibility = _text(params, "visibility") or "public"
    if visibility not in VISIBILITIES:
        raise ValidationFailed(f"Visibility must be one of {', '.join(VISIBILITIES)}")
    reply_to = _text(params, "in_reply_to_id")
    if reply_to and not reply_to.isdigit():
        raise BadRequest("in_reply_to_id must be an id", code="invalid_parameter")
    return Draft(
        text=text,
        visibility=visibility,
        spoiler_text=_text(params, "spoiler_text").strip(),
        sensitive=flag(params.get("sensitive", False)),
        language=(_text(params, "language") or None),
        in_reply_to_id=int(reply_to) if reply_to else None,
        media_ids=media_ids,
    )


async def _resolve_mentions(
    runtime: Runtime, text: str
) -> dict[str, tuple[formatting.MentionTarget, RowMapping]]:
    found: dict[str, tuple[formatting.MentionTarget, RowMapping]] = {}
    for username, domain in formatting.parse_mentions(text):
        handle = f"{username}@{domain or runtime.instance.domain}"
        row = await runtime.db.read(_known_actor, username, domain or runtime.instance.domain)
        if row is None and domain:
            with contextlib.suppress(AppError, ActivityPubError):
                row = await actions.resolve(runtime, handle)
        if row is None or row["type"] == "Application":
            continue
        target = formatting.MentionTarget(row["uri"], row["url"] or row["uri"], row["username"])
        found[formatting.handle_key(username, domain)] = (target, row)
    return found


def _known_actor(conn: Connection, username: str, domain: str) -> RowMapping | None:
    a = tables.actors
    query = select(a).where(a.c.username == username.lower(), a.c.domain == domain.lower())
    return conn.execute(query).mappings().first()


def _note_extras(
    draft: Draft, mentioned: list[RowMapping], attached: list[media.MediaFacts], base: str
) -> dict[str, Any]:
    tags: list[dict[str, Any]] = [
        {"type": "Mention", "href": row["uri"], "name": f"@{row['username']}@{row['domain']}"}
        for row in mentioned
    ]
    tags += [
        {"type": "Hashtag", "href": f"{base}/tags/{name}", "name": f"#{name}"}
        for name in formatting.parse_hashtags(draft.text)
    ]
    extra: dict[str, Any] = {
        "tag": tags,
        "sensitive": draft.sensitive or bool(draft.spoiler_text),
        # ActivityPub's `source`: what the member typed, for "delete and redraft".
        "source": {"content": draft.text, "mediaType": "text/plain"},
    }
    if attached:
        extra["attachment"] = media.as_document_attachments(attached)
    return extra


def _find_idempotent(conn: Connection, user_id: int, key: str) -> int | None:
    k = mt.status_idempotency
    found = conn.execute(select(k.c.post_id).where(k.c.user_id == user_id, k.c.key == key))
    post_id: int | None = found.scalar()
    return post_id


def _as_listing(runtime: Runtime, draft: Draft) -> model.Draft | None:
    """The listing a status describes; None for a plain post."""
    if draft.visibility != "public" or draft.in_reply_to_id is not None or draft.spoiler_text:
        return None
    info = runtime.instance
    return listing_text.parse_listing(draft.text, info.community_username, info.domain)


def _publish_listing(
    conn: Connection, runtime: Runtime, viewer: Viewer, draft: Draft, listing: model.Draft
) -> int:
    attached = media.claim_for_post(conn, viewer.user_id, list(draft.media_ids), runtime.instance)
    extra: dict[str, Any] = {"source": {"content": draft.text, "mediaType": "text/plain"}}
    if attached:
        extra["attachment"] = media.as_document_attachments(attached)
    published = store.publish_listing(conn, runtime, viewer.actor_id, listing, extra=extra)
    media.attach(conn, list(draft.media_ids), published.id)
    return published.id


def _publish_note(
    conn: Connection,
    runtime: Runtime,
    viewer: Viewer,
    draft: Draft,
    content_html: str,
    mentioned: list[RowMapping],
) -> int:
    in_reply_to = None
    if draft.in_reply_to_id is not None:
        parent = timelines.visible_post(conn, draft.in_reply_to_id, viewer)
        in_reply_to = parent["uri"]
        parent_author = (
            conn.execute(select(tables.actors).where(tables.actors.c.id == parent["actor_id"]))
            .mappings()
            .one()
        )
        known = {row["uri"] for row in mentioned}
        if parent_author["id"] != viewer.actor_id and parent_author["uri"] not in known:
            mentioned = [*mentioned, parent_author]
    attached = media.claim_for_post(conn, viewer.user_id, list(draft.media_ids), runtime.instance)
    extra = _note_extras(draft, mentioned, attached, runtime.instance.base_url)
    if draft.language:
        extra["contentMap"] = {draft.language: content_html}
    published = publish.publish_note(
        conn,
        runtime,
        viewer.actor_id,
        content_html,
        visibility=draft.visibility,
        in_reply_to=in_reply_to,
        summary=draft.spoiler_text,
        mentions=[row["uri"] for row in mentioned],
        extra=extra,
    )
    media.attach(conn, list(draft.media_ids), published.post_id)
    return published.post_id


def _publish(
    conn: Connection,
    runtime: Runtime,
    viewer: Viewer,
    draft: Draft,
    content_html: str,
    mentioned: list[RowMapping],
    idempotency_key: str | None,
    listing: model.Draft | None,
) -> int:
    if idempotency_key and (done := _find_idempotent(conn, viewer.user_id, idempotency_key)):
        return done
    if listing is not None:
        post_id = _publish_listing(conn, runtime, viewer, draft, listing)
    else:
        post_id = _publish_note(conn, runtime, viewer, draft, content_html, mentioned)
    if idempotency_key:
        row = {
            "user_id": viewer.user_id,
            "key": idempotency_key,
            "post_id": post_id,
            "created_at_us": now_us(),
        }
        insert_or_ignore(conn, mt.status_idempotency, [row])
    return post_id


async def create_status(
    runtime: Runtime, viewer: Viewer, draft: Draft, idempotency_key: str | None
) -> int:
    """Publish the draft; the new post's id (or the earlier one for a repeated key)."""
    key = (idempotency_key or "").strip()[:255] or None
    if key and (done := await runtime.db.read(_find_idempotent, viewer.user_id, key)):
        return done
    listing = _as_listing(runtime, draft)
    if listing is not None:  # a listing renders its own content and mentions nobody
        return await runtime.db.write(_publish, runtime, viewer, draft, "", [], key, listing)
    resolved = await _resolve_mentions(runtime, draft.text)
    targets = {handle: target for handle, (target, _) in resolved.items()}
    content = formatting.render_text(draft.text, targets, runtime.instance.base_url)
    mentioned = [row for _, row in resolved.values()]
    return await runtime.db.write(_publish, runtime, viewer, draft, content, mentioned, key, None)
