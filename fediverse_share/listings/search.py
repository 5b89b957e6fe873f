"""Finding listings: ranked full text on both engines, with filters.

Words of the query (`fediverse_share.listings.terms`) become prefix terms (``lad``
finds "ladder"); ``AND`` joins them for search, ``OR`` for matching, which passes only
meaningful terms. The index is described in `fediverse_share.listings.search_index`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, Float, and_, column, or_, select, text

from fediverse_share import tables
from fediverse_share.listings.model import Kind, Listing, Purpose
from fediverse_share.listings.terms import terms_of


@dataclass(frozen=True, slots=True)
class SearchQuery:
    text: str = ""
    purpose: Purpose | None = None
    kind: Kind | None = None
    category: str | None = None
    community_uri: str | None = None
    min_price_minor: int | None = None
    max_price_minor: int | None = None
    exclude_author_id: int | None = None
    exclude_ids: tuple[int, ...] = field(default=())
    limit: int = 20
    offset: int = 0


def _fts_clause(conn: Connection, terms: list[str], joiner: str) -> tuple[Any, Any]:
    """A (where clause, rank expression) pair for the engine at hand."""
    if conn.dialect.name == "postgresql":
        query = f" {'&' if joiner == 'AND' else '|'} ".join(f"{t}:*" for t in terms)
        where = text(
            "listings.id IN (SELECT listing_id FROM fts_listings"
            " WHERE document @@ to_tsquery('simple', :q))"
        ).bindparams(q=query)
        rank = text(
            "SELECT ts_rank(document, to_tsquery('simple', :q2)) FROM fts_listings "
            "WHERE listing_id = listings.id"
        ).bindparams(q2=query)
        return where, rank
    match = f" {joiner} ".join(f'"{t}"*' for t in terms)
    where = text(
        "listings.id IN (SELECT rowid FROM fts_listings WHERE fts_listings MATCH :q)"
    ).bindparams(q=match)
    # bm25 is lower for better matches; negate it so "higher is better" on both engines.
    rank = text(
        "SELECT -bm25(fts_listings, 10.0, 5.0, 1.0) FROM fts_listings "
        "WHERE fts_listings MATCH :q2 AND rowid = listings.id"
    ).bindparams(q2=match)
    return where, rank


def _filters(query: SearchQuery, now_us: int) -> list[ColumnElement[bool]]:
    l = tables.listings  # noqa: E741 - the table's usual short name
    where: list[ColumnElement[bool]] = [
        l.c.withdrawn_at_us.is_(None),
        or_(l.c.expires_at_us.is_(None), l.c.expires_at_us > now_us),
    ]
    optional = {
        l.c.purpose: query.purpose,
        l.c.kind: query.kind,
        l.c.category: query.category,
        l.c.community_uri: query.community_uri,
    }
    where.extend(column == value for column, value in optional.items() if value is not None)
    if query.min_price_minor is not None:
        where.append(l.c.price_minor >= query.min_price_minor)
    if query.max_price_minor is not None:
        where.append(l.c.price_minor <= query.max_price_minor)
    if query.exclude_author_id is not None:
        where.append(l.c.author_id != query.exclude_author_id)
    if query.exclude_ids:
        where.append(l.c.id.not_in(query.exclude_ids))
    return where


def search(
    conn: Connection, query: SearchQuery, now_us: int, *, joiner: str = "AND"
) -> list[tuple[Listing, float]]:
    """Listings that match, best first (newest first when there is no text)."""
    l = tables.listings  # noqa: E741
    where = _filters(query, now_us)
    terms = terms_of(query.text)
    order: list[Any] = [l.c.id.desc()]
    columns: list[Any] = [l]
    if terms:
        clause, rank = _fts_clause(conn, terms, joiner)
        where.append(clause)
        ranked = rank.columns(column("rank", Float)).scalar_subquery().label("rank")
        columns.append(ranked)
        order.insert(0, ranked.desc())
    statement = (
        select(*columns)
        .where(and_(*where))
        .order_by(*order)
        .limit(min(query.limit, 100))
        .offset(query.offset)
    )
    rows = conn.execute(statement).mappings().all()
    return [(Listing.from_row(row), float(row.get("rank") or 0.0)) for row in rows]
