"""Typed views of ActivityStreams documents, parsed at the boundary, raw dict kept.

Documents arrive already decoded (dicts from orjson). ``parse_actor`` and
``parse_activity`` check what the protocol needs and raise `DocumentInvalid` for
anything else, never ``KeyError`` or ``TypeError``; optional fields that are absent or
``null`` become ``None``. The decoded document stays on ``raw`` for whatever must be
forwarded unchanged or read later. We read plain JSON like Mastodon does: no JSON-LD
expansion, so the literal property names and ``type`` strings are what count.

``check_same_origin`` is the rule that stops one server speaking for another: an id
must live on the same host as the actor it belongs to (DESIGN §6).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from activitypub.errors import DocumentInvalid, OriginMismatch
from activitypub.vocabulary import ACTOR_TYPES, AS2_CONTEXT, SECURITY_CONTEXT

#: Mastodon reads at most this many keys of an actor (``MAX_PUBLIC_KEYS``).
MAX_PUBLIC_KEYS = 10
#: How deep ``check_same_origin`` follows embedded objects (Announce(Create(Page)) is 2).
MAX_EMBEDDING_DEPTH = 4
#: Activities whose embedded object legitimately belongs to someone else: a boost, an
#: answer to another actor's Follow or Offer, a report, a moderator's Add or Remove.
FORWARDING_TYPES = frozenset(
    {"Announce", "Accept", "Reject", "TentativeAccept", "TentativeReject", "Flag", "Add", "Remove"}
)

Reference = str | dict[str, Any]


@dataclass(frozen=True, slots=True)
class PublicKey:
    """An actor's ``publicKey`` entry (PEM, usually RSA)."""

    id: str
    owner: str
    pem: str


@dataclass(frozen=True, slots=True)
class Multikey:
    """An FEP-521a ``assertionMethod`` key."""

    id: str
    controller: str
    public_key_multibase: str


@dataclass(frozen=True, slots=True)
class Actor:
    id: str
    type: str
    types: tuple[str, ...]
    preferred_username: str
    inbox: str
    outbox: str | None
    followers: str | None
    following: str | None
    shared_inbox: str | None
    public_keys: tuple[PublicKey, ...]
    assertion_methods: tuple[Multikey, ...]
    name: str | None
    summary: str | None
    url: str | None
    icon_url: str | None
    manually_approves_followers: bool
    discoverable: bool
    published: datetime | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Activity:
    id: str
    type: str
    actor: str
    object: Reference | None
    target: Reference | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    audience: tuple[str, ...]
    published: datetime | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)


def id_of(value: object) -> str | None:
    """The id of a reference that is either an id string or an object with an ``id``."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, Mapping):
        found = value.get("id")
        return found if isinstance(found, str) and found else None
    return None


def types_of(value: object) -> tuple[str, ...]:
    """The ``type`` of an object as a tuple, whether it is one string or an array."""
    if not isinstance(value, Mapping):
        return ()
    kind = value.get("type")
    if isinstance(kind, str):
        return (kind,)
    if isinstance(kind, list):
        return tuple(entry for entry in kind if isinstance(entry, str))
    return ()


# An http(s) URL whose authority is a plain lowercase host and maybe a port without
# leading zeros, then the end or a path, query or fragment: nearly every id there is,
# and one that urlsplit reads the same way. Anything else is read by urlsplit.
_PORT = r"[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]"
_PLAIN_URL = re.compile(rf"https?://([a-z0-9.-]+(?::(?:{_PORT}))?)(?:[/?#]|\Z)")


def host_of(url: str) -> str | None:
    """The lowercased ``host[:port]`` of an http(s) URL, or ``None`` if it is not one."""
    # An inbox POST asks this of about eight URLs; urlsplit and its port and hostname
    # properties cost several times the match (bench/inbox.py).
    match = _PLAIN_URL.match(url)
    return match[1] if match else _host_by_urlsplit(url)


def _host_by_urlsplit(url: str) -> str | None:
    """`host_of` for any URL: what `_PLAIN_URL` is a shortcut to."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.hostname if port is None else f"{parts.hostname}:{port}"


def render_context(extension: Mapping[str, Any] | None = None) -> list[str | dict[str, Any]]:
    """The ``@context`` we put on documents we serve and send."""
    context: list[str | dict[str, Any]] = [AS2_CONTEXT, SECURITY_CONTEXT]
    if extension:
        context.append(dict(extension))
    return context


