"""Members as the API names them: ``bob``, ``@bob``, ``bob@domain`` or ``acct:bob@domain``.

On the way in, `parse_handle` reads a member of any community: the username and, for
another community, its domain. `parse_local_handle` wants a member of this community
(their username is their ledger account id) and refuses other communities with
``cross_community_not_available``: trades and reputation are local; payments reach
other communities through clearing (`fediverse_share.exchange_api.cross_payments`).
On the way out, a member is ``acct:name@domain`` and a remote party its actor URI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from exchange.trade_terms import Party
from fediverse_share.actors import MAX_USERNAME_LENGTH, USERNAME_RE
from fediverse_share.errors import BadRequest
from fediverse_share.exchange_api.errors import CrossCommunityNotAvailable

_HANDLE = re.compile(r"(?:acct:|@)?([^@\s]+)(?:@([^@\s]+))?")
_HOST = re.compile(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?")


@dataclass(frozen=True, slots=True)
class Handle:
    """A member: ``domain`` is ``None`` for a member of this community."""

    username: str
    domain: str | None

    def render(self, our_domain: str) -> str:
        return render_handle(self.username, self.domain or our_domain)


def parse_handle(text: str, domain: str, what: str = "to") -> Handle:
    """A member of this community or of another; raises `BadRequest` (invalid_handle)."""
    match = _HANDLE.fullmatch(text.strip()) if len(text) <= 300 else None
    name = "" if match is None else match.group(1).lower()
    host = None if match is None or match.group(2) is None else match.group(2).lower()
    if host == domain.lower():
        host = None
    valid_host = host is None or _HOST.fullmatch(host) is not None
    if not USERNAME_RE.fullmatch(name) or len(name) > MAX_USERNAME_LENGTH or not valid_host:
        raise BadRequest(f"{what} is a member's name or acct:name@domain", code="invalid_handle")
    return Handle(name, host)


def parse_local_handle(text: str, domain: str, what: str = "to") -> str:
    """The username of a member of this community; raises for other communities."""
    match = _HANDLE.fullmatch(text.strip()) if len(text) <= 300 else None
    host = None if match is None else match.group(2)
    if host is not None and host.lower() != domain.lower():
        raise CrossCommunityNotAvailable(
            "members of other communities cannot be paid or traded with from here yet"
        )
    return parse_handle(text, domain, what).username


def render_handle(username: str, domain: str) -> str:
    return f"acct:{username}@{domain}"


def render_party(party: Party, domain: str) -> str:
    if party.account_id is not None:
        return render_handle(party.account_id, domain)
    return str(party.actor_uri)
