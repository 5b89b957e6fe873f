"""Photos of a listing: checked and stored by the Mastodon API's media store, attached to
the listing's Note as ``Image`` entries of ``attachment`` (Mastodon shows them), and
sent out as an ``Update``.

A photo is taken only if its first bytes say JPEG, PNG, WebP or GIF (a declared type
is never trusted) and it is at most `MAX_PHOTO_BYTES`; the file is served at
``/media/<id>.<ext>`` with the type it was checked as. A listing has at most
`MAX_PHOTOS`.
"""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, select, update

from fediverse_share import tables
from fediverse_share.clock import now_us, render_iso
from fediverse_share.errors import BadRequest, PayloadTooLarge
from fediverse_share.federation import publish
from fediverse_share.listings.store import get_own_listing
from fediverse_share.mastodon import media
from fediverse_share.mastodon import tables as mt
from fediverse_share.mastodon.instance import Limits
from fediverse_share.mastodon.media import MediaFacts
from fediverse_share.members import Member
from fediverse_share.runtime import Runtime

MAX_PHOTOS = 4
MAX_PHOTO_BYTES = Limits().image_size_limit
PHOTO_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}
_TYPE_OF_EXTENSION = {extension: kind for kind, extension in PHOTO_TYPES.items()}


def check_photo(data: bytes) -> str:
    """The photo's type from its bytes; raises for an empty, oversize or other file."""
    if not data:
        raise BadRequest("file is required: the photo's bytes", code="invalid_photo")
    if len(data) > MAX_PHOTO_BYTES:
        raise PayloadTooLarge(f"a photo is at most {MAX_PHOTO_BYTES} bytes", code="photo_too_large")
    kind = media.sniff_type(data)
    if kind not in PHOTO_TYPES:
        raise BadRequest("a photo is a JPEG, PNG, WebP or GIF image", code="unsupported_media_type")
    return kind


def _check_room(conn: Connection, actor_id: int, listing_id: int) -> None:
    get_own_listing(conn, actor_id, listing_id)
    m = mt.media_attachments
    count = len(conn.execute(select(m.c.id).where(m.c.post_id == listing_id)).all())
    if count >= MAX_PHOTOS:
        raise BadRequest(f"a listing has at most {MAX_PHOTOS} photos", code="too_many_photos")


def render_image(item: MediaFacts) -> dict[str, object]:
    """An ``attachment`` entry: an ``Image`` Mastodon shows under the post."""
    doc: dict[str, object] = {
        "type": "Image",
        "mediaType": _TYPE_OF_EXTENSION.get(item.url.rsplit(".", 1)[-1], "image/jpeg"),
        "url": item.url,
        "name": item.description,
    }
    if item.width and item.height:
        doc.update(width=item.width, height=item.height)
    return doc


def _attach(
    conn: Connection, runtime: Runtime, actor_id: int, listing_id: int, media_id: int
) -> None:
    _check_room(conn, actor_id, listing_id)  # again, in the write: two uploads may race
    media.attach(conn, [media_id], listing_id)
    photos = media.load_for_posts(conn, [listing_id], runtime.instance)[listing_id]
    p = tables.posts
    note = orjson.loads(conn.execute(select(p.c.document).where(p.c.id == listing_id)).scalar_one())
    at = now_us()
    note.update(attachment=[render_image(item) for item in photos], updated=render_iso(at))
    conn.execute(
        update(p).where(p.c.id == listing_id).values(
            updated_at_us=at, document=orjson.dumps(note).decode()
        )
    )  # fmt: skip
    conn.execute(
        update(tables.listings).where(tables.listings.c.id == listing_id).values(updated_at_us=at)
    )
    publish.send_updated(conn, runtime, publish.local_actor(conn, actor_id), note, at)


async def add_photo(
    runtime: Runtime, member: Member, listing_id: int, data: bytes, description: object
) -> None:
    """Check, store and attach a photo to the member's listing, and send the ``Update``."""
    check_photo(data)
    await runtime.db.read(_check_room, member.actor_id, listing_id)
    facts = await media.upload(runtime, member.user_id, data, description)
    await runtime.db.write(_attach, runtime, member.actor_id, listing_id, int(facts.media_id))
