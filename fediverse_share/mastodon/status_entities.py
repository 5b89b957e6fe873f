"""Status, MediaAttachment, Tag and Context entities (typed → wire).

Fields follow ``reference/mastodon-clients.md`` §4: every field of the strict
clients' Status, strings never null (``spoiler_text`` is ``""``), ids as strings,
instants with three fractional digits. A reblog is a wrapper status whose
``reblog`` is the original and whose own content is empty, as Mastodon sends it.
A listing's status carries a link ``card`` (PreviewCard) made from the listing;
any other status has ``card: null``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fediverse_share.clock import render_iso_millis
from fediverse_share.listings.cards import Card
from fediverse_share.mastodon.entities import render_account
from fediverse_share.mastodon.media import MediaFacts
from fediverse_share.mastodon.statuses import PostFacts, ReblogFacts, Status

JSON = dict[str, Any]


def render_media(item: MediaFacts) -> JSON:
    meta: JSON = {}
    if item.width and item.height:
        size = {
            "width": item.width,
            "height": item.height,
            "size": f"{item.width}x{item.height}",
            "aspect": item.width / item.height,
        }
        meta = {"original": size, "small": size}
    return {
        "id": item.media_id,
        "type": item.kind,
        "url": item.url,
        "preview_url": item.preview_url,
        "remote_url": item.remote_url,
        "preview_remote_url": None,
        "text_url": None,
        "meta": meta,
        "description": item.description,
        "blurhash": None,
    }


def render_card(card: Card) -> JSON:
    """A PreviewCard of type ``link``, every field the strict clients decode."""
    image = card.image
    return {
        "url": card.url,
        "title": card.title,
        "description": card.description,
        "type": "link",
        "author_name": card.author_name,
        "author_url": card.author_url,
        "provider_name": card.provider_name,
        "provider_url": card.provider_url,
        "html": "",
        "width": image.width if image else 0,
        "height": image.height if image else 0,
        "image": image.url if image else None,
        "image_description": "",
        "embed_url": "",
        "blurhash": None,
        "authors": [],
    }


def render_tag(name: str, base_url: str) -> JSON:
    return {"name": name, "url": f"{base_url}/tags/{quote(name)}"}


def _optional_id(value: int | None) -> str | None:
    return None if value is None else str(value)


def _viewer(flags: tuple[bool, bool, bool] | None, rendered: JSON) -> None:
    if flags is None:
        return
    favourited, reblogged, bookmarked = flags
    rendered.update(
        favourited=favourited,
        reblogged=reblogged,
        bookmarked=bookmarked,
        muted=False,
        pinned=False,
        filtered=[],
    )


def _render_post(post: PostFacts, base_url: str) -> JSON:
    rendered: JSON = {
        "id": str(post.post_id),
        "uri": post.uri,
        "url": post.url,
        "created_at": render_iso_millis(post.created_at_us),
        "edited_at": None if post.edited_at_us is None else render_iso_millis(post.edited_at_us),
        "account": render_account(post.account),
        "content": post.content_html,
        "visibility": post.visibility,
        "sensitive": post.sensitive,
        "spoiler_text": post.spoiler_text,
        "media_attachments": [render_media(m) for m in post.media],
        "mentions": [
            {"id": str(m.actor_id), "username": m.username, "acct": m.acct, "url": m.url}
            for m in post.mentions
        ],
        "tags": [render_tag(t, base_url) for t in post.tags],
        "emojis": [],
        "reblogs_count": post.reblogs_count,
        "favourites_count": post.favourites_count,
        "replies_count": post.replies_count,
        "in_reply_to_id": _optional_id(post.in_reply_to_id),
        "in_reply_to_account_id": _optional_id(post.in_reply_to_account_id),
        "reblog": None,
        "poll": None,
        "card": None if post.card is None else render_card(post.card),
        "language": post.language,
    }
    _viewer(post.viewer_flags, rendered)
    return rendered


def _render_reblog(reblog: ReblogFacts, base_url: str) -> JSON:
    original = _render_post(reblog.post, base_url)
    rendered: JSON = {
        **original,
        "id": str(reblog.reblog_id),
        "uri": reblog.uri,
        "url": reblog.uri,
        "created_at": render_iso_millis(reblog.created_at_us),
        "edited_at": None,
        "account": render_account(reblog.account),
        "content": "",
        "spoiler_text": "",
        "sensitive": False,
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "reblog": original,
        "card": None,  # the original carries it, as Mastodon sends a reblog
        "language": None,
    }
    return rendered


def render_status(status: Status, base_url: str) -> JSON:
    if isinstance(status, ReblogFacts):
        return _render_reblog(status, base_url)
    return _render_post(status, base_url)


def render_statuses(statuses: list[Status], base_url: str) -> list[JSON]:
    return [render_status(s, base_url) for s in statuses]


def render_context(ancestors: list[Status], descendants: list[Status], base_url: str) -> JSON:
    return {
        "ancestors": render_statuses(ancestors, base_url),
        "descendants": render_statuses(descendants, base_url),
    }
