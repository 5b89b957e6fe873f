"""Our objects as the fediverse sees them (typed rows → ActivityStreams JSON)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping

from fediverse_share.clock import render_iso
from fediverse_share.runtime import InstanceInfo

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
#: Terms Mastodon and FEP-0837 use beyond the two base contexts.
EXTENSION_CONTEXT: dict[str, Any] = {
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "toot": "http://joinmastodon.org/ns#",
    "discoverable": "toot:discoverable",
    "schema": "http://schema.org#",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
}
CONTEXT: list[Any] = [AS_CONTEXT, SECURITY_CONTEXT, EXTENSION_CONTEXT]


def render_actor(
    row: RowMapping, info: InstanceInfo, *, attachment: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A local actor's document: every field of DESIGN §3 "Actors"."""
    uri = row["uri"]
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "id": uri,
        "type": row["type"],
        "preferredUsername": row["username"],
        "name": row["name"] or row["username"],
        "summary": row["summary"] or "",
        "url": row["url"],
        "inbox": row["inbox"],
        "outbox": row["outbox"],
        "followers": row["followers_url"],
        "following": row["following_url"],
        "endpoints": {"sharedInbox": row["shared_inbox"]},
        "publicKey": {"id": row["key_id"], "owner": uri, "publicKeyPem": row["public_key_pem"]},
        "manuallyApprovesFollowers": bool(row["manually_approves_followers"]),
        "discoverable": bool(row["discoverable"]),
        "published": render_iso(row["published_at_us"]),
        "icon": {"type": "Image", "mediaType": "image/png", "url": info.avatar_url},
    }
    if attachment:
        doc["attachment"] = attachment
    return doc


def property_value(name: str, value: str) -> dict[str, str]:
    return {"type": "PropertyValue", "name": name, "value": value}
