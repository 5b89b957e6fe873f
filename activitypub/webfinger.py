"""WebFinger (RFC 7033): ``acct:`` handles, the JRD and host-meta we serve, and lookups.

Serving follows Mastodon (``webfinger_serializer.rb``): the ``subject`` is the resource
exactly as queried, ``aliases`` name the actor and its profile page, and the links are
the profile page, ``self`` (``application/activity+json``, ``href`` = the actor id), the
OStatus subscribe template and the avatar.

Looking up follows Mastodon's ``Webfinger`` and ``ResolveAccountService``: HTTPS only
(plain HTTP as a fallback when the address policy allows it, for local development);
the answer's ``subject`` must be the handle asked for, or name another handle whose own
WebFinger answer has itself as ``subject`` (one redirect); the ``self`` link may be
``application/activity+json`` or ``application/ld+json`` with the ActivityStreams
profile. `lookup` returns the actor id; fetch it with `Fetcher.fetch_json`, which
checks that the document served there has that id. `verify_actor_handle` runs the
other direction (actor → handle), and fails unless WebFinger points back at the actor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from activitypub.errors import DocumentInvalid, FetchFailed, InvalidHandle, WebFingerMismatch
from activitypub.fetch import Fetcher
from activitypub.objects import host_of
from activitypub.vocabulary import (
    ACCEPT_JRD,
    ACTIVITY_JSON,
    JRD_MEDIA_TYPES,
    XRD_XML,
    is_activity_link_type,
)

#: Mastodon's ``Account::USERNAME_RE`` (matched on the lowercased name).
USERNAME_RE = re.compile(r"[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
DOMAIN_RE = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}(?::[0-9]{{1,5}})?")
PROFILE_PAGE_REL = "http://webfinger.net/rel/profile-page"
SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"
AVATAR_REL = "http://webfinger.net/rel/avatar"
XRD_NAMESPACE = "http://docs.oasis-open.org/ns/xri/xrd-1.0"


@dataclass(frozen=True, slots=True)
class Handle:
    """A lowercased ``name@domain`` (the domain may carry a port)."""

    username: str
    domain: str

    @property
    def acct(self) -> str:
        return f"acct:{self.username}@{self.domain}"

    def __str__(self) -> str:
        return f"{self.username}@{self.domain}"


@dataclass(frozen=True, slots=True)
class Jrd:
    """The parts of a JRD document a lookup reads."""

    subject: str
    aliases: tuple[str, ...]
    links: tuple[Mapping[str, Any], ...]


def _normalise_domain(domain: str) -> str:
    try:
        ascii_domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        raise InvalidHandle(f"{domain!r} is not a valid domain") from None
    ascii_domain = ascii_domain.lower()
    if len(ascii_domain) > 253 or not DOMAIN_RE.fullmatch(ascii_domain):
        raise InvalidHandle(f"{domain!r} is not a valid domain")
    return ascii_domain


def parse_acct(value: str) -> Handle:
    """``acct:name@domain``, ``@name@domain`` or ``name@domain`` as a `Handle`.

    Case-insensitive, lowercased. The name follows Mastodon's username rule, except
    that it may equal the domain: the instance actor's handle (FEP-d556).
    """
    text = value.strip()
    if text[:5].lower() == "acct:":
        text = text[5:]
    elif text.startswith("@"):
        text = text[1:]
    username, at, domain = text.partition("@")
    if not at or not username or not domain or "@" in domain:
        raise InvalidHandle(f"{value!r} is not a name@domain handle")
    domain = _normalise_domain(domain)
    username = username.lower()
    if username != domain and not USERNAME_RE.fullmatch(username):
        raise InvalidHandle(f"{username!r} is not a valid username")
    return Handle(username, domain)


def render_jrd(
    subject: str,
    actor_id: str,
    profile_url: str,
    *,
    aliases: Iterable[str] | None = None,
    subscribe_template: str | None = None,
    avatar_url: str | None = None,
    avatar_media_type: str | None = None,
) -> dict[str, Any]:
    """The JRD answering a query for ``subject`` (echoed exactly as queried)."""
    links: list[dict[str, str]] = [
        {"rel": PROFILE_PAGE_REL, "type": "text/html", "href": profile_url},
        {"rel": "self", "type": ACTIVITY_JSON, "href": actor_id},
    ]
    if subscribe_template:
        links.append({"rel": SUBSCRIBE_REL, "template": subscribe_template})
    if avatar_url:
        avatar = {"rel": AVATAR_REL, "href": avatar_url}
        if avatar_media_type:
            avatar["type"] = avatar_media_type
        links.append(avatar)
    return {
        "subject": subject,
        "aliases": list(dict.fromkeys(aliases if aliases is not None else [actor_id, profile_url])),
        "links": links,
    }


def render_host_meta(base_url: str) -> str:
    """The host-meta XRD pointing at our WebFinger endpoint (LRDD, RFC 6415)."""
    template = f"{base_url.rstrip('/')}/.well-known/webfinger?resource={{uri}}"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<XRD xmlns="{XRD_NAMESPACE}">\n'
        f'  <Link rel="lrdd" type={quoteattr(XRD_XML)} template={quoteattr(template)}/>\n'
        "</XRD>\n"
    )


def webfinger_url(handle: Handle, *, scheme: str = "https") -> str:
    """The WebFinger query URL for ``handle``."""
    resource = quote(handle.acct, safe=":@")
    return f"{scheme}://{handle.domain}/.well-known/webfinger?resource={resource}"


def parse_jrd(document: Mapping[str, Any]) -> Jrd:
    """The subject, aliases and links of a JRD; raises `DocumentInvalid` if malformed."""
    subject, aliases, links = (document.get(key) for key in ("subject", "aliases", "links"))
    if not isinstance(subject, str):
        raise DocumentInvalid("a WebFinger answer needs a subject")
    if not isinstance(aliases, list | None) or not isinstance(links, list | None):
        raise DocumentInvalid("WebFinger aliases and links must be lists")
    return Jrd(
        subject=subject,
        aliases=tuple(alias for alias in aliases or () if isinstance(alias, str)),
        links=tuple(link for link in links or () if isinstance(link, Mapping)),
    )


def find_actor_link(jrd: Jrd) -> str | None:
    """The ``href`` of the ``self`` link to an ActivityStreams actor, if there is one."""
    for link in jrd.links:
        if link.get("rel") != "self" or not is_activity_link_type(link.get("type")):
            continue
        href = link.get("href")
        if isinstance(href, str) and host_of(href) is not None:
            return href
    return None


async def _query(fetcher: Fetcher, handle: Handle) -> Jrd:
    schemes = ("https", "http") if fetcher.policy.allow_http else ("https",)
    for scheme in schemes:
        try:
            document = await fetcher.get_json(
                webfinger_url(handle, scheme=scheme),
                accept=ACCEPT_JRD,
                media_types=JRD_MEDIA_TYPES,
                signed=False,
            )
        except FetchFailed as error:
            # Only a connection that failed outright (no status) may retry over http.
            if error.status is not None or scheme == schemes[-1]:
                raise
            continue
        return parse_jrd(document)
    raise AssertionError("unreachable: the last scheme re-raises")


def _subject_handle(jrd: Jrd) -> Handle:
    try:
        return parse_acct(jrd.subject)
    except InvalidHandle:
        raise WebFingerMismatch(f"the WebFinger subject {jrd.subject!r} is not a handle") from None


async def _canonical(fetcher: Fetcher, handle: Handle) -> tuple[Handle, Jrd]:
    """The handle WebFinger calls canonical for ``handle``, following one redirect."""
    jrd = await _query(fetcher, handle)
    subject = _subject_handle(jrd)
    if subject == handle:
        return handle, jrd
    jrd = await _query(fetcher, subject)
    if _subject_handle(jrd) != subject:
        raise WebFingerMismatch(f"the WebFinger answer for {handle} does not loop back")
    return subject, jrd


async def lookup(fetcher: Fetcher, handle: Handle) -> str:
    """The actor id that ``handle`` names, by WebFinger with the subject round trip."""
    _, jrd = await _canonical(fetcher, handle)
    actor_id = find_actor_link(jrd)
    if actor_id is None:
        raise WebFingerMismatch(f"{handle} has no ActivityPub actor link")
    return actor_id


async def verify_actor_handle(fetcher: Fetcher, actor_id: str, preferred_username: str) -> Handle:
    """The canonical handle of an actor, confirmed by WebFinger pointing back at it.

    Asks ``preferredUsername@<actor host>`` (Mastodon's ``verified_webfinger?``); the
    answer may redirect once to another domain (split-domain setups), and its ``self``
    link must be ``actor_id``.
    """
    host = host_of(actor_id)
    if host is None:
        raise InvalidHandle(f"{actor_id!r} is not an actor URL")
    handle, jrd = await _canonical(fetcher, parse_acct(f"{preferred_username}@{host}"))
    if find_actor_link(jrd) != actor_id:
        raise WebFingerMismatch(f"WebFinger for {handle} does not point back to {actor_id}")
    return handle
