"""The full-text index of listings, one per engine (its DDL lives here, for migrations).

* SQLite: an FTS5 table over ``listings`` (external content) kept in step by triggers;
  ranked with ``bm25``.
* PostgreSQL: a ``tsvector`` per listing in ``fts_listings`` (title weighted above
  category above description, the ``simple`` configuration because communities
  write in many languages), kept in step by a trigger, with a GIN index; ranked
  with ``ts_rank``.

Every object's name starts with ``fts_`` so schema comparisons leave them out
(`fediverse_share.schema.include_name`): SQLAlchemy cannot describe them.
"""

from __future__ import annotations

from alembic import op

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

_POSTGRES = [
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


def create_search_index() -> None:
    dialect = op.get_bind().dialect.name
    for statement in _POSTGRES if dialect == "postgresql" else _SQLITE:
        op.execute(statement)


def drop_search_index() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS fts_listings_sync ON listings")
        op.execute("DROP FUNCTION IF EXISTS fts_listings_sync()")
        op.execute("DROP TABLE IF EXISTS fts_listings")
        return
    for name in ("fts_listings_ai", "fts_listings_ad", "fts_listings_au"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS fts_listings")
