"""Constants of the wire: JSON-LD contexts, the public address, media types.

Media type checks compare the bare type (``type/subtype``, lowercased) and, for
``application/ld+json``, ignore the profile: servers differ in how they quote it and
every implementation we federate with accepts either form.
"""

from __future__ import annotations

AS2_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
# Compacted forms of the public collection that JSON-LD-unaware peers still send.
PUBLIC_ADDRESSES = frozenset({PUBLIC, "as:Public", "Public"})

ACTIVITY_JSON = "application/activity+json"
LD_JSON = "application/ld+json"
LD_JSON_AS2 = f'{LD_JSON}; profile="{AS2_CONTEXT}"'
JRD_JSON = "application/jrd+json"
XRD_XML = "application/xrd+xml"

# What we ask for when fetching ActivityPub documents, and what we accept back.
ACCEPT_ACTIVITY = f"{ACTIVITY_JSON}, {LD_JSON_AS2}"
ACTIVITY_MEDIA_TYPES = frozenset({ACTIVITY_JSON, LD_JSON})
# WebFinger answers: RFC 7033 says JRD; plenty of servers say plain JSON.
ACCEPT_JRD = f"{JRD_JSON}, application/json"
JRD_MEDIA_TYPES = frozenset({JRD_JSON, "application/json"})

ACTOR_TYPES = frozenset({"Application", "Group", "Organization", "Person", "Service"})


def media_type_of(content_type: str | None) -> str:
    """The bare media type of a ``Content-Type`` value, lowercased (``""`` if none)."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def is_activity_media_type(content_type: str | None) -> bool:
    """Whether ``content_type`` announces an ActivityStreams document."""
    return media_type_of(content_type) in ACTIVITY_MEDIA_TYPES


def is_activity_link_type(link_type: str | None) -> bool:
    """Whether a WebFinger link ``type`` names an ActivityStreams actor document.

    ``application/ld+json`` counts only with the ActivityStreams profile.
    """
    bare = media_type_of(link_type)
    if bare == ACTIVITY_JSON:
        return True
    if bare != LD_JSON or link_type is None:
        return False
    parameters = link_type.split(";", 1)[1] if ";" in link_type else ""
    name, _, value = parameters.strip().partition("=")
    return name.strip().lower() == "profile" and value.strip().strip('"') == AS2_CONTEXT
