"""The profile fields a member's actor carries: their reputation, for Mastodon users to see.

Mastodon shows an actor's ``attachment`` entries of type ``PropertyValue`` as the fields
of the profile (a name and a value). A member's reputation is computed here, by
`exchange.reputation`, from the verified reviews of their settled trades, the number the
exchange API's reputation endpoint answers; the community Group and the instance actor
carry no fields.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Connection, RowMapping

from exchange.reputation import get_reputation
from exchange.trade_terms import Party
from fediverse_share.federation.render import property_value

REPUTATION_FIELD = "Reputation"


def render_reputation(score: Decimal, reviewer_count: int) -> str:
    """``4.20 / 5 from 3 reviewers``; ``3.00 / 5, no reviews yet`` before the first."""
    if reviewer_count == 0:
        return f"{score} / 5, no reviews yet"
    reviewers = "reviewer" if reviewer_count == 1 else "reviewers"
    return f"{score} / 5 from {reviewer_count} {reviewers}"


def actor_attachment(conn: Connection, actor: RowMapping, at_us: int) -> list[dict[str, str]]:
    """The ``attachment`` of a local actor's document at ``at_us`` (empty for non-members)."""
    if actor["type"] != "Person":
        return []
    reputation = get_reputation(conn, Party.local(actor["username"]), at_us)
    value = render_reputation(reputation.score, reputation.reviewer_count)
    return [property_value(REPUTATION_FIELD, value)]
