"""Members as the API names them: ``bob``, ``@bob``, ``bob@domain`` or ``acct:bob@domain``.

On the way in, a handle of this community becomes the member's username (which is
their ledger account id); a handle of another community is refused with
``cross_community_not_available`` until clearing between communities exists. On the way
out, a member is ``acct:name@domain`` and a remote party its actor URI.
"""

from __future__ import annotations

import re

from exchange.trade_terms import Party
from fediverse_share.actors import MAX_USERNAME_LENGTH, USERNAME_RE
from fediverse_share.errors import BadRequest
from fediverse_share.exchange_api.errors import CrossCommunityNotAvailable

_HANDLE = re.compile(r"(?:acct:|@)?([^@\s]+)(?:@([^@\s]+))?")


def parse_local_handle(text: str, domain: str, what: str = "to") -> str:
    """The username of a member of this community; raises for other communities."""
    match = _HANDLE.fullmatch(text.strip()) if len(text) <= 300 else None
    name = "" if match is None else match.group(1).lower()
    host = None if match is None else match.group(2)
    if host is not None and host.lower() != domain.lower():
        raise CrossCommunityNotAvailable(
            "members of other communities cannot be paid or traded with from here yet"
        )
    if not USERNAME_RE.fullmatch(name) or len(name) > MAX_USERNAME_LENGTH:
        raise BadRequest(f"{what} is a member's name or acct:name@domain", code="invalid_handle")
    return name


def render_handle(username: str, domain: str) -> str:
    return f"acct:{username}@{domain}"


def render_party(party: Party, domain: str) -> str:
    if party.account_id is not None:
        return render_handle(party.account_id, domain)
    return str(party.actor_uri)
