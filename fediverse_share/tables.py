"""The application's tables (SQLAlchemy Core). The ledger's live in `exchange.tables`.

Instants are BigInteger microseconds since the Unix epoch (UTC), named ``*_at_us``:
exact, sortable and the same on SQLite and PostgreSQL. Local ids are snowflakes
(`fediverse_share.ids`); federated objects are also keyed by their ``uri``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

URI = 2048

#: One row: who this instance is.
instance = Table(
    "instance",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("domain", String(255), nullable=False),
    Column("community_username", String(64), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)

#: Local and remote actors. Local ones have a private key; remote ones a cached document.
actors = Table(
    "actors",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("uri", String(URI), nullable=False, unique=True),
    Column("type", String(32), nullable=False),
    Column("username", String(64), nullable=False),
    Column("domain", String(255), nullable=False),
    Column("local", Boolean, nullable=False),
    Column("name", Text, nullable=False, default=""),
    Column("summary", Text, nullable=False, default=""),
    Column("url", String(URI)),
    Column("icon_url", String(URI)),
    Column("inbox", String(URI)),
    Column("outbox", String(URI)),
    Column("shared_inbox", String(URI)),
    Column("followers_url", String(URI)),
    Column("following_url", String(URI)),
    Column("key_id", String(URI)),
    Column("public_key_pem", Text),
    Column("private_key_pem", Text),
    Column("manually_approves_followers", Boolean, nullable=False, default=False),
    Column("discoverable", Boolean, nullable=False, default=True),
    Column("published_at_us", BigInteger),
    Column("fetched_at_us", BigInteger),
    Column("gone", Boolean, nullable=False, default=False),
    Column("document", Text),
    UniqueConstraint("username", "domain", name="uq_actors_handle"),
    Index("ix_actors_key_id", "key_id"),
)

#: Members who sign in here (each is a local Person actor).
users = Table(
    "users",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("actor_id", BigInteger, ForeignKey("actors.id"), nullable=False, unique=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("email", String(320)),
    Column("password_hash", String(255)),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at_us", BigInteger, nullable=False),
)

oauth_apps = Table(
    "oauth_apps",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("client_id", String(64), nullable=False, unique=True),
    Column("client_secret_hash", LargeBinary(32), nullable=False),
    Column("name", String(255), nullable=False),
    Column("website", String(URI)),
    Column("redirect_uris", Text, nullable=False),
    Column("scopes", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)

oauth_codes = Table(
    "oauth_codes",
    metadata,
    Column("code_hash", LargeBinary(32), primary_key=True),
    Column("app_id", BigInteger, ForeignKey("oauth_apps.id"), nullable=False),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scopes", Text, nullable=False),
    Column("code_challenge", String(128)),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("used", Boolean, nullable=False, default=False),
)

oauth_tokens = Table(
    "oauth_tokens",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("token_hash", LargeBinary(32), nullable=False, unique=True),
    Column("app_id", BigInteger, ForeignKey("oauth_apps.id"), nullable=False),
    Column("user_id", BigInteger, ForeignKey("users.id")),
    Column("scopes", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("revoked_at_us", BigInteger),
)

#: Follow relations, local or remote on either side.
follows = Table(
    "follows",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("follower_id", BigInteger, ForeignKey("actors.id"), nullable=False),
    Column("followed_id", BigInteger, ForeignKey("actors.id"), nullable=False),
    Column("uri", String(URI), nullable=False, unique=True),
    Column("state", String(16), nullable=False),  # pending | accepted
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("follower_id", "followed_id", name="uq_follows_pair"),
    Index("ix_follows_followed", "followed_id", "state"),
)

#: Notes and other objects, ours and remote ones we received.
posts = Table(
    "posts",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("uri", String(URI), nullable=False, unique=True),
    Column("actor_id", BigInteger, ForeignKey("actors.id"), nullable=False),
    Column("type", String(64), nullable=False),
    Column("content", Text, nullable=False, default=""),
    Column("summary", Text, nullable=False, default=""),
    Column("url", String(URI)),
    Column("in_reply_to_uri", String(URI)),
    Column("visibility", String(16), nullable=False),  # public|unlisted|private|direct
    Column("local", Boolean, nullable=False),
    Column("published_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger),
    Column("deleted_at_us", BigInteger),
    Column("document", Text, nullable=False),
    Index("ix_posts_actor", "actor_id", "id"),
)

#: Activities as they were published (ours) or as they arrived (others').
activities = Table(
    "activities",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("uri", String(URI), nullable=False, unique=True),
    Column("actor_id", BigInteger, ForeignKey("actors.id"), nullable=False),
    Column("type", String(32), nullable=False),
    Column("object_uri", String(URI)),
    Column("public", Boolean, nullable=False),
    Column("local", Boolean, nullable=False),
    Column("published_at_us", BigInteger, nullable=False),
    Column("document", Text, nullable=False),
    Index("ix_activities_actor", "actor_id", "local", "id"),
    Index("ix_activities_object", "object_uri"),
)

#: Every signed POST to an inbox, stored before it is processed.
inbox_items = Table(
    "inbox_items",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("activity_uri", String(URI), nullable=False, unique=True),
    Column("actor_uri", String(URI), nullable=False),
    Column("recipient_id", BigInteger, ForeignKey("actors.id")),
    Column("body", Text, nullable=False),
    Column("received_at_us", BigInteger, nullable=False),
    Column("processed_at_us", BigInteger),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at_us", BigInteger, nullable=False),
    Column("error", Text),
    Index("ix_inbox_items_pending", "processed_at_us", "next_attempt_at_us"),
)

#: Likes, Announces and Blocks we received or made, by activity.
interactions = Table(
    "interactions",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("type", String(16), nullable=False),  # Like | Announce | Block
    Column("actor_id", BigInteger, ForeignKey("actors.id"), nullable=False),
    Column("object_uri", String(URI), nullable=False),
    Column("activity_uri", String(URI), nullable=False, unique=True),
    Column("created_at_us", BigInteger, nullable=False),
    Index("ix_interactions_object", "object_uri", "type"),
)

#: The persistent delivery queue: one job per (activity, inbox).
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("activity_uri", String(URI), nullable=False),
    Column("signer_id", BigInteger, ForeignKey("actors.id"), nullable=False),
    Column("inbox", String(URI), nullable=False),
    Column("domain", String(255), nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String(16), nullable=False),  # queued | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at_us", BigInteger, nullable=False),
    Column("claimed_until_us", BigInteger),
    Column("last_error", Text),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("activity_uri", "inbox", name="uq_deliveries_job"),
    Index("ix_deliveries_due", "state", "next_attempt_at_us"),
)

#: Remote domains that keep failing: skipped until they answer again.
domains = Table(
    "domains",
    metadata,
    Column("domain", String(255), primary_key=True),
    Column("failure_days", Integer, nullable=False, default=0),
    Column("last_failure_day", Integer),
    Column("unavailable", Boolean, nullable=False, default=False),
    Column("last_success_at_us", BigInteger),
)

#: Offers and needs (FEP-0837 Proposals), ours and remote ones; each is also a post
#: (same id) so timelines and the client API show it as a status.
listings = Table(
    "listings",
    metadata,
    Column("id", BigInteger, ForeignKey("posts.id"), primary_key=True),
    Column("uri", String(URI), nullable=False, unique=True),
    Column("author_id", BigInteger, ForeignKey("actors.id"), nullable=False),
    Column("community_uri", String(URI)),
    Column("local", Boolean, nullable=False),
    Column("purpose", String(8), nullable=False),  # offer | request
    Column("kind", String(16), nullable=False),  # give|lend|rent|sell|swap|service
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("category", String(64), nullable=False),
    Column("price_text", String(40)),  # as published: "12.50"
    Column("price_minor", BigInteger),  # in the local currency, when it is ours
    Column("currency_code", String(16)),
    Column("currency_uri", String(URI)),
    Column("quantity", String(40), nullable=False),
    Column("unit", String(40), nullable=False),
    Column("location", String(200)),
    Column("expires_at_us", BigInteger),
    Column("published_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger),
    Column("withdrawn_at_us", BigInteger),
    Index("ix_listings_browse", "purpose", "category", "id"),
    Index("ix_listings_author", "author_id", "id"),
)

#: A listing that complements another one (offer ↔ need), for the member to hear of.
listing_matches = Table(
    "listing_matches",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("own_listing_id", BigInteger, ForeignKey("listings.id"), nullable=False),
    Column("matched_listing_id", BigInteger, ForeignKey("listings.id"), nullable=False),
    Column("score", Integer, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("own_listing_id", "matched_listing_id", name="uq_listing_matches_pair"),
    Index("ix_listing_matches_user", "user_id", "id"),
)

#: A member's Idempotency-Key for creating a listing (migration ``0005_listing_keys``):
#: the listing it made and a digest of the request, so a replay with another body is
#: told apart. ``listing_id`` has no foreign key: the row is written before the listing.
listing_keys = Table(
    "listing_keys",
    metadata,
    Column("user_id", BigInteger, ForeignKey("users.id"), primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("listing_id", BigInteger, nullable=False),
    Column("request_sha256", String(64), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)
