"""Finding listings: ranked full text on both engines, with filters.

Words of the query (`fediverse_share.listings.terms`) become prefix terms (``lad``
finds "ladder"); ``AND`` joins them for search, ``OR`` for matching, which passes only
meaningful terms. The index is described in `fediverse_share.listings.search_index`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Boolean,
    ColumnElement,
    Connection,
    Float,
    String,
    Subquery,
    and_,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import TSQUERY

from fediverse_share import tables
from fediverse_share.listings.model import Kind, Listing, Purpose
from fediverse_share.listings.search_index import KEYS, keys_exactly, keys_of, tags_of
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
    bound = max(query.candidates, limit + query.offset)
    if conn.dialect.name == "postgresql":
        return _search_postgres(conn, query, terms, joiner, where, bound, limit)
    candidates = _candidates_sqlite(terms, joiner, where, bound)
    statement = (
        select(candidates)
        .order_by(candidates.c.rank.desc(), candidates.c.id.desc())
        .limit(limit)
        .offset(query.offset)
    )
    rows = conn.execute(statement).mappings().all()
    return [(Listing.from_row(row), float(row["rank"] or 0.0)) for row in rows]


def _candidates_sqlite(
    terms: list[str], joiner: str, where: list[ColumnElement[bool]], bound: int
) -> Subquery:
    """The newest ``bound`` matches that pass ``where``, each with its rank (higher is better).

    One pass over the index: the filters cut before anything is scored, and only the
    candidates are scored.
    """
    l = tables.listings  # noqa: E741
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


#: Without statistics, ids are split into this many slices of equal spans.
_EVEN_SLICES = 32
#: A slice sized from the matches expected aims at this many times what is missing.
_SLICE_MARGIN = 1.25
#: Relative costs (measured at 1,000,000 listings) of: walking a listing newest first
#: and checking its words; reading a match from the keys index; a listing of the
#: primary key's range in a bitmap; reading a match's row and checking its words.
_WALK_ROW, _INDEX_ROW, _RANGE_ROW, _HEAP_ROW = 1.0, 0.15, 0.1, 3.0


@dataclass(slots=True)
class _Slicer:
    """How to gather the newest matches: slice by slice of ids, newest first, from the
    planner's statistics when there are.

    ``quantiles`` split the listings into about equal numbers (``pg_stats`` of
    ``listings.id``, kept by ANALYZE and autovacuum; without statistics, equal spans
    of ids between the oldest and the newest). ``density``, the share of listings
    that match, is first estimated (the frequencies of the search's keys among the
    most common elements of the keys index, as the planner estimates them), then
    measured by each slice. It sizes the next slice and chooses how it is read,
    whichever costs least:

    * walking the slice's listings newest first, checking each: about 1/density rows
      per match, the best for a common word (the planner's own choice);
    * the keys index ANDed with the primary key's range: every match's index entry,
      every listing of the range, and the row of the matches in the slice only;
    * the keys index alone over every listing left (the last slice): every match's
      entry and row, the best for a rare word.

    The planner, which counts an index page read as four times a page read in order,
    would rather walk, so for the last two ``enable_indexscan`` is off. Each slice
    after the first covers at least half as many quantiles as were covered already,
    so the count of slices stays logarithmic.
    """

    quantiles: list[int]
    per_quantile: float
    density: float | None

    def through_index(self, wanted: int, left: int) -> bool:
        """Whether to read the keys index for ``wanted`` matches in ``left`` quantiles."""
        if self.density is None:
            return False  # no statistics: a small table, left to the planner
        index = self._matches(left) * (_INDEX_ROW + _HEAP_ROW)
        index = min(index, self._matches(left) * _INDEX_ROW + self._range_cost(wanted))
        return index < wanted / max(self.density, 1e-9) * _WALK_ROW

    def width(self, wanted: int, left: int, covered: int) -> int:
        """Quantiles of the next slice, for ``wanted`` more matches among ``left``."""
        if self.density is None:
            return min(left, max(1, 3 * covered))  # without statistics, or no match yet
        if self.through_index(wanted, left):
            everything = self._matches(left) * _HEAP_ROW
            if everything <= self._range_cost(wanted):
                return left  # the keys index alone
        needed = wanted / max(self.density * self.per_quantile, 1e-9) * _SLICE_MARGIN
        return min(left, max(1, math.ceil(covered / 2), math.ceil(needed)))

    def observe(self, found: int, covered: int) -> None:
        """Matches ``found`` in the ``covered`` newest quantiles so far."""
        if self.per_quantile > 0:
            listings = covered * self.per_quantile
            # None found: fewer than half a match in what was covered, say.
            self.density = found / listings if found else min(self.density or 1.0, 0.5 / listings)

    def _matches(self, quantiles: int) -> float:
        assert self.density is not None
        return self.density * self.per_quantile * quantiles

    def _range_cost(self, wanted: int) -> float:
        assert self.density is not None
        return wanted / max(self.density, 1e-9) * _RANGE_ROW + wanted * _HEAP_ROW


#: How long a connection keeps the statistics it read (they change with ANALYZE).
_STATISTICS_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class _Statistics:
    """The planner's statistics of ``listings`` that slicing reads (see `_Slicer`)."""

    quantiles: list[int]
    rows: float
    frequencies: dict[str, float]  # the most common keys, with their shares of listings
    read_at: float

    def frequency(self, key: str) -> float:
        """A key that is not among the most common is taken as the rarest of them."""
        return self.frequencies.get(key, min(self.frequencies.values(), default=1.0))


def _statistics(conn: Connection) -> _Statistics | None:
    """The statistics, read at most every `_STATISTICS_SECONDS` on a connection (None
    before ANALYZE has given any)."""
    kept = conn.info.get("listing_statistics")
    if isinstance(kept, _Statistics) and time.monotonic() - kept.read_at < _STATISTICS_SECONDS:
        return kept
    where = "schemaname = current_schema() AND tablename"
    row = conn.execute(
        text(
            f"SELECT (SELECT histogram_bounds::text::bigint[] FROM pg_stats WHERE {where}"
            " = 'listings' AND attname = 'id'),"
            " (SELECT reltuples FROM pg_class WHERE oid = 'listings'::regclass),"
            " s.most_common_elems::text::text[], s.most_common_elem_freqs"
            f" FROM (SELECT 1) AS one LEFT JOIN pg_stats s ON {where} = 'fts_listings_keys'"
        )
    ).one()
    quantiles, rows, keys, frequencies = row
    if not quantiles or len(quantiles) < 2:
        return None
    common = dict(zip(keys or [], frequencies or [], strict=False))
    statistics = _Statistics(list(quantiles), max(rows, 0.0), common, time.monotonic())
    conn.info["listing_statistics"] = statistics
    return statistics


def _slicer(conn: Connection, keys: list[list[str]], joiner: str, tags: list[str]) -> _Slicer:
    """How to slice a search of these keys (one list per term) and tags."""
    statistics = _statistics(conn)
    if statistics is None:
        l = tables.listings  # noqa: E741
        lowest, highest = conn.execute(select(func.min(l.c.id), func.max(l.c.id))).one()
        if highest is None:
            return _Slicer([], 0, None)
        span = highest - lowest
        return _Slicer([lowest + span * n // _EVEN_SLICES for n in range(_EVEN_SLICES + 1)],
                       0, None)  # fmt: skip
    density = None
    if statistics.frequencies:
        words = [math.prod(statistics.frequency(key) for key in term) for term in keys]
        density = math.prod(words) if joiner == "AND" else min(1.0, sum(words))
        density *= math.prod(statistics.frequency(tag) for tag in tags)
    quantiles = statistics.quantiles
    return _Slicer(quantiles, statistics.rows / (len(quantiles) - 1), density)


def _search_postgres(
    conn: Connection,
    query: SearchQuery,
    terms: list[str],
    joiner: str,
    where: list[ColumnElement[bool]],
    bound: int,
    limit: int,
) -> list[tuple[Listing, float]]:
    """`search` with words on PostgreSQL: the newest ``bound`` matches are gathered
    slice by slice of ids, newest first (`_Slicer`), then ranked, and the page read.

    The GIN index of the listings' keys finds those with the terms' keys and the
    filters' tags (`search_index`), ``fts_document`` checks the terms (``lad:*``) on
    them, and the primary key bounds them to a slice of ids, so a slice reads only
    its own matches however many older ones there are; for a common word the planner
    walks the slice newest first and stops at the ``bound``-th. The search stops once
    ``bound`` matches are in hand: they are the newest, as every later slice is older.
    """
    l = tables.listings  # noqa: E741
    # The query is written into the statements as they run (`_literal`), not bound: a
    # prepared statement's generic plan cannot know how common the words are, and the
    # best plan depends on it. Terms are word characters only (`terms.terms_of`), tags
    # are letters, digits and dots.
    tags = tags_of(
        purpose=query.purpose,
        kind=query.kind,
        category=query.category,
        community_uri=query.community_uri,
        priced=query.min_price_minor is not None or query.max_price_minor is not None,
    )
    keys = [keys_of(term) for term in terms]
    slicer = _slicer(conn, keys, joiner, tags)
    quantiles = slicer.quantiles
    if not quantiles:
        return []
    words = f" {'&' if joiner == 'AND' else '|'} ".join(f"{t}:*" for t in terms)
    matching = func.to_tsquery(literal_column("'simple'"), _literal(words))
    document: ColumnElement[Any] = literal_column("fts_document")
    words_condition = document.op("@@", return_type=_BOOLEAN)(matching)
    keyed = _keys_query(keys, joiner, tags)
    keys_condition = (
        literal_column(KEYS).op("@@", return_type=_BOOLEAN)(cast(_literal(keyed), _TSQUERY))
        if keyed
        else None
    )
    # The keys say all when every term is a whole key (`keys_exactly`); else the words
    # are checked on the rows they find.
    checked = keys_condition is None or not all(keys_exactly(term) for term in terms)
    best: list[tuple[int, float]] = []  # (id, rank)
    found = 0
    last = len(quantiles) - 1
    top, covered = last, 0
    # Slices are short statements: parallel workers would cost more to start than
    # they save. The planner's settings as they were are put back at the end.
    planner = _PlannerSettings(conn)
    while True:
        missing = bound - found
        width = slicer.width(missing, top, covered)
        bottom = top - width  # the slice is (quantiles[bottom], quantiles[top]]
        through_index = slicer.through_index(missing, top)
        planner.set(max_parallel_workers_per_gather="0", enable_indexscan=not through_index)
        # Not when walking: the keys of each listing walked would be computed.
        if keys_condition is not None and (through_index or slicer.density is None):
            conditions = [keys_condition, *([words_condition] if checked else [])]
        else:
            conditions = [words_condition]
        # The newest slice has no upper end (listings since the statistics), the oldest
        # no lower one.
        ends = [l.c.id <= _literal(quantiles[top])] if top < last else []
        ends += [l.c.id > _literal(quantiles[bottom])] if bottom > 0 else []
        newest = (
            select(l.c.id, document.label("document"))
            .where(*where, *conditions, *ends)
            .order_by(l.c.id.desc())
            .limit(_literal(missing))
            .subquery("newest")
        )
        # Ranked outside the limit, so only the rows kept are; only the best of them
        # come back (the best of all are among the best of each slice), with the count.
        rank = func.ts_rank(newest.c.document, matching, type_=_FLOAT)
        ranked = (
            select(newest.c.id, rank, func.count().over())
            .order_by(rank.desc(), newest.c.id.desc())
            .limit(_literal(query.offset + limit))
        )
        kept = conn.execute(ranked).all()
        best.extend((row[0], row[1]) for row in kept)
        found += kept[0][2] if kept else 0
        top, covered = bottom, last - bottom
        if found >= bound or bottom == 0:
            break
        slicer.observe(found, covered)
    planner.restore()
    best.sort(key=lambda pair: (-pair[1], -pair[0]))
    page = dict(best[query.offset : query.offset + limit])
    rows = conn.execute(select(l).where(l.c.id.in_(page))).mappings()
    listings = {row["id"]: Listing.from_row(row) for row in rows}
    return [(listings[listing_id], rank) for listing_id, rank in page.items()]


class _PlannerSettings:
    """Settings of the planner changed for the rest of the transaction (``SET LOCAL``),
    one statement for all the changes of a step, and put back as they were."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._current: dict[str, str] = {}
        self._before: dict[str, str] = {}

    def set(self, **settings: str | bool) -> None:
        wanted = {
            name: ("on" if value else "off") if isinstance(value, bool) else value
            for name, value in settings.items()
        }
        changed = {
            name: value for name, value in wanted.items() if self._current.get(name) != value
        }
        if not changed:
            return
        # Names are this module's own; current_setting runs before set_config.
        columns = ", ".join(
            f"current_setting('{name}'), set_config('{name}', '{value}', true)"
            for name, value in changed.items()
        )
        row = self._conn.execute(text(f"SELECT {columns}")).one()
        for number, name in enumerate(changed):
            self._before.setdefault(name, row[2 * number])
        self._current.update(changed)

    def restore(self) -> None:
        self.set(**self._before)


def _keys_query(keys: list[list[str]], joiner: str, tags: list[str]) -> str:
    """The tsquery of the keys index for these terms' keys and these tags, as text (''
    for none: terms without keys, no filters); each key is quoted, so taken whole."""
    terms = [" & ".join(f"'{key}'" for key in term) for term in keys if term]
    words = f" {'&' if joiner == 'AND' else '|'} ".join(f"({term})" for term in terms)
    return " & ".join([*([f"({words})"] if words else []), *(f"'{tag}'" for tag in tags)])


def _literal(value: int | str) -> BindParameter[Any]:
    """A value written into the statement as it runs (see `_search_postgres`), not into
    its compiled form, which SQLAlchemy caches by shape: with the words in it, each
    search's statements filled the cache (500 entries, ~170,000 objects, which every
    full collection of the cyclic GC walked: 40-115 ms, the p99 of bench/search.py at
    100,000 listings) and were compiled anew each time."""
    sql_type = _TEXT if isinstance(value, str) else _INTEGER
    return bindparam(None, value, type_=sql_type, literal_execute=True)


#: Types made once: instances made per search were garbage in reference cycles, ~20 of
#: the ~140 objects a search left for the cyclic GC.
_TEXT, _INTEGER, _TSQUERY, _FLOAT, _BOOLEAN = String(), BigInteger(), TSQUERY(), Float(), Boolean()
