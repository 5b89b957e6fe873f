"""The Mastodon client API's own tables (migration ``0004_mastodon``).

They live on the application's metadata (`fediverse_share.tables.metadata`), so
foreign keys reach ``users``, ``actors`` and ``posts``; `fediverse_share.schema`
imports this module so that the schema is complete wherever it is compared.

* ``reblogs``: an Announce of a post, by anyone. Clients see each as a status of
  its own (a new sortable id, ``reblog`` = the original), so a community's
  Announces appear as reblogs.
* ``home_feed``: each member's home timeline, filled on write (fan-out): one row
  per status id, read newest first by the primary key ``(user_id, status_id)``.
* ``post_tags``: hashtags of posts, for tag timelines.
* ``account_stats``: each actor's count of live statuses (posts and reblogs) and
  the time of its latest post, kept on write, so that a page of statuses does not
  count every post of every author it shows.
* ``notifications``, ``bookmarks``, ``follow_options`` (reblogs and notify of a
  follow), ``markers``, ``media_attachments`` and ``status_idempotency``.

Status ids (posts and reblogs) and notification ids are snowflakes from one
generator, so they never collide and sort by time.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from fediverse_share.tables import URI, metadata, posts

#: Replies of a post (replies_count, the context's descendants).
posts_in_reply_to = Index("ix_posts_in_reply_to", posts.c.in_reply_to_uri)

reblogs = Table(
    "reblogs",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("actor_id", BigInteger, ForeignKey("actors.id"), nullable=False),
    Column("post_id", BigInteger, ForeignKey("posts.id"), nullable=False),
    Column("uri", String(URI), nullable=False, unique=True),  # the Announce's id
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("actor_id", "post_id", name="uq_reblogs_pair"),
    Index("ix_reblogs_post", "post_id"),
    Index("ix_reblogs_actor", "actor_id", "id"),
)

home_feed = Table(
    "home_feed",
    metadata,
    Column("user_id", BigInteger, ForeignKey("users.id"), primary_key=True),
    Column("status_id", BigInteger, primary_key=True),  # a post's id or a reblog's id
    Column("post_id", BigInteger, nullable=False),  # the post shown (a reblog's original)
    Index("ix_home_feed_post", "post_id"),
)

account_stats = Table(
    "account_stats",
    metadata,
    Column("actor_id", BigInteger, ForeignKey("actors.id"), primary_key=True),
    Column("statuses_count", BigInteger, nullable=False),
    Column("last_status_at_us", BigInteger),
)

post_tags = Table(
    "post_tags",
    metadata,
    Column("name", String(100), primary_key=True),  # lowercased, without '#'
    Column("post_id", BigInteger, ForeignKey("posts.id"), primary_key=True),
    Index("ix_post_tags_post", "post_id"),
)

bookmarks = Table(
    "bookmarks",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("post_id", BigInteger, ForeignKey("posts.id"), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("user_id", "post_id", name="uq_bookmarks_pair"),
    Index("ix_bookmarks_user", "user_id", "id"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("type", String(32), nullable=False),
    Column("account_id", BigInteger, ForeignKey("actors.id"), nullable=False),
    Column("status_id", BigInteger),  # a post's id or a reblog's id
    Column("source_uri", String(URI), nullable=False),  # what caused it: once per type
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("user_id", "type", "source_uri", name="uq_notifications_source"),
    Index("ix_notifications_user", "user_id", "id"),
)

follow_options = Table(
    "follow_options",
    metadata,
    Column("follower_id", BigInteger, ForeignKey("actors.id"), primary_key=True),
    Column("followed_id", BigInteger, ForeignKey("actors.id"), primary_key=True),
    Column("reblogs", Boolean, nullable=False),
    Column("notify", Boolean, nullable=False),
)

markers = Table(
    "markers",
    metadata,
    Column("user_id", BigInteger, ForeignKey("users.id"), primary_key=True),
    Column("timeline", String(16), primary_key=True),
    Column("last_read_id", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)

media_attachments = Table(
    "media_attachments",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("post_id", BigInteger, ForeignKey("posts.id")),
    Column("file_name", String(255), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("width", Integer),
    Column("height", Integer),
    Column("description", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Index("ix_media_attachments_post", "post_id"),
)

status_idempotency = Table(
    "status_idempotency",
    metadata,
    Column("user_id", BigInteger, ForeignKey("users.id"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("post_id", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)
