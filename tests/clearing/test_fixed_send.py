"""Fixed-send quotes between real communities: the payer fixes what leaves their account
in their own currency and the payee receives what it converts to along the path;
refused over a quote's maximum or a link's limit, with nothing held; a quote request
that fixes neither or both amounts is refused as an older peer refuses a fixed send."""

from __future__ import annotations

from fractions import Fraction

import pytest

from exchange import clearing
from exchange.clearing import LegState
from fediverse_share.clearing import payments, peering, reconcile, settlement
from fediverse_share.clearing.settlement import Refusal
from fediverse_share.clock import now_us
from tests.clearing.conftest import Community
from tests.clearing.test_api import client, post
from tests.clearing.test_faults import _balances, _clean, _offer
from tests.support.tokens import sign_up


async def _send(payer: Community, payee: Community, amount: str, code: str):
    return await payments.quote(
        payer.runtime, payer.member, payee.member.username, payee.domain, amount, code
    )


async def _legs(transfer_id: str, *communities: Community) -> list[clearing.Leg]:
    return [await c.runtime.db.read(clearing.get_leg, transfer_id) for c in communities]


async def test_a_fixed_send_to_a_peer_debits_the_amount_and_delivers_its_conversion(linked):
    """Alice sends 2.51 AAA to carol (C gives 2 CCC per AAA): A debits exactly 2.51 AAA,
    carol receives 5.020 CCC, as quoted."""
    a, b, c = linked
    quote = await _send(a, c, "2.51", "AAA")
    assert (quote.amount_minor, quote.deliver_minor) == (2_51, 5_020)
    assert quote.deliver_currency.code == "CCC" and quote.path == (a.domain, c.domain)
    paid = await payments.pay(a.runtime, a.member, quote.quote_id, "k")
    assert paid.state == "committed"
    assert (await a.account("alice")).balance_minor == -2_51
    assert (await c.account("carol")).balance_minor == 5_020
    ours, theirs = await _legs(quote.transfer_id, a, c)
    assert ours.gross_minor == ours.out_minor == theirs.amount_in_minor == 2_51
    assert theirs.deliver_minor == theirs.out_minor == 5_020
    await _clean(a, b, c)


async def test_a_routed_fixed_send_converts_at_each_posted_rate_and_books_the_residue(linked):
    """Alice sends 23.57 AAA to bob through C: C converts to 47.140 CCC, B to 70.71 BBB,
    rounded half-even to 71 of which 1 % (1) is B's fee: bob receives 70, as quoted, the
    residue (-0.29) is B's link's with C, and every ledger and link agrees."""
    a, b, c = linked
    quote = await _send(a, b, "23.57", "AAA")
    assert quote.path == (a.domain, c.domain, b.domain)
    assert (quote.amount_minor, quote.deliver_minor) == (23_57, 70)
    assert set(quote.rate_ids) == {c.domain, b.domain}
    paid = await payments.pay(a.runtime, a.member, quote.quote_id, "k")
    assert paid.state == "committed"
    on_a, on_c, on_b = await _legs(quote.transfer_id, a, c, b)
    assert [leg.state for leg in (on_a, on_c, on_b)] == [LegState.COMMITTED] * 3
    assert on_a.out_minor == on_c.amount_in_minor == 23_57
    assert (on_c.gross_minor, on_c.out_minor) == (47_140, 47_140)
    assert (on_b.amount_in_minor, on_b.gross_minor, on_b.fee_minor) == (47_140, 71, 1)
    assert on_b.residue == Fraction(7071, 100) - 71
    assert (await a.account("alice")).balance_minor == -23_57
    assert (await b.account("bob")).balance_minor == 70 == on_b.deliver_minor
    # A fixed delivery of what arrived costs no more than was sent.
    assert (await _send(a, b, "70", "BBB")).amount_minor <= 23_57
    await _clean(a, b, c)
    for x, y in ((a, c), (c, b)):
        assert await reconcile.reconcile_link(x.runtime, y.domain) is True


async def test_a_fixed_send_over_a_quotes_maximum_is_refused(linked):
    """C takes at most 3 CCC per transfer: sending 2.00 AAA (4 CCC) is refused at the
    quote, and nothing is held anywhere."""
    a, b, c = linked
    await c.runtime.db.write(
        peering.post_rate, c.runtime, "AAA", "2", fee_bps=0, valid_hours=1, max_amount="3"
    )
    before = await _balances(a, b, c)
    with pytest.raises(Refusal) as refused:
        await _send(a, c, "2.00", "AAA")
    assert refused.value.code == "amount_over_quote"
    assert (await _send(a, c, "1.50", "AAA")).deliver_minor == 3_000
    assert await _balances(a, b, c) == before


