"""Our objects as the fediverse sees them (typed rows → ActivityStreams JSON)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping

from activitypub.vocabulary import AS2_CONTEXT as AS_CONTEXT
from activitypub.vocabulary import PUBLIC, SECURITY_CONTEXT
from fediverse_share.clock import render_iso
from fediverse_share.runtime import InstanceInfo

__all__ = ["AS_CONTEXT", "CONTEXT", "PUBLIC", "property_value", "render_actor"]

#: Terms Mastodon and FEP-0837 use beyond the two base contexts.
EXTENSION_CONTEXT: dict[str, Any] = {
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "toot": "http://joinmastodon.org/ns#",
    "discoverable": "toot:discoverable",
    "schema": "http://schema.org#",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
    # FEP-0837 (federated marketplace): ValueFlows terms, OM2 units as the FEP has them.
    "vf": "https://w3id.org/valueflows/ont/vf#",
    "om2": "http://www.ontology-of-units-of-measure.org/resource/om-2/",
    "Proposal": "vf:Proposal",
    "Intent": "vf:Intent",
    "purpose": "vf:purpose",
    "publishes": "vf:publishes",
    "reciprocal": "vf:reciprocal",
    "unitBased": "vf:unitBased",
    "action": "vf:action",
    "resourceConformsTo": "vf:resourceConformsTo",
    "resourceQuantity": "vf:resourceQuantity",
    "availableQuantity": "vf:availableQuantity",
    "hasUnit": "om2:hasUnit",
    "hasNumericalValue": "om2:hasNumericalValue",
    # Our own terms (FEDERATION.md): what kind of sharing a listing offers.
    "share": "https://w3id.org/fediverse-share/ns#",
    "sharingKind": "share:sharingKind",
    "category": "share:category",
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
