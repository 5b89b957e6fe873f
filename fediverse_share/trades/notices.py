"""What a member hears of their trades: the other party's steps, told by the community.

When the other party of a trade proposes it, accepts, declines, delivers, confirms,
pays, marks it returned or calls it off, the party who is a member here gets a direct
message from the community's Group that mentions them, so the Mastodon apps show it
as a ``mention`` notification: the one standard type that every client shows with a
text of ours (the others say "favourited", "boosted" or "posted", which a trade step
is not). The message links the other party and the listing, and gives the trade's id
for the exchange API. It stays on this server: only local members are addressed.

`tell_new_steps` runs in the database write that records the steps, for the steps
new in it, so a replayed step tells nobody twice; the member's own steps and the
steps the machine takes by itself (settlement) are not told.
"""

from __future__ import annotations

from html import escape

from sqlalchemy import Connection, RowMapping, select

from exchange.trade_machine import Action
from exchange.trade_store import TradeStep, list_steps
from exchange.trade_terms import Party, Trade
from fediverse_share import tables
from fediverse_share.federation import publish
from fediverse_share.mastodon.formatting import MentionTarget, render_mention
from fediverse_share.members import get_member
from fediverse_share.runtime import Runtime

#: What the other party did, after their name.
SAID = {
    Action.PROPOSE: "proposes a trade on",
    Action.ACCEPT: "accepted the trade on",
    Action.DECLINE: "declined the trade on",
    Action.CANCEL: "called off the trade on",
    Action.DELIVER: "delivered",
    Action.CONFIRM: "confirmed receiving",
    Action.PAY: "paid for",
    Action.RETURN: "marked as returned",
}


def count_steps(conn: Connection, trade_id: str) -> int:
    """How many steps a trade has so far (0 before it exists): `tell_new_steps`'s start."""
    return len(list_steps(conn, trade_id))


def tell_new_steps(conn: Connection, runtime: Runtime, trade: Trade, seen: int) -> None:
    """Tell the trade's members of each step after the first ``seen`` that the other
    party took."""
    for step in list_steps(conn, trade.id)[seen:]:
        if step.actor_role is None:
            continue
        to, by = trade.party(step.actor_role.other), trade.party(step.actor_role)
        member = None if to.is_remote else _actor(conn, to)
        if member is not None:
            _send(conn, runtime, member, _message(conn, member, by, trade, step))


def _actor(conn: Connection, party: Party) -> RowMapping | None:
    a = tables.actors
    if party.is_remote:
        where = a.c.uri == party.actor_uri
    else:
        where = a.c.id == get_member(conn, str(party.account_id)).actor_id
    query = select(a.c.username, a.c.domain, a.c.local, a.c.url, a.c.uri).where(where)
    found: RowMapping | None = conn.execute(query).mappings().first()
    return found


def _party_link(conn: Connection, party: Party) -> str:
    row = _actor(conn, party)
    if row is None:
        return escape(party.ref)
    acct = row["username"] if row["local"] else f"{row['username']}@{row['domain']}"
    return f'<a href="{escape(row["url"] or row["uri"])}">@{escape(acct)}</a>'


def _listing_link(trade: Trade) -> str:
    title = f"“{escape(trade.listing.title)}”"
    ref = trade.listing.ref
    if not ref.startswith(("https://", "http://")):
        return title
    return f'<a href="{escape(ref)}">{title}</a>'


def _message(conn: Connection, member: RowMapping, by: Party, trade: Trade, step: TradeStep) -> str:
    target = MentionTarget(member["uri"], member["url"] or member["uri"], member["username"])
    option = trade.option.value.replace("_", " ")
    lines = [
        f"{render_mention(target)} {_party_link(conn, by)} {SAID[step.action]} "
        f"{_listing_link(trade)} ({option})."
    ]
    if step.reason:
        lines.append(f"“{escape(step.reason)}”")
    lines.append(f"Trade <code>{escape(trade.id)}</code>")
    return "".join(f"<p>{line}</p>" for line in lines)


def _send(conn: Connection, runtime: Runtime, member: RowMapping, content_html: str) -> None:
    a = tables.actors
    group_id = conn.execute(
        select(a.c.id).where(a.c.uri == runtime.instance.community_uri)
    ).scalar_one()
    mention = {"type": "Mention", "href": member["uri"],
               "name": f"@{member['username']}@{member['domain']}"}  # fmt: skip
    publish.publish_note(
        conn, runtime, group_id, content_html,
        visibility="direct", mentions=[member["uri"]], extra={"tag": [mention]},
    )  # fmt: skip