async def test_a_routed_fixed_send_is_refused_over_any_maximum_on_the_path(linked):
    """Through C, a fixed send over C's maximum (C refuses it) or over B's (B refuses,
    and C passes the refusal back) is refused at the quote; under both it is quoted."""
    a, b, c = linked
    await c.runtime.db.write(
        peering.post_rate, c.runtime, "AAA", "2", fee_bps=0, valid_hours=1, max_amount="30"
    )
    await b.runtime.db.write(
        peering.post_rate, b.runtime, "CCC", "3/2", fee_bps=100, valid_hours=1, max_amount="30"
    )
    before = await _balances(a, b, c)
    for amount in ("15.01", "10.34"):  # 30.020 CCC at C; 20.680 CCC -> 31 BBB at B
        with pytest.raises(Refusal) as refused:
            await _send(a, b, amount, "AAA")
        assert refused.value.code == "amount_over_quote", amount
    assert (await _send(a, b, "10.00", "AAA")).deliver_minor == 30  # 1 % of 30 rounds to 0
    assert await _balances(a, b, c) == before


async def test_a_fixed_send_beyond_the_links_limit_is_refused_with_nothing_held(linked):
    """A allows 10.00 AAA towards C: a fixed send of 12.00 AAA is quoted, then refused
    when paid (upper_limit_exceeded), and every ledger is as it was."""
    a, b, c = linked
    await peering.add_peer(a.runtime, c.handle(), "10")
    quote = await _send(a, c, "12.00", "AAA")
    before = await _balances(a, b, c)
    with pytest.raises(Exception) as refused:
        await payments.pay(a.runtime, a.member, quote.quote_id, "k")
    assert getattr(refused.value, "code", None) == "upper_limit_exceeded"
    assert await _balances(a, b, c) == before
    await _clean(a, b, c)


async def test_a_quote_request_fixes_what_is_delivered_or_what_is_sent(linked):
    """A quote request with neither `deliver` nor `send`, or both, is `invalid_message`:
    a fixed send carries no `deliver`, so a peer that does not know `send` refuses it
    this way instead of quoting a delivery."""
    a, _, c = linked
    money = {"currency": "CCC", "value": "1.000"}
    for deliver, send in ((None, None), (money, {"currency": "AAA", "value": "1.00"})):
        message = settlement.wire.TransferMessage(
            transfer_id=f"{a.instance.base_url}/clearing/transfers/{now_us()}",
            path=(a.domain, c.domain),
            destination=f"acct:carol@{c.domain}",
            deliver=deliver,
            memo="",
            send=send,
        )
        answer = await _offer(a, c, message)
        assert (answer.kind, answer.result["code"]) == ("Reject", "invalid_message")


async def test_members_quote_and_pay_a_fixed_send_through_the_exchange_api(linked):
    """Dora asks to send 3.00 AAA (our currency) to carol: the quote's `send` is that and
    `receive` its conversion; paying it with the same request commits, a replay returns
    the payment, and the same key for another amount is a conflict."""
    a, b, c = linked
    async with client(a) as http:
        dora = await sign_up(a.instance, http, "dora")
        want = {"to": f"acct:carol@{c.domain}", "amount": "3.00", "currency": "AAA"}
        quoted = await post(http, "/payments/quote", dora, want)
        assert quoted.status_code == 200, quoted.text
        quote = quoted.json()
        assert quote["send"] == {"amount": "3.00", "currency": "AAA"}
        assert quote["receive"] == {"amount": "6.000", "currency": "CCC"}
        body = {**want, "quote_id": quote["id"]}
        paid = await post(http, "/payments", dora, body, key="k1")
        assert paid.status_code == 201, paid.text
        assert (paid.json()["state"], paid.json()["send"]) == ("committed", quote["send"])
        assert (await post(http, "/payments", dora, body, key="k1")).json() == paid.json()
        other = await post(http, "/payments", dora, {**want, "amount": "3.01"}, key="k1")
        assert (other.status_code, other.json()["code"]) == (409, "idempotency_conflict")
        wrong = await post(http, "/payments/quote", dora, {**want, "currency": "DDD"})
        assert (wrong.status_code, wrong.json()["code"]) == (400, "wrong_currency")
    assert (await a.account("dora")).balance_minor == -3_00
    assert (await c.account("carol")).balance_minor == 6_000
    await _clean(a, b, c)
