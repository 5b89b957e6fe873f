"""Finding listings: ranked full text on both engines, with filters.

Words of the query (`fediverse_share.listings.terms`) become prefix terms (``lad``
finds "ladder"); ``AND`` joins them for search, ``OR`` for matching, which passes only
meaningful terms. The index is described in `fediverse_share.listings.search_index`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    String,
    Subquery,
    and_,
    bindparam,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)

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
    #: With words: how many of the newest matches are ranked (the best are returned).
    candidates: int = 2_000


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
    """Listings that match, best first (newest first when there is no text).

    With words, the newest ``query.candidates`` matches that pass the filters are
    ranked and the best of them returned: a bounded amount of work however common the
    words (see "Listings" in docs/ARCHITECTURE.md).
    """
    l = tables.listings  # noqa: E741
    where = _filters(query, now_us)
    limit = min(query.limit, 100)
    terms = terms_of(query.text)
    if not terms:
        statement = (
            select(l).where(and_(*where)).order_by(l.c.id.desc()).limit(limit).offset(query.offset)
        )
        return [(Listing.from_row(row), 0.0) for row in conn.execute(statement).mappings()]
    candidates = _candidates(
        conn, terms, joiner, where, max(query.candidates, limit + query.offset)
    )
    statement = (
        select(candidates)
        .order_by(candidates.c.rank.desc(), candidates.c.id.desc())
        .limit(limit)
        .offset(query.offset)
    )
    rows = conn.execute(statement).mappings().all()
    return [(Listing.from_row(row), float(row["rank"] or 0.0)) for row in rows]


def _candidates(
    conn: Connection, terms: list[str], joiner: str, where: list[ColumnElement[bool]], bound: int
) -> Subquery:
    """The newest ``bound`` matches that pass ``where``, each with its rank (higher is better).

    One pass over the index: the filters cut before anything is scored, and only the
    candidates are scored.
    """
    l = tables.listings  # noqa: E741
    if conn.dialect.name == "postgresql":
        # The query is written into the statement, not bound: a prepared statement's
        # generic plan cannot know how common the words are, and the best plan depends
        # on it (walk the newest listings for a common word, the GIN index for a rare
        # one). Terms are word characters only (`terms.terms_of`).
        words = f" {'&' if joiner == 'AND' else '|'} ".join(f"{t}:*" for t in terms)
        tsquery = text("to_tsquery('simple', :q)").bindparams(
            bindparam("q", words, type_=String, literal_execute=True)
        )
        fts = table("fts_listings", column("listing_id"), column("document"))
        matched = (
            select(*l.c, fts.c.document)
            .select_from(l.join(fts, fts.c.listing_id == l.c.id))
            .where(*where, fts.c.document.op("@@")(tsquery))
            .order_by(fts.c.listing_id.desc())
            .limit(bound)
            .subquery("matched")
        )
        rank = func.ts_rank(matched.c.document, tsquery, type_=Float)
        columns = [matched.c[c.name] for c in l.c]
        return select(*columns, rank.label("rank")).subquery("candidates")
    match = f" {joiner} ".join(f'"{t}"*' for t in terms)
    fts = table("fts_listings", column("rowid"))
    # bm25 is lower for better matches; negate it so "higher is better" on both engines.
    # Title, category, description weigh 10, 5, 1. The index drives the join (newest
    # first), so bm25 is computed only for the candidates kept.
    return (
        select(*l.c, literal_column("-bm25(fts_listings, 10.0, 5.0, 1.0)", Float).label("rank"))
        .select_from(fts.join(l, l.c.id == fts.c.rowid))
        .where(*where, text("fts_listings MATCH :q"))
        .params(q=match)
        .order_by(fts.c.rowid.desc())
        .limit(bound)
        .subquery("candidates")
    )
