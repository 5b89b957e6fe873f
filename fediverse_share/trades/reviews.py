"""Reviews of cross-community trades: sent to the other server, verified when received.

A member's review of a settled trade with another community (`review_trade`, or the
exchange API through `after_local_review`) is sent to the other party as
``Create(Review{context: <Agreement>, rating, content})``, signed (HTTP signature of the
delivery) by our server. A received review (`receive_review`) is stored with
``verified=True`` only when its author is the activity's actor (whose signature the
inbox checked), that actor is the remote party of the trade this server knows by the
Agreement, and the trade is settled here (the domain checks that and the 14-day
window); otherwise it is refused, and the refusal is recorded on the inbox item. Only
verified reviews are shown and counted (`exchange.reviews`, `exchange.reputation`), and
the blind rule (hidden until both sides reviewed or 14 days passed) applies here as for
any review. A review sent again changes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping

from activitypub.objects import Activity
from exchange.errors import ReviewExists
from exchange.reviews import RemoteReview, Review, store_remote_review
from exchange.trade_terms import Party, Trade
from fediverse_share.clock import now_us
from fediverse_share.federation import publish
from fediverse_share.members import Member
from fediverse_share.runtime import Runtime
from fediverse_share.trades import records
from fediverse_share.trades.steps import trade_of
from fediverse_share.trades.wire import parse_review, render_review


def after_local_review(conn: Connection, runtime: Runtime, trade: Trade, review: Review) -> None:
    """Send a member's new review of a cross-community trade to the other party."""
    if not trade.is_remote or trade.agreement_uri is None:
        return
    actor = records.local_actor(conn, trade)
    uri = f"{records.trade_base(runtime, trade)}/reviews/{review.reviewer_role.value}"
    doc = render_review(uri, trade.agreement_uri, actor["uri"], records.remote_party(trade),
                        review.rating, review.text, review.written_at_us)  # fmt: skip
    publish.record_activity(conn, runtime, actor, doc, public=False)


async def review_trade(
    runtime: Runtime, member: Member, trade_id: str, rating: int, text: str
) -> Review:
    """A member reviews the other party of a settled trade (sent on if it is remote)."""
    from fediverse_share.exchange_api.reviews import _review

    review, _ = await runtime.db.write(
        _review, runtime, trade_id, member.username, rating, text, now_us()
    )
    return review


def _store(conn: Connection, activity: Activity, actor: RowMapping, obj: dict[str, Any]) -> None:
    received = parse_review(obj, activity.actor)
    trade = trade_of(conn, received.agreement_uri, activity.actor)
    at = now_us()
    remote = RemoteReview(
        reviewer=Party.remote(activity.actor),
        rating=received.rating,
        text=received.text,
        written_at_us=_written_at_us(trade, received.written_at_us, at),
        signed_by=actor["key_id"] or activity.actor,
        remote_uri=received.uri,
        verified=True,
    )
    try:
        store_remote_review(conn, trade.id, remote, at)
    except ReviewExists as exists:
        same = (exists.review.remote_uri, exists.review.rating, exists.review.text)
        if same != (received.uri, received.rating, received.text):
            raise


def _written_at_us(trade: Trade, published_us: int, now_us: int) -> int:
    """When a received review counts as written: its ``published`` time, moved into
    [our settlement, now]. Timestamps carry whole seconds, and the other side may have
    settled first; its window is then judged from our settlement."""
    settled = trade.settled_at_us if trade.settled_at_us is not None else now_us
    return min(max(published_us, settled), now_us)


async def receive_review(
    runtime: Runtime, activity: Activity, actor: RowMapping, obj: dict[str, Any]
) -> None:
    await runtime.db.write(_store, activity, actor, obj)
