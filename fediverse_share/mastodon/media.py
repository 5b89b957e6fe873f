"""Media attachments: uploads checked by their bytes, stored under the data
directory, served with the type they were checked as, attached to a post once.

An upload is taken only if its first bytes say it is one of the image types
the instance document advertises (a declared Content-Type is never trusted) and
it is within ``image_size_limit``; its width and height are read from the image
header. Files are named by the attachment's id, so no name from a client ever
reaches the file system. Remote posts' attachments are not copied: they are
shown from the post's own ``attachment`` list, pointing at their origin.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from fediverse_share.clock import now_us
from fediverse_share.errors import NotFound
from fediverse_share.mastodon import tables as mt
from fediverse_share.mastodon.errors import ValidationFailed
from fediverse_share.mastodon.instance import Limits
from fediverse_share.runtime import InstanceInfo, Runtime

#: Image types by their extension, as advertised in ``supported_mime_types``.
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/avif": "avif",
}
MAX_DESCRIPTION = Limits().description_limit


@dataclass(frozen=True, slots=True)
class MediaFacts:
    media_id: str
    kind: str  # image | gifv | video | audio | unknown
    url: str
    preview_url: str
    remote_url: str | None
    description: str | None
    width: int | None
    height: int | None


def sniff_type(data: bytes) -> str | None:
    """The image type the bytes are, whatever the client declared; None if none we take."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:12] in (b"ftypavif", b"ftypavis"):
        return "image/avif"
    return None


def image_size(data: bytes, content_type: str) -> tuple[int, int] | None:
    """Width and height from the image header, if it is where it should be."""
    try:
        if content_type == "image/png" and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return int(width), int(height)
        if content_type == "image/gif":
            width, height = struct.unpack("<HH", data[6:10])
            return int(width), int(height)
        if content_type == "image/jpeg":
            return _jpeg_size(data)
    except struct.error:
        return None
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    offset = 2
    while offset + 9 < len(data):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        # SOF0..SOF15 carry the size, except DHT (C4), JPG (C8) and DAC (CC).
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            return int(width), int(height)
        offset += 2 + length
    return None


def media_dir(runtime: Runtime) -> Path:
    return runtime.settings.data_dir / "media"


def file_url(info: InstanceInfo, file_name: str) -> str:
    return f"{info.base_url}/media/{file_name}"


def _facts(row: RowMapping, info: InstanceInfo) -> MediaFacts:
    url = file_url(info, row["file_name"])
    return MediaFacts(
        str(row["id"]),
        "gifv" if row["content_type"] == "image/gif" else "image",
        url,
        url,
        None,
        row["description"] or None,
        row["width"],
        row["height"],
    )


def _description(raw: object) -> str:
    text = raw.strip() if isinstance(raw, str) else ""
    if len(text) > MAX_DESCRIPTION:
        raise ValidationFailed(f"Description is too long (maximum is {MAX_DESCRIPTION} characters)")
    return text


async def upload(
    runtime: Runtime, user_id: int, data: bytes, description: object = None
) -> MediaFacts:
    """Check, store and record an upload; the file is written before its row."""
    limits = Limits()
    if not data:
        raise ValidationFailed("File can't be blank")
    if len(data) > limits.image_size_limit:
        raise ValidationFailed(f"File is larger than {limits.image_size_limit} bytes")
    content_type = sniff_type(data)
    if content_type is None:
        raise ValidationFailed("File content type is invalid", code="unsupported_media_type")
    text = _description(description)
    media_id = runtime.ids.next_id()
    file_name = f"{media_id}.{EXTENSIONS[content_type]}"
    size = image_size(data, content_type)
    folder = media_dir(runtime)
    await asyncio.to_thread(_write_file, folder, file_name, data)
    row = {
        "id": media_id,
        "user_id": user_id,
        "file_name": file_name,
        "content_type": content_type,
        "size_bytes": len(data),
        "width": size[0] if size else None,
        "height": size[1] if size else None,
        "description": text,
        "created_at_us": now_us(),
    }
    await runtime.db.write(_insert, row)
    return await runtime.db.read(get_own_media, user_id, media_id, runtime.instance)


