"""The full-text index of listings, one per engine (its DDL lives here, for migrations).

* SQLite: an FTS5 table over ``listings`` (external content) kept in step by triggers;
  ranked with ``bm25``.
* PostgreSQL (since revision 0008): a generated ``tsvector`` column of ``listings``,
  ``fts_document``: the title weighted above the category above the description, in
  the ``simple`` configuration because communities write in many languages; ranked
  with ``ts_rank``. It has no index: a GIN index over the listing's *keys*
  (``fts_listing_keys``, an expression index) finds the matches. A listing's keys are
  the prefixes of its words from `MIN_KEY` to `MAX_KEY` characters (the whole word
  when shorter) and *tags*, lexemes no word can produce (they start with ``~``), one
  per value of the filters a search names: ``~purpose.offer``, ``~kind.sell``,
  ``~category.<md5>``, ``~community.<md5>`` and ``~priced`` (a price in our
  currency). A search term is the key of its first `MAX_KEY` characters (`keys_of`),
  ANDed with the tags of its filters (`tags_of`): exact entries of the index, which
  PostgreSQL intersects by skipping through the longer posting lists, where a prefix
  query (``lad:*``) would first gather every listing of every word it begins. A term
  longer than `MAX_KEY` is then checked against ``fts_document`` (``ladders:*``),
  row by row, on the matches only. Revision 0001 kept the vectors in a table of
  their own, ``fts_listings``, filled by a trigger, with a GIN index for prefix
  queries.

Every object's name starts with ``fts_`` so schema comparisons leave them out
(`fediverse_share.schema.include_name`): SQLAlchemy cannot describe them.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol


class Operations(Protocol):
    """What the DDL below needs of ``alembic.op``, which the migrations pass in (a
    server never imports alembic: it costs ~9 MB of memory)."""

    def execute(self, sqltext: str, /) -> Any: ...

    def get_bind(self) -> Any: ...


_SQLITE = [
    """CREATE VIRTUAL TABLE fts_listings USING fts5(
        title, category, description, content='listings', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER fts_listings_ai AFTER INSERT ON listings BEGIN
        INSERT INTO fts_listings(rowid, title, category, description)
        VALUES (new.id, new.title, new.category, new.description); END""",
    """CREATE TRIGGER fts_listings_ad AFTER DELETE ON listings BEGIN
        INSERT INTO fts_listings(fts_listings, rowid, title, category, description)
        VALUES ('delete', old.id, old.title, old.category, old.description); END""",
    """CREATE TRIGGER fts_listings_au AFTER UPDATE ON listings BEGIN
        INSERT INTO fts_listings(fts_listings, rowid, title, category, description)
        VALUES ('delete', old.id, old.title, old.category, old.description);
        INSERT INTO fts_listings(rowid, title, category, description)
        VALUES (new.id, new.title, new.category, new.description); END""",
]

#: Revision 0001's PostgreSQL index (replaced by `_POSTGRES_COLUMN` in 0008).
_POSTGRES_TABLE = [
    """CREATE TABLE fts_listings (
        listing_id BIGINT PRIMARY KEY REFERENCES listings(id) ON DELETE CASCADE,
        document TSVECTOR NOT NULL)""",
    "CREATE INDEX fts_listings_document ON fts_listings USING GIN (document)",
    """CREATE FUNCTION fts_listings_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO fts_listings (listing_id, document) VALUES (NEW.id,
            setweight(to_tsvector('simple', NEW.title), 'A')
            || setweight(to_tsvector('simple', NEW.category), 'B')
            || to_tsvector('simple', NEW.description))
        ON CONFLICT (listing_id) DO UPDATE SET document = EXCLUDED.document;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER fts_listings_sync AFTER INSERT OR UPDATE ON listings
        FOR EACH ROW EXECUTE FUNCTION fts_listings_sync()""",
]

#: Key lengths: a term of two characters is the shortest `terms.terms_of` gives.
MIN_KEY, MAX_KEY = 2, 8
#: The keys of a listing (see the module's description), over the columns of
#: ``listings``: the index's expression, which a search repeats word for word so that
#: the planner recognises it.
KEYS = (
    "fts_listing_keys(title, category, description, purpose, kind, community_uri,"
    " price_minor IS NOT NULL)"
)
_POSTGRES_COLUMN = [
    """ALTER TABLE listings ADD COLUMN fts_document TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, title), 'A')
        || setweight(to_tsvector('simple'::regconfig, category), 'B')
        || to_tsvector('simple'::regconfig, description)) STORED""",
    f"""CREATE FUNCTION fts_listing_keys(title TEXT, category TEXT, description TEXT,
        purpose TEXT, kind TEXT, community_uri TEXT, priced BOOLEAN) RETURNS TSVECTOR
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_to_tsvector(ARRAY(
        SELECT left(word, n) FROM unnest(tsvector_to_array(to_tsvector('simple'::regconfig,
            title || ' ' || category || ' ' || description))) AS word,
            generate_series({MIN_KEY}, least(length(word), {MAX_KEY})) AS n
        UNION SELECT unnest(array_remove(ARRAY[
            '~purpose.' || purpose,
            '~kind.' || kind,
            '~category.' || md5(category),
            '~community.' || md5(community_uri),
            CASE WHEN priced THEN '~priced' END], NULL))))
    $$""",
    f"CREATE INDEX fts_listings_keys ON listings USING GIN ({KEYS})",
]


def keys_of(term: str) -> list[str]:
    """The keys that every listing with a word starting with ``term`` has: one, or
    none for a term the ``simple`` parser splits into words too short for a key (it
    splits at ``_``, which `terms.terms_of` keeps in a word)."""
    return [part[:MAX_KEY] for part in term.split("_") if len(part) >= MIN_KEY]


def keys_exactly(term: str) -> bool:
    """Whether the listings with the key of ``term`` are exactly those with a word
    starting with ``term``: a term of letters (or ASCII letters and digits), no longer
    than a key, is one word for the parser and its own key."""
    return len(term) <= MAX_KEY and (term.isalpha() or (term.isascii() and term.isalnum()))


def tags_of(
    *,
    purpose: str | None,
    kind: str | None,
    category: str | None,
    community_uri: str | None,
    priced: bool,
) -> list[str]:
    """The tags (keys) of the listings that pass these filters."""
    tags = [f"~purpose.{purpose}"] if purpose is not None else []
    tags += [f"~kind.{kind}"] if kind is not None else []
    tags += [f"~category.{_md5(category)}"] if category is not None else []
    tags += [f"~community.{_md5(community_uri)}"] if community_uri is not None else []
    return [*tags, "~priced"] if priced else tags


def _md5(value: str) -> str:
    return hashlib.md5(value.encode(), usedforsecurity=False).hexdigest()


def create_search_index(op: Operations) -> None:
    """Revision 0001's index."""
    dialect = op.get_bind().dialect.name
    for statement in _POSTGRES_TABLE if dialect == "postgresql" else _SQLITE:
        op.execute(statement)


