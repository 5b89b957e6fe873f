"""How a trade's price is paid, in the exchange API: the Trade's ``settlement`` and
``clearing`` fields, and ``POST /trades/{id}/pay`` on a trade paid through clearing.

A priced trade with a member of another community is paid through clearing when the
two communities have a clearing path (``settlement`` ``clearing``), otherwise noted as
paid outside the ledger (``outside``). For the first, ``clearing`` says what the payer
owes: ``amount`` of ``currency`` (the listing's community's) ``to`` the payee, as
``acct:name@domain``: on an offer what the payee receives, on a need what its author,
the payer, sends from their own currency. ``POST /payments/quote`` with those three
fields shows what it costs in the payer's currency (for a need, what it delivers);
``POST /trades/{id}/pay`` with that quote's id as ``quote_id`` pays it, or without one
quotes and pays (`fediverse_share.trades.payments`).
The answer is the trade: ``paid`` (or ``settled``) once the payment is committed, its
``payment_id`` the clearing transfer's id; still ``confirmed`` while the payment is in
flight (``clearing.payment_state`` ``pending``), and the server records the step when
it commits. A payment that fails is a 422 ``payment_rejected`` or ``payment_expired``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from exchange.errors import WrongCurrency
from exchange.trade_terms import PAYING, PRICED, Trade
from fediverse_share.errors import BadRequest
from fediverse_share.exchange_api.caller import optional_str
from fediverse_share.members import Member
from fediverse_share.runtime import Runtime
from fediverse_share.trades import payments
from fediverse_share.trades.settlement import find_due

#: What the OpenAPI document says of a trade's payment fields.
SETTLEMENT_DOC = (
    "how the price is paid: `ledger` (in this community's ledger), `clearing` (to a "
    "member of another community, through clearing between the communities), `outside` "
    "(with another community that cannot be reached through clearing: noted as paid "
    "outside the ledger, see `outside`), or null when nothing is paid"
)
CLEARING_DOC = (
    "a trade paid through clearing: what its payer owes, `amount` of `currency` `to` the "
    "payee (on an offer what the payee receives; on a need what the payer sends, in "
    "their own currency). POST /payments/quote with these shows the cost in the payer's "
    "currency (for a need, what it delivers); "
    "POST /trades/{trade_id}/pay pays (optionally that quote, as `quote_id`). "
    "`payment_id` and `payment_state` are the payer's latest payment for it (see GET "
    "/payments/{payment_id}); the step is recorded once it is `committed`."
)


def settlement_of(trade: Trade) -> str | None:
    if trade.option not in PAYING:
        return None
    if trade.is_cleared:
        return "clearing"
    if trade.is_remote or (trade.option in PRICED and trade.price_minor == 0):
        return "outside"
    return "ledger"


def describe_payment(conn: Connection, trade: Trade, viewer: str, domain: str) -> dict[str, Any]:
    """The Trade document's ``settlement`` and ``clearing`` fields, for ``viewer``."""
    due = find_due(conn, trade, domain)
    clearing = None
    if due is not None:
        payment = payments.find_trade_payment(conn, trade, viewer)
        clearing = {
            "to": due.destination,
            "amount": due.amount,
            "currency": due.currency.code,
            "payment_id": None if payment is None else payment.quote.quote_id,
            "payment_state": None if payment is None else payment.state,
        }
    return {"settlement": settlement_of(trade), "clearing": clearing}


async def pay_through_clearing(
    runtime: Runtime, member: Member, trade: Trade, body: dict[str, Any], step_id: str | None
) -> bool:
    """Pay ``trade`` through clearing if the member pays it so (see the module
    docstring); ``False`` if the trade is paid otherwise."""
    if payments.pays_through_clearing(trade, member.username):
        if optional_str(body, "amount") or optional_str(body, "outside"):
            raise BadRequest("this trade's agreed price is paid as agreed", code="invalid_request")
        if optional_str(body, "currency", trade.currency_code) != trade.currency_code:
            raise WrongCurrency(f"this trade's price is in {trade.currency_code}")
    quote_id = optional_str(body, "quote_id") or None
    paid = await payments.pay_step(runtime, member, trade.id, quote_id=quote_id, step_id=step_id)
    return paid is not None