def _write_file(folder: Path, file_name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{file_name}.part"
    temporary.write_bytes(data)
    temporary.replace(folder / file_name)


def _insert(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(mt.media_attachments).values(**row))


def _own_row(conn: Connection, user_id: int, media_id: int) -> RowMapping:
    m = mt.media_attachments
    row = (
        conn.execute(select(m).where(m.c.id == media_id, m.c.user_id == user_id)).mappings().first()
    )
    if row is None:
        raise NotFound("Record not found")
    return row


def get_own_media(conn: Connection, user_id: int, media_id: int, info: InstanceInfo) -> MediaFacts:
    return _facts(_own_row(conn, user_id, media_id), info)


def describe(
    conn: Connection, user_id: int, media_id: int, description: object, info: InstanceInfo
) -> MediaFacts:
    """Change an attachment's description (PUT /api/v1/media/:id)."""
    _own_row(conn, user_id, media_id)
    m = mt.media_attachments
    conn.execute(update(m).where(m.c.id == media_id).values(description=_description(description)))
    return get_own_media(conn, user_id, media_id, info)


def find_file(conn: Connection, file_name: str) -> RowMapping | None:
    m = mt.media_attachments
    return (
        conn.execute(select(m.c.file_name, m.c.content_type).where(m.c.file_name == file_name))
        .mappings()
        .first()
    )


def claim_for_post(
    conn: Connection, user_id: int, media_ids: list[int], info: InstanceInfo
) -> list[MediaFacts]:
    """The member's unattached uploads, in the order given; anything else is refused."""
    m = mt.media_attachments
    rows = {
        row["id"]: row
        for row in conn.execute(
            select(m).where(m.c.id.in_(media_ids), m.c.user_id == user_id, m.c.post_id.is_(None))
        ).mappings()
    }
    if len(rows) != len(set(media_ids)):
        raise ValidationFailed("Media ids are unknown or already attached", code="invalid_media")
    return [_facts(rows[i], info) for i in media_ids]


def attach(conn: Connection, media_ids: list[int], post_id: int) -> None:
    m = mt.media_attachments
    conn.execute(update(m).where(m.c.id.in_(media_ids)).values(post_id=post_id))


def as_document_attachments(items: list[MediaFacts]) -> list[dict[str, Any]]:
    """Attachments as a Note carries them (Mastodon reads these)."""
    out = []
    for item in items:
        doc: dict[str, Any] = {
            "type": "Document",
            "mediaType": _type_of(item.url),
            "url": item.url,
            "name": item.description,
        }
        if item.width and item.height:
            doc.update(width=item.width, height=item.height)
        out.append(doc)
    return out


def _type_of(url: str) -> str:
    extension = url.rsplit(".", 1)[-1]
    return next((kind for kind, ext in EXTENSIONS.items() if ext == extension), "image/png")


def load_for_posts(
    conn: Connection, post_ids: list[int], info: InstanceInfo
) -> dict[int, list[MediaFacts]]:
    if not post_ids:
        return {}
    m = mt.media_attachments
    found: dict[int, list[MediaFacts]] = {}
    rows = conn.execute(select(m).where(m.c.post_id.in_(post_ids)).order_by(m.c.id)).mappings()
    for row in rows:
        found.setdefault(row["post_id"], []).append(_facts(row, info))
    return found


def _kind(media_type: str) -> str:
    major = media_type.split("/", 1)[0]
    return {"image": "image", "video": "video", "audio": "audio"}.get(major, "unknown")


def _href(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("href"), str):
        return str(value["href"])
    if isinstance(value, list) and value:
        return _href(value[0])
    return None


def remote_attachments(doc: dict[str, Any], post_id: int) -> list[MediaFacts]:
    """A remote post's attachments, shown from its document (not copied here)."""
    items = doc.get("attachment")
    items = [items] if isinstance(items, dict) else items
    out = []
    for index, item in enumerate(items or []):
        if not isinstance(item, dict) or item.get("type") == "PropertyValue":
            continue
        url = _href(item.get("url"))
        if not url or not url.startswith(("https://", "http://")):
            continue
        width, height = item.get("width"), item.get("height")
        out.append(
            MediaFacts(
                f"{post_id}{index:02d}",
                _kind(str(item.get("mediaType") or "")),
                url,
                url,
                url,
                item["name"] if isinstance(item.get("name"), str) and item["name"] else None,
                width if isinstance(width, int) else None,
                height if isinstance(height, int) else None,
            )
        )
    return out
