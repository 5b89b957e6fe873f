"""What the Instance entities (v1 and v2) show, loaded in one round trip."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select

from fediverse_share import tables
from fediverse_share.mastodon.accounts import AccountFacts, get_account
from fediverse_share.runtime import InstanceInfo
from fediverse_share.web.well_known import SOFTWARE_NAME, SOFTWARE_VERSION

#: The Mastodon version whose API we follow. Clients pick code paths from it:
#: Mastodon.py uses v2 search and media from it, Ice Cubes enables v2 filters
#: and edits, and stays off grouped notifications (4.3+), which we do not have.
MASTODON_COMPATIBLE = "4.2.0"
#: ``api_versions.mastodon``: 2 means grouped notifications, 3 makes Android use PKCE.
MASTODON_API_VERSION = 1
SOURCE_URL = ""


def render_version() -> str:
    return f"{MASTODON_COMPATIBLE} (compatible; {SOFTWARE_NAME} {SOFTWARE_VERSION})"


@dataclass(frozen=True, slots=True)
class Limits:
    """What clients may send (Mastodon's defaults until the features land here)."""

    max_characters: int = 500
    max_media_attachments: int = 4
    characters_reserved_per_url: int = 23
    max_featured_tags: int = 10
    max_pinned_statuses: int = 5
    supported_mime_types: tuple[str, ...] = (
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/avif",
    )
    description_limit: int = 1500
    image_size_limit: int = 16 * 1024 * 1024
    image_matrix_limit: int = 33_177_600
    video_size_limit: int = 99 * 1024 * 1024
    video_frame_rate_limit: int = 120
    video_matrix_limit: int = 8_294_400
    max_poll_options: int = 4
    max_characters_per_option: int = 50
    min_poll_expiration_seconds: int = 300
    max_poll_expiration_seconds: int = 2_629_746


@dataclass(frozen=True, slots=True)
class InstanceFacts:
    domain: str
    base_url: str
    title: str
    description_html: str
    thumbnail_url: str
    user_count: int
    status_count: int
    domain_count: int
    contact_account: AccountFacts | None
    contact_email: str = ""
    languages: tuple[str, ...] = ("en",)
    registrations_open: bool = False
    limits: Limits = field(default_factory=Limits)


def _stats(conn: Connection) -> tuple[int, int, int]:
    u, p, a = tables.users, tables.posts, tables.actors
    row = conn.execute(
        select(
            select(func.count()).select_from(u).where(u.c.disabled.is_(False)).scalar_subquery(),
            select(func.count())
            .select_from(p)
            .where(p.c.local.is_(True), p.c.deleted_at_us.is_(None))
            .scalar_subquery(),
            select(func.count(a.c.domain.distinct())).where(a.c.local.is_(False)).scalar_subquery(),
        )
    ).one()
    return row[0], row[1], row[2]


def _contact_actor_id(conn: Connection) -> int | None:
    """The first admin's actor: the person to ask about this instance."""
    u = tables.users
    query = select(u.c.actor_id).where(u.c.is_admin.is_(True), u.c.disabled.is_(False))
    actor_id: int | None = conn.execute(query.order_by(u.c.id).limit(1)).scalar()
    return actor_id


def load_instance(conn: Connection, info: InstanceInfo) -> InstanceFacts:
    a = tables.actors
    community = conn.execute(
        select(a.c.name, a.c.summary).where(
            a.c.local.is_(True), a.c.username == info.community_username
        )
    ).first()
    users, statuses, domains = _stats(conn)
    contact_id = _contact_actor_id(conn)
    return InstanceFacts(
        domain=info.domain,
        base_url=info.base_url,
        title=(community.name if community else "") or info.community_username,
        description_html=(community.summary if community else "") or "",
        thumbnail_url=info.header_url,
        user_count=users,
        status_count=statuses,
        domain_count=domains,
        contact_account=None if contact_id is None else get_account(conn, contact_id, info),
    )
