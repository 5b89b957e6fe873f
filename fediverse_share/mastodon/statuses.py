"""What a Status shows, loaded for a whole page of statuses in a fixed number of queries.

A status id is either a post's id (an original) or a reblog's id (an Announce,
shown as a wrapper whose ``reblog`` is the original). `load_statuses` takes a
page of such ids and returns typed facts in the same order, skipping what is
gone; rendering is `fediverse_share.mastodon.status_entities`. Who may see what
is decided by the callers' queries (`visibility`), never here.

Listings (offers and needs) are posts too (same id), so they load here like any
post, with their listing's columns read in the same query; the listings module owns
how their content and card look (`fediverse_share.listings.cards`).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, bindparam, select

from fediverse_share import tables
from fediverse_share.listings import cards
from fediverse_share.mastodon import media, status_counts
from fediverse_share.mastodon import tables as mt
from fediverse_share.mastodon.accounts import AccountFacts, load_accounts
from fediverse_share.runtime import InstanceInfo


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking: their actor (for favourited, reblogged) and member id (bookmarks)."""

    actor_id: int
    user_id: int


@dataclass(frozen=True, slots=True)
class MentionFacts:
    actor_id: int
    username: str
    acct: str
    url: str


@dataclass(frozen=True, slots=True)
class PostFacts:
    post_id: int
    uri: str
    url: str
    created_at_us: int
    edited_at_us: int | None
    account: AccountFacts
    content_html: str
    spoiler_text: str
    visibility: str
    sensitive: bool
    language: str | None
    in_reply_to_id: int | None
    in_reply_to_account_id: int | None
    media: tuple[media.MediaFacts, ...]
    mentions: tuple[MentionFacts, ...]
    tags: tuple[str, ...]
    replies_count: int
    reblogs_count: int
    favourites_count: int
    #: (favourited, reblogged, bookmarked) for the viewer; None when anonymous.
    viewer_flags: tuple[bool, bool, bool] | None
    #: The link card of a listing; None for any other post.
    card: cards.Card | None = None

    @property
    def status_id(self) -> int:
        return self.post_id


@dataclass(frozen=True, slots=True)
class ReblogFacts:
    reblog_id: int
    uri: str
    created_at_us: int
    account: AccountFacts
    post: PostFacts

    @property
    def status_id(self) -> int:
        return self.reblog_id


Status = PostFacts | ReblogFacts