def check_context(document: Mapping[str, Any]) -> None:
    """Raise unless ``@context`` includes the ActivityStreams context (as Mastodon requires)."""
    context = document.get("@context")
    entries = context if isinstance(context, list) else [context]
    if AS2_CONTEXT not in entries:
        raise DocumentInvalid("the @context does not include the ActivityStreams context")


def _mapping(document: object) -> Mapping[str, Any]:
    if not isinstance(document, Mapping):
        raise DocumentInvalid("the document is not a JSON object")
    return document


def _url(document: Mapping[str, Any], name: str) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or host_of(value) is None:
        raise DocumentInvalid(f"{name} must be an http(s) URL")
    return value


def _required_url(document: Mapping[str, Any], name: str) -> str:
    value = _url(document, name)
    if value is None:
        raise DocumentInvalid(f"{name} is required")
    return value


def _text(document: Mapping[str, Any], name: str) -> str | None:
    value = document.get(name)
    if value is not None and not isinstance(value, str):
        raise DocumentInvalid(f"{name} must be a string")
    return value


def _flag(document: Mapping[str, Any], name: str) -> bool:
    value = document.get(name)
    if value is not None and not isinstance(value, bool):
        raise DocumentInvalid(f"{name} must be true or false")
    return bool(value)


def _datetime(document: Mapping[str, Any], name: str) -> datetime | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise DocumentInvalid(f"{name} must be a date-time string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DocumentInvalid(f"{name} is not an ISO 8601 date-time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _addresses(document: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = document.get(name)
    if value is not None and not isinstance(value, str | list | Mapping):
        raise DocumentInvalid(f"{name} must be an id or a list of ids")
    return tuple(found for entry in _as_list(value) if (found := id_of(entry)) is not None)


def _reference(document: Mapping[str, Any], name: str) -> Reference | None:
    value = document.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return dict(value)
    raise DocumentInvalid(f"{name} must be an id or an object")


def _link_href(value: object) -> str | None:
    """The first http(s) URL of a ``url``/``icon`` value: a string, a Link, an Image, a list."""
    for entry in _as_list(value):
        if isinstance(entry, str) and host_of(entry) is not None:
            return entry
        if isinstance(entry, Mapping):
            found = _link_href(entry.get("href")) or _link_href(entry.get("url"))
            if found is not None:
                return found
    return None


def _owned(key_id: str, owner: str, actor_id: str) -> bool:
    # A key listed on an actor but owned by, or hosted on, someone else is not
    # this actor's key; keeping it would let one actor shadow another's key id.
    return owner == actor_id and host_of(key_id) == host_of(actor_id)


def _public_keys(document: Mapping[str, Any], actor_id: str) -> list[PublicKey]:
    keys: list[PublicKey] = []
    for entry in _as_list(document.get("publicKey"))[:MAX_PUBLIC_KEYS]:
        if not isinstance(entry, Mapping):
            continue  # a bare key id: nothing to verify with until it is fetched
        key_id, pem = entry.get("id"), entry.get("publicKeyPem")
        owner = entry.get("owner", actor_id)
        if not (isinstance(key_id, str) and isinstance(owner, str) and isinstance(pem, str)):
            raise DocumentInvalid("a publicKey needs a string id, owner and publicKeyPem")
        if _owned(key_id, owner, actor_id):
            keys.append(PublicKey(key_id, owner, pem))
    return keys


def _multikeys(document: Mapping[str, Any], actor_id: str) -> list[Multikey]:
    keys: list[Multikey] = []
    for entry in _as_list(document.get("assertionMethod"))[:MAX_PUBLIC_KEYS]:
        if "Multikey" not in types_of(entry):
            continue  # a reference, or a key type FEP-521a does not define
        key_id, controller, multibase = (
            entry.get(name) for name in ("id", "controller", "publicKeyMultibase")
        )
        if not (isinstance(key_id, str) and isinstance(controller, str)):
            raise DocumentInvalid("a Multikey needs a string id and controller")
        if not isinstance(multibase, str):
            raise DocumentInvalid("a Multikey needs a publicKeyMultibase")
        if _owned(key_id, controller, actor_id):
            keys.append(Multikey(key_id, controller, multibase))
    return keys


def _shared_inbox(document: Mapping[str, Any]) -> str | None:
    endpoints = document.get("endpoints")
    if isinstance(endpoints, Mapping) and endpoints.get("sharedInbox") is not None:
        return _url(endpoints, "sharedInbox")
    return _url(document, "sharedInbox")


def _actor_type(document: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    types = types_of(document)
    for kind in types:
        if kind in ACTOR_TYPES:
            return kind, types
    raise DocumentInvalid(f"an actor's type must be one of {', '.join(sorted(ACTOR_TYPES))}")


def parse_actor(document: object) -> Actor:
    """An actor document (Person, Group, Application, Organization, Service)."""
    doc = _mapping(document)
    check_context(doc)
    actor_id = _required_url(doc, "id")
    kind, types = _actor_type(doc)
    username = _text(doc, "preferredUsername")
    if not username:
        raise DocumentInvalid("an actor needs a preferredUsername")
    public_keys = _public_keys(doc, actor_id)
    return Actor(
        id=actor_id,
        type=kind,
        types=types,
        preferred_username=username,
        inbox=_required_url(doc, "inbox"),
        outbox=_url(doc, "outbox"),
        followers=_url(doc, "followers"),
        following=_url(doc, "following"),
        shared_inbox=_shared_inbox(doc),
        public_keys=tuple(public_keys),
        assertion_methods=tuple(_multikeys(doc, actor_id)[: MAX_PUBLIC_KEYS - len(public_keys)]),
        name=_text(doc, "name"),
        summary=_text(doc, "summary"),
        url=_link_href(doc.get("url")),
        icon_url=_link_href(doc.get("icon")),
        manually_approves_followers=_flag(doc, "manuallyApprovesFollowers"),
        discoverable=_flag(doc, "discoverable"),
        published=_datetime(doc, "published"),
        raw=doc,
    )


def parse_activity(document: object) -> Activity:
    """An activity, top-level or embedded; its ``type`` must be one string (as Mastodon)."""
    doc = _mapping(document)
    kind = doc.get("type")
    if not isinstance(kind, str) or not kind:
        raise DocumentInvalid("an activity's type must be a single string")
    actor = id_of(doc.get("actor"))
    if actor is None or host_of(actor) is None:
        raise DocumentInvalid("an activity needs an actor id (an http(s) URL)")
    return Activity(
        id=_required_url(doc, "id"),
        type=kind,
        actor=actor,
        object=_reference(doc, "object"),
        target=_reference(doc, "target"),
        to=_addresses(doc, "to"),
        cc=_addresses(doc, "cc"),
        audience=_addresses(doc, "audience"),
        published=_datetime(doc, "published"),
        raw=doc,
    )


def _attribution(obj: Mapping[str, Any]) -> tuple[str, ...]:
    owners = tuple(found for v in _as_list(obj.get("attributedTo")) if (found := id_of(v)))
    if owners:
        return owners
    actor = id_of(obj.get("actor"))
    return (actor,) if actor else ()


def _check_same_host(object_id: str, actor_id: str) -> None:
    host = host_of(object_id)
    if host is None or host != host_of(actor_id):
        raise OriginMismatch(object_id, actor_id)


def _check_origin(document: Mapping[str, Any], actor_id: str, depth: int) -> None:
    object_id = id_of(document)
    if object_id is not None:
        _check_same_host(object_id, actor_id)
    embedded = document.get("object")
    if not isinstance(embedded, Mapping) or depth >= MAX_EMBEDDING_DEPTH:
        return
    forwarding = not FORWARDING_TYPES.isdisjoint(types_of(document))
    for owner in _attribution(embedded) or (actor_id,):
        if not forwarding:
            _check_same_host(owner, actor_id)
        _check_origin(embedded, owner, depth + 1)


def check_same_origin(document: Activity | Mapping[str, Any], actor_id: str) -> None:
    """Raise `OriginMismatch` unless ids live on the hosts of the actors they belong to.

    The document's ``id`` must be on ``actor_id``'s host. An embedded ``object`` must
    be on the host of its own ``attributedTo`` (or ``actor``; the outer actor when it
    names none), and, unless the activity forwards others' objects (Announce, Accept,
    Reject, Flag, Add, Remove…), that owner must be on ``actor_id``'s host too.
    Embedded objects are followed down to `MAX_EMBEDDING_DEPTH`.
    """
    raw = document.raw if isinstance(document, Activity) else document
    _check_origin(raw, actor_id, 0)
