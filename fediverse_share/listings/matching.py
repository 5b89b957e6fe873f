"""Matching offers with needs: when a listing arrives or is created, find listings of
the opposite purpose that share a meaningful word with its title (no stop words nor
words of two letters, see `fediverse_share.listings.terms`) or its category, and keep
a match for each local member concerned. Only the newest `MAX_CANDIDATES` listings
sharing a word are ranked, so the work per arriving listing stays bounded.

In the same write, each of them gets a Mastodon ``status`` notification whose account
is the other listing's author and whose status is the other listing: the standard
type for "someone posted something you asked to hear of", which every client shows
with the status (its content and card) and the author, as for a followed account
with notifications on. It is keyed by the other listing, so one listing matching
two of a member's own tells them once.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from fediverse_share import tables
from fediverse_share.clock import now_us
from fediverse_share.listings.model import Listing, Purpose, get_listing
from fediverse_share.listings.search import SearchQuery, search
from fediverse_share.listings.terms import meaningful_terms
from fediverse_share.mastodon import notifications
from fediverse_share.runtime import Runtime
from fediverse_share.upserts import insert_or_ignore

MAX_MATCHES = 20
#: How many of the newest listings sharing a word are ranked for a new listing's matches.
MAX_CANDIDATES = 50
_OPPOSITE = {Purpose.OFFER: Purpose.REQUEST, Purpose.REQUEST: Purpose.OFFER}


def find_matches(conn: Connection, listing: Listing, at_us: int) -> list[tuple[Listing, int]]:
    """Complementary listings by others, best first, with a score (higher is better)."""
    query = SearchQuery(
        text=" ".join(meaningful_terms(listing.title)),
        purpose=_OPPOSITE[listing.purpose],
        exclude_author_id=listing.author_id,
        limit=MAX_MATCHES,
        candidates=MAX_CANDIDATES,
    )
    found = search(conn, query, at_us, joiner="OR") if query.text else []
    by_text = {match.id: (match, rank) for match, rank in found}
    same_category = (
        search(
            conn,
            SearchQuery(
                purpose=query.purpose,
                category=listing.category,
                exclude_author_id=listing.author_id,
                limit=MAX_MATCHES,
            ),
            at_us,
        )
        if listing.category != "general"
        else []
    )
    scored: dict[int, tuple[Listing, int]] = {}
    for match, rank in by_text.values():
        scored[match.id] = (match, 100 + int(rank * 10))
    for match, _ in same_category:
        previous = scored.get(match.id, (match, 0))[1]
        scored[match.id] = (match, previous + 50)
    return sorted(scored.values(), key=lambda pair: (-pair[1], -pair[0].id))[:MAX_MATCHES]


def _local_user_ids(conn: Connection, actor_ids: set[int]) -> dict[int, int]:
    u = tables.users
    rows = conn.execute(select(u.c.actor_id, u.c.id).where(u.c.actor_id.in_(actor_ids)))
    return {actor_id: user_id for actor_id, user_id in rows}


def record_matches(conn: Connection, runtime: Runtime, listing_id: int) -> int:
    """Store the matches of a new listing for its local author and local counterparts."""
    listing = get_listing(conn, listing_id)
    at = now_us()
    matches = find_matches(conn, listing, at)
    users = _local_user_ids(conn, {listing.author_id} | {m.author_id for m, _ in matches})
    rows = []
    told: dict[int, tuple[Listing, set[int]]] = {}
    for match, score in matches:
        for own, other in ((listing, match), (match, listing)):
            user_id = users.get(own.author_id)
            if user_id is not None:
                told.setdefault(other.id, (other, set()))[1].add(user_id)
                rows.append(
                    {
                        "id": runtime.ids.next_id(),
                        "user_id": user_id,
                        "own_listing_id": own.id,
                        "matched_listing_id": other.id,
                        "score": score,
                        "created_at_us": at,
                    }
                )
    insert_or_ignore(conn, tables.listing_matches, rows)
    _tell(conn, runtime, told.values())
    return len(rows)


def _tell(conn: Connection, runtime: Runtime, told: Iterable[tuple[Listing, set[int]]]) -> None:
    """Each member hears of the other listing as a ``status`` notification."""
    for other, user_ids in told:
        notifications.notify(
            conn, runtime.ids, user_ids, "status",
            account_id=other.author_id, source_uri=other.uri, status_id=other.id,
        )  # fmt: skip