def document_of(row: RowMapping) -> dict[str, Any]:
    try:
        doc = orjson.loads(row["document"])
    except orjson.JSONDecodeError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _tags_of(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    tags = doc.get("tag")
    tags = [tags] if isinstance(tags, dict) else tags
    return [t for t in tags or [] if isinstance(t, dict) and t.get("type") == kind]


def hashtags_of(doc: dict[str, Any]) -> list[str]:
    """The hashtags of a note, lowercased and without ``#``."""
    names = []
    for tag in _tags_of(doc, "Hashtag"):
        name = str(tag.get("name") or "").lstrip("#").strip().lower()
        if name and len(name) <= 100:
            names.append(name)
    return list(dict.fromkeys(names))


def mention_uris_of(doc: dict[str, Any]) -> list[str]:
    return [str(t["href"]) for t in _tags_of(doc, "Mention") if isinstance(t.get("href"), str)]


def _language(doc: dict[str, Any]) -> str | None:
    content_map = doc.get("contentMap")
    if isinstance(content_map, dict) and content_map:
        first = next(iter(content_map))
        return str(first)[:8] if first else None
    return None


_REBLOGS_BY_ID = select(mt.reblogs).where(mt.reblogs.c.id.in_(bindparam("ids", expanding=True)))
_POSTS_BY_ID = (
    select(tables.posts, *cards.COLUMNS)
    .select_from(cards.with_listings(tables.posts))
    .where(
        tables.posts.c.id.in_(bindparam("ids", expanding=True)),
        tables.posts.c.deleted_at_us.is_(None),
    )
)


def _parents(conn: Connection, posts: list[RowMapping]) -> dict[str, tuple[int, int]]:
    uris = {p["in_reply_to_uri"] for p in posts if p["in_reply_to_uri"]}
    if not uris:
        return {}
    p = tables.posts
    rows = conn.execute(select(p.c.uri, p.c.id, p.c.actor_id).where(p.c.uri.in_(uris)))
    return {row.uri: (row.id, row.actor_id) for row in rows}


def _mentioned(conn: Connection, uris: Iterable[str]) -> dict[str, MentionFacts]:
    wanted = set(uris)
    if not wanted:
        return {}
    a = tables.actors
    rows = conn.execute(select(a).where(a.c.uri.in_(wanted))).mappings()
    return {
        row["uri"]: MentionFacts(
            row["id"],
            row["username"],
            row["username"] if row["local"] else f"{row['username']}@{row['domain']}",
            row["url"] or row["uri"],
        )
        for row in rows
    }


def _content(row: RowMapping, doc: dict[str, Any]) -> str:
    if row["content"]:
        return str(row["content"])
    # An Article or Page without content: its name, as Mastodon shows it.
    name = doc.get("name")
    return f"<p>{html.escape(name, quote=False)}</p>" if isinstance(name, str) and name else ""


def load_statuses(
    conn: Connection,
    status_ids: Sequence[int],
    info: InstanceInfo,
    viewer: Viewer | None = None,
) -> list[Status]:
    """Statuses in the order of ``status_ids``; deleted or unknown ones are left out."""
    if not status_ids:
        return []
    reblogs = conn.execute(_REBLOGS_BY_ID, {"ids": list(status_ids)}).mappings()
    reblog_rows = {row["id"]: row for row in reblogs}
    post_ids = {sid for sid in status_ids if sid not in reblog_rows}
    post_ids |= {row["post_id"] for row in reblog_rows.values()}
    post_rows = list(conn.execute(_POSTS_BY_ID, {"ids": list(post_ids)}).mappings())
    posts = _load_posts(
        conn, post_rows, info, viewer, [x["actor_id"] for x in reblog_rows.values()]
    )
    out: list[Status] = []
    for sid in status_ids:
        reblog = reblog_rows.get(sid)
        if reblog is None:
            if sid in posts:
                out.append(posts[sid][0])
            continue
        found = posts.get(reblog["post_id"])
        booster = found[1].get(reblog["actor_id"]) if found else None
        if found is not None and booster is not None:
            out.append(
                ReblogFacts(reblog["id"], reblog["uri"], reblog["created_at_us"], booster, found[0])
            )
    return out


def _load_posts(
    conn: Connection,
    rows: list[RowMapping],
    info: InstanceInfo,
    viewer: Viewer | None,
    extra_actor_ids: list[int],
) -> dict[int, tuple[PostFacts, dict[int, AccountFacts]]]:
    if not rows:
        return {}
    docs = {row["id"]: document_of(row) for row in rows}
    accounts = load_accounts(conn, [*(row["actor_id"] for row in rows), *extra_actor_ids], info)
    counts = status_counts.counts(conn, rows)
    parents = _parents(conn, rows)
    mentioned = _mentioned(conn, (u for doc in docs.values() for u in mention_uris_of(doc)))
    local_media = media.load_for_posts(conn, [row["id"] for row in rows if row["local"]], info)
    flags = None
    if viewer is not None:
        flags = status_counts.viewer_sets(conn, viewer.actor_id, viewer.user_id, rows)
    out: dict[int, tuple[PostFacts, dict[int, AccountFacts]]] = {}
    for row in rows:
        account = accounts.get(row["actor_id"])
        if account is None:
            continue
        doc = docs[row["id"]]
        parent = parents.get(row["in_reply_to_uri"] or "")
        attached = tuple(
            local_media.get(row["id"], [])
            if row["local"]
            else media.remote_attachments(doc, row["id"])
        )
        facts = PostFacts(
            post_id=row["id"],
            uri=row["uri"],
            url=row["url"] or row["uri"],
            created_at_us=row["published_at_us"],
            edited_at_us=row["updated_at_us"],
            account=account,
            content_html=_content(row, doc),
            spoiler_text=row["summary"] or "",
            visibility=row["visibility"],
            sensitive=bool(doc.get("sensitive")) or bool(row["summary"]),
            language=_language(doc),
            in_reply_to_id=parent[0] if parent else None,
            in_reply_to_account_id=parent[1] if parent else None,
            media=attached,
            mentions=tuple(
                mentioned[u] for u in dict.fromkeys(mention_uris_of(doc)) if u in mentioned
            ),
            tags=tuple(hashtags_of(doc)),
            replies_count=counts["replies"].get(row["uri"], 0),
            reblogs_count=counts["reblogs"].get(row["id"], 0),
            favourites_count=counts["likes"].get(row["uri"], 0),
            viewer_flags=None
            if flags is None
            else (row["uri"] in flags[0], row["id"] in flags[1], row["id"] in flags[2]),
            card=cards.card_of(
                row, account.display_name or account.username, account.url, _card_image(attached)
            ),
        )
        out[row["id"]] = (facts, accounts)
    return out


def _card_image(attached: tuple[media.MediaFacts, ...]) -> cards.Image | None:
    """A listing card shows its first photo."""
    photo = next((m for m in attached if m.kind == "image"), None)
    if photo is None:
        return None
    return cards.Image(photo.url, photo.width or 0, photo.height or 0)