def drop_search_index(op: Operations) -> None:
    """Undo `create_search_index`."""
    if op.get_bind().dialect.name == "postgresql":
        _drop_search_table(op)
        return
    for name in ("fts_listings_ai", "fts_listings_ad", "fts_listings_au"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS fts_listings")


def _drop_search_table(op: Operations) -> None:
    op.execute("DROP TRIGGER IF EXISTS fts_listings_sync ON listings")
    op.execute("DROP FUNCTION IF EXISTS fts_listings_sync()")
    op.execute("DROP TABLE IF EXISTS fts_listings")


def move_search_index_into_listings(op: Operations) -> None:
    """Revision 0008 on PostgreSQL: the table and its trigger become a generated column,
    and the GIN index one of keys (SQLite keeps its FTS5 table)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    _drop_search_table(op)
    for statement in _POSTGRES_COLUMN:
        op.execute(statement)


def move_search_index_out_of_listings(op: Operations) -> None:
    """Undo `move_search_index_into_listings`, filling the table again."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS fts_listings_keys")
    op.execute("DROP FUNCTION IF EXISTS fts_listing_keys")
    op.execute("ALTER TABLE listings DROP COLUMN IF EXISTS fts_document")
    for statement in _POSTGRES_TABLE:
        op.execute(statement)
    op.execute("UPDATE listings SET id = id")  # the trigger indexes every listing
