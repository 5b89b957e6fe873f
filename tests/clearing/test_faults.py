"""Clearing under faults: replays, a payee that is down, holds that expire, a lost
answer after a commit, forged and unpeered senders, stale quotes, full links."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exchange import accounts, clearing, reconciliation
from exchange.clearing import LegState
from exchange.peers import LinkStatus
from fediverse_share import ledger
from fediverse_share.clearing import payments, peering, reconcile, recovery, settlement
from fediverse_share.clearing.settlement import Refusal
from fediverse_share.clock import now_us
from fediverse_share.exchange_api.errors import QuoteRefused
from tests.clearing.conftest import QUICK, Community, community, link, post_rate, three_linked
from tests.clearing.test_api import API, client, post
from tests.clearing.test_cli import cli, configure
from tests.support.tokens import sign_up


async def _balances(*communities: Community) -> list[dict[str, tuple[int, int, int]]]:
    """Every account of every ledger: balance and both pending totals."""
    found = []
    for c in communities:
        rows = await c.runtime.db.read(accounts.list_accounts)
        found.append(
            {a.id: (a.balance_minor, a.debits_pending_minor, a.credits_pending_minor) for a in rows}
        )
    return found


async def _quote(payer: Community, payee: Community, amount: str, code: str):
    return await payments.quote(
        payer.runtime, payer.member, payee.member.username, payee.domain, amount, code
    )


async def _states(transfer_id: str, *communities: Community) -> list[LegState | None]:
    states = []
    for c in communities:
        leg = await c.runtime.db.read(clearing.find_leg, transfer_id)
        states.append(None if leg is None else leg.state)
    return states


async def _clean(*communities: Community) -> None:
    for c in communities:
        assert await c.audit() == [], c.name


async def _recover(*communities: Community) -> None:
    """Each community's recovery step, for every leg, now (no waiting for stalls)."""
    for c in communities:
        await ledger.expire_holds(c.runtime)
        await recovery.resolve_stalled(c.runtime, now_us())


async def _until_expired() -> None:
    """Wait (real time) until the payer's hold, the longest on the path, has expired."""
    await asyncio.sleep(QUICK["clearing_hold_seconds"] + 1.0)


async def test_a_replayed_prepare_changes_nothing(linked):
    """Sending a committed leg's prepare again gets the same fulfilment and books nothing."""
    a, b, c = linked
    quote = await _quote(a, b, "10", "BBB")
    paid = await payments.pay(a.runtime, a.member, quote.quote_id, "k")
    assert paid.state == "committed"
    before = await _balances(a, b, c)
    leg = await a.runtime.db.read(clearing.get_leg, quote.transfer_id)
    for _ in range(3):
        again = await settlement.send_on(a.runtime, leg)
        assert again.state is LegState.COMMITTED
    repaid = await payments.pay(a.runtime, a.member, quote.quote_id, "k")
    assert repaid.leg == paid.leg
    assert await _balances(a, b, c) == before
    await _clean(a, b, c)


async def test_paying_a_quote_twice_with_another_key_is_refused(linked):
    """A quote is paid once: another idempotency key for it is a conflict."""
    a, _, c = linked
    quote = await _quote(a, c, "2", "CCC")
    await payments.pay(a.runtime, a.member, quote.quote_id, "first")
    with pytest.raises(Exception) as caught:
        await payments.pay(a.runtime, a.member, quote.quote_id, "second")
    assert getattr(caught.value, "code", "") == "idempotency_conflict"


async def test_a_payee_that_is_down_is_paid_once_it_is_back(linked):
    """With B down the payment waits prepared on A and C; once B is back, recovery
    commits it on every hop, and the links reconcile."""
    a, b, c = linked
    quote = await _quote(a, b, "12", "BBB")
    await b.stop()
    paid = await payments.pay(a.runtime, a.member, quote.quote_id, "k")
    assert paid.state == "pending"
    assert await _states(quote.transfer_id, a, c) == [LegState.PREPARED] * 2
    assert (await a.account("alice")).available_minor < 0  # held, not posted
    await b.start()
    await _recover(c, a)
    assert await _states(quote.transfer_id, a, c, b) == [LegState.COMMITTED] * 3
    assert (await b.account("bob")).balance_minor >= 12
    await _clean(a, b, c)
    for x, y in ((a, c), (c, b)):
        assert await reconcile.reconcile_link(x.runtime, y.domain) is True


async def test_holds_expire_when_the_payee_never_got_the_transfer(tmp_path: Path):
    """B is down until every hold has expired: nothing is booked anywhere, the holds
    are released, and the payment reads expired."""
    async with three_linked(tmp_path, **QUICK) as (a, b, c):
        before = await _balances(a, b, c)
        quote = await _quote(a, b, "12", "BBB")
        await b.stop()
        paid = await payments.pay(a.runtime, a.member, quote.quote_id, "k")
        assert paid.state == "pending"
        await _until_expired()
        await b.start()
        await _recover(c, a)
        states = await _states(quote.transfer_id, a, c, b)
        assert states == [LegState.EXPIRED, LegState.EXPIRED, None]
        assert await _balances(a, b, c) == before
        await _clean(a, b, c)


async def test_a_lost_answer_after_the_commit_leaves_an_in_doubt_leg_that_freezes_the_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """B commits but fails before answering; C's hold expires before it learns of it:
    C's leg is in doubt (never guessed), and reconciliation freezes the C-B link. The
    operators list the legs in doubt, book them late and resume the links (the CLI)."""
    async with three_linked(tmp_path, **QUICK) as (a, b, c):
        quote = await _quote(a, b, "12", "BBB")
        await b.stop()
        await b.start(failpoints="payee_committed=error")
        paid = await payments.pay(a.runtime, a.member, quote.quote_id, "k")
        assert paid.state == "pending", paid
        assert await _states(quote.transfer_id, b) == [LegState.COMMITTED]
        await _until_expired()
        await _recover(c, a)
        states = await _states(quote.transfer_id, a, c, b)
        assert states == [LegState.IN_DOUBT, LegState.IN_DOUBT, LegState.COMMITTED]
        assert await b.audit() == []
        warned = {p.code for x in (a, c) for p in await x.audit()}
        assert warned == {"clearing_leg_in_doubt"}  # told, never an error or a guess
        assert await reconcile.reconcile_link(c.runtime, b.domain) is False
        assert (await c.link(b)).status is LinkStatus.FROZEN
        assert (await b.link(c)).status is LinkStatus.FROZEN
        with pytest.raises(Refusal) as refused:
            await _quote(a, b, "1", "BBB")
        assert refused.value.code in ("link_not_active", "no_route")
        # The operators book the legs in doubt late and resume the links: all agree again.
        # C's operator uses the command line, A's the exchange API.
        at_b, at_c = configure(b, tmp_path / "cli-b"), configure(c, tmp_path / "cli-c")
        assert (await cli(capsys, at_b, "peer", "in-doubt"))[1] == "no legs in doubt\n"
        code, _, err = await cli(capsys, at_c, "peer", "book-late", f"{quote.transfer_id}x")
        assert code == 2 and "no clearing leg" in err, err
        code, out, _ = await cli(capsys, at_c, "peer", "in-doubt")
        assert code == 0 and out.startswith(f"{quote.transfer_id} {a.domain} -> {c.domain} -> ")
        for _ in range(2):  # booking again changes nothing
            code, out, _ = await cli(capsys, at_c, "peer", "book-late", quote.transfer_id)
            assert (code, out.split(";")[0]) == (0, f"{quote.transfer_id}: committed")
        assert (await cli(capsys, at_c, "peer", "in-doubt"))[1] == "no legs in doubt\n"
        async with client(a) as http:
            root = await sign_up(a.instance, http, "root", admin=True)
            listed = await http.get(f"{API}/admin/clearing/in-doubt", headers=root.headers)
            [leg] = listed.json()["legs"]
            assert (leg["transfer"], leg["state"], leg["path"]) == (
                quote.transfer_id,
                "in_doubt",
                [a.domain, c.domain, b.domain],
            )
            held = await a.runtime.db.read(clearing.get_leg, quote.transfer_id)
            assert leg["amount"] == {"amount": f"{held.out_minor / 100:.2f}", "currency": "AAA"}
            assert held.out_minor + held.fee_minor == quote.amount_minor
            for transfer, status in (
                ("nope", 404),
                (quote.transfer_id, 200),
                (quote.transfer_id, 200),
            ):
                booked = await post(http, "/admin/clearing/in-doubt", root, {"transfer": transfer})
                assert booked.status_code == status, booked.text
            assert booked.json()["state"] == "committed"
            listed = await http.get(f"{API}/admin/clearing/in-doubt", headers=root.headers)
            assert listed.json()["legs"] == []
        for at, other in ((at_c, b), (at_b, c)):
            assert (await cli(capsys, at, "peer", "resume", other.domain))[0] == 0
        assert await _states(quote.transfer_id, a, c, b) == [LegState.COMMITTED] * 3
        for x, y in ((c, b), (a, c)):
            assert await reconcile.reconcile_link(x.runtime, y.domain) is True
        await _clean(a, b, c)


async def _offer(
    sender: Community, receiver: Community, message: settlement.wire.TransferMessage
) -> settlement.transport.Answer:
    """``sender``'s instance actor offers ``message`` to ``receiver``'s, signed."""
    return await settlement.transport.ask(
        sender.runtime,
        receiver.runtime.instance.base_url + "/actor/inbox",
        settlement.wire.activity(
            "Offer",
            settlement.transport.message_id(sender.runtime),
            sender.runtime.instance.instance_actor_uri,
            receiver.runtime.instance.instance_actor_uri,
            settlement.wire.render_transfer(message),
        ),
        5.0,
    )


async def test_a_peer_cannot_take_the_place_of_our_own_transfer(linked, tmp_path: Path):
    """C asks A to pass on, to D, a leg under the id of A's own quote (ids are
    guessable): it is refused, as any transfer whose id is not on the first community of
    its path, and A's payment of that quote then settles as its own."""
    a, b, c = linked
    async with community("d", "dora", tmp_path) as d:
        await link(a, d, "100", "100")
        await post_rate(d, "AAA", "1")
        quote = await _quote(a, c, "2", "CCC")
        forged = settlement.wire.TransferMessage(
            transfer_id=quote.transfer_id,
            path=(c.domain, a.domain, d.domain),
            destination=f"acct:dora@{d.domain}",
            deliver={"currency": "DDD", "value": "0.01"},
            memo="",
            condition=quote.condition,
            amount={"currency": "CCC", "value": "0.100"},
            expires_at_us=now_us() + 60_000_000,
            rate_ids={a.domain: "CCC-1", d.domain: "AAA-1"},
        )
        answer = await _offer(c, a, forged)
        assert (answer.kind, answer.result["code"]) == ("Reject", "invalid_message")
        assert await _states(quote.transfer_id, a, d) == [None, None]
        paid = await payments.pay(a.runtime, a.member, quote.quote_id, "k")
        assert paid.state == "committed" and paid.leg is not None
        assert paid.leg.role.value == "payer"
        await _clean(a, b, c, d)


async def test_only_peers_may_send_clearing_messages(linked, tmp_path: Path):
    """A community C has no link with is refused, and nothing is held anywhere."""
    a, b, c = linked
    async with community("d", "dora", tmp_path) as d:
        await link(d, a, "100", "100")  # D peers with A only, not with C
        before = await _balances(a, b, c)
        quote = await _quote(a, c, "2", "CCC")
        message = settlement.wire.TransferMessage(
            transfer_id=f"{d.instance.base_url}/clearing/transfers/1",
            path=(d.domain, c.domain),
            destination=f"acct:carol@{c.domain}",
            deliver={"currency": "CCC", "value": "2.000"},
            memo="",
            condition=quote.condition,
            amount={"currency": "DDD", "value": "1.00"},
            expires_at_us=now_us() + 60_000_000,
            rate_ids={},
        )
        answer = await _offer(d, c, message)
        assert answer.kind == "Reject"
        assert answer.result["code"] == "unknown_peer"
        assert await _balances(a, b, c) == before


async def test_a_quote_past_its_validity_is_refused(linked):
    """A rate posted for a moment makes a quote that cannot be paid once it is over."""
    a, b, c = linked
    await c.runtime.db.write(
        peering.post_rate, c.runtime, "AAA", "2", fee_bps=0, valid_hours=1.5 / 3600
    )
    quote = await _quote(a, c, "2", "CCC")
    await asyncio.sleep(2.0)
    before = await _balances(a, b, c)
    with pytest.raises(QuoteRefused) as refused:
        await payments.pay(a.runtime, a.member, quote.quote_id, "k")
    assert refused.value.code == "quote_expired"
    assert await _balances(a, b, c) == before


async def test_an_amount_over_the_quotes_maximum_is_refused(linked):
    """C's posted maximum caps what one transfer may carry into C."""
    a, _, c = linked
    await c.runtime.db.write(
        peering.post_rate, c.runtime, "AAA", "2", fee_bps=0, valid_hours=1, max_amount="3"
    )
    with pytest.raises(Refusal) as refused:
        await _quote(a, c, "5", "CCC")
    assert refused.value.code == "amount_over_quote"


async def test_concurrent_payments_never_exceed_a_links_limit(linked):
    """Ten payments at once through a link with room for four: four commit, the rest
    are refused, and the link's account stays within its limit."""
    a, b, c = linked
    await peering.add_peer(a.runtime, c.handle(), "10")  # A now allows 10.00 AAA towards C
    quotes = [await _quote(a, c, "5", "CCC") for _ in range(10)]  # 2.50 AAA each
    paid = await asyncio.gather(
        *(payments.pay(a.runtime, a.member, q.quote_id, f"k{i}") for i, q in enumerate(quotes)),
        return_exceptions=True,
    )
    committed = [p for p in paid if isinstance(p, payments.CrossPayment)]
    assert [p.state for p in committed] == ["committed"] * 4
    refused = [p for p in paid if not isinstance(p, payments.CrossPayment)]
    assert [getattr(p, "code", p) for p in refused] == ["upper_limit_exceeded"] * 6
    assert (await a.peer_account(c)).balance_minor == 10_00
    assert (await c.peer_account(a)).balance_minor == -20_000
    await _clean(a, b, c)
    assert await reconcile.reconcile_link(a.runtime, c.domain) is True


async def test_a_suspended_link_refuses_new_payments_until_resumed(linked):
    """C suspends its link with A: A's payments to C are refused; resumed, they pass."""
    a, _, c = linked
    await c.runtime.db.write(peering.set_status, c.runtime, a.domain, LinkStatus.SUSPENDED)
    with pytest.raises(Refusal) as refused:
        await _quote(a, c, "2", "CCC")
    assert refused.value.code == "link_not_active"
    await c.runtime.db.write(peering.set_status, c.runtime, a.domain, LinkStatus.ACTIVE)
    quote = await _quote(a, c, "2", "CCC")
    paid = await payments.pay(a.runtime, a.member, quote.quote_id, "k")
    assert paid.state == "committed"


async def test_a_payment_prepared_before_a_suspension_still_completes(linked):
    """C suspends its link with B while a payment to B waits at C (B is down): when B is
    back the prepared leg is sent on and commits on every hop; new payments are refused."""
    a, b, c = linked
    quote = await _quote(a, b, "12", "BBB")
    await b.stop()
    paid = await payments.pay(a.runtime, a.member, quote.quote_id, "k")
    assert paid.state == "pending"
    await c.runtime.db.write(peering.set_status, c.runtime, b.domain, LinkStatus.SUSPENDED)
    await b.start()
    await _recover(c, a)
    assert await _states(quote.transfer_id, a, c, b) == [LegState.COMMITTED] * 3
    with pytest.raises(Refusal) as refused:
        await _quote(a, b, "1", "BBB")
    assert refused.value.code in ("link_not_active", "no_route")
    await _clean(a, b, c)


async def test_statements_are_not_compared_while_a_leg_is_in_flight(linked):
    """With a leg prepared on the link, a statement waits instead of freezing the link."""
    a, b, c = linked
    quote = await _quote(a, b, "12", "BBB")
    await b.stop()
    await payments.pay(a.runtime, a.member, quote.quote_id, "k")
    assert await c.runtime.db.read(reconciliation.statement, b.domain) is None
    assert await reconcile.reconcile_link(a.runtime, c.domain) is None
    assert (await a.link(c)).status is LinkStatus.ACTIVE
    await b.start()


@pytest.mark.parametrize("skew_seconds", [4.0, -4.0])
async def test_a_skewed_clock_within_the_margin_still_settles(linked, skew_seconds: float):
    """B's clock runs a few seconds off (less than the hop margin): payments settle."""
    a, b, c = linked
    await b.stop()
    await b.start(clock_offset_seconds=skew_seconds)
    await post_rate(b, "CCC", "3/2")  # valid from now by B's clock
    quote = await _quote(a, b, "5", "BBB")
    paid = await payments.pay(a.runtime, a.member, quote.quote_id, "k")
    assert paid.state == "committed"
    await _clean(a, b, c)


async def test_a_clock_far_ahead_refuses_and_every_hold_is_released(linked):
    """B's clock runs past the transfer's expiry: B refuses, C and A release their
    holds at once, and no ledger changes."""
    a, b, c = linked
    await b.stop()
    await b.start(clock_offset_seconds=120.0)
    before = await _balances(a, b, c)
    quote = await _quote(a, b, "5", "BBB")
    paid = await payments.pay(a.runtime, a.member, quote.quote_id, "k")
    assert paid.state == "rejected"
    assert paid.leg is not None and paid.leg.error_code == "insufficient_timeout"
    assert await _states(quote.transfer_id, a, c, b) == [LegState.ABORTED] * 2 + [None]
    assert await _balances(a, b, c) == before


async def test_a_quote_is_honoured_at_its_rate_after_a_new_rate_is_posted(linked):
    """C posts a new rate after Alice's quote: paying the quote still uses the old one."""
    a, _, c = linked
    quote = await _quote(a, c, "5", "CCC")
    await post_rate(c, "AAA", "4")  # a newer version: 4 CCC for 1 AAA
    paid = await payments.pay(a.runtime, a.member, quote.quote_id, "k")
    assert paid.state == "committed"
    assert (await a.account("alice")).balance_minor == -2_50  # at 2 CCC for 1 AAA
    assert (await c.account("carol")).balance_minor == 5_000
    fresh = await _quote(a, c, "5", "CCC")
    assert fresh.amount_minor == 1_25


async def test_concurrent_payments_never_exceed_the_credit_line_the_next_community_gives(
    linked,
):
    """C lets A owe at most 10.000 CCC: of ten concurrent payments of 3 CCC, three pass
    and the others are refused by C, whose peer:A account never goes below its limit."""
    a, b, c = linked
    await peering.add_peer(c.runtime, a.handle(), "10")
    quotes = [await _quote(a, c, "3", "CCC") for _ in range(10)]
    paid = await asyncio.gather(
        *(payments.pay(a.runtime, a.member, q.quote_id, f"k{i}") for i, q in enumerate(quotes))
    )
    states = sorted(p.state for p in paid)
    assert states == ["committed"] * 3 + ["rejected"] * 7
    assert {p.leg.error_code for p in paid if p.state == "rejected"} == {"credit_limit_exceeded"}
    assert (await c.peer_account(a)).balance_minor == -9_000
    assert (await a.peer_account(c)).balance_minor == 4_50
    await _clean(a, b, c)
    assert await reconcile.reconcile_link(c.runtime, a.domain) is True


def _lying_about_fulfilments(app: ASGIApp) -> ASGIApp:
    """B's operator changed their server: every JSON answer that carries a fulfilment
    (to a prepare and to a leg's status query) carries a wrong one instead."""

    async def lying(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        start: dict[str, Any] = {}
        body = bytearray()

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                body.extend(message.get("body", b""))

        await app(scope, receive, keep)
        try:
            document = orjson.loads(bytes(body))
        except orjson.JSONDecodeError:
            document = None
        result = document.get("result") if isinstance(document, dict) else None
        for found in (document, result):
            if isinstance(found, dict) and isinstance(found.get("fulfilment"), str):
                found["fulfilment"] = hashlib.sha256(found["fulfilment"].encode()).hexdigest()
        data = body if document is None else orjson.dumps(document)
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(data)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": bytes(data)})

    return lying


async def test_a_downstream_that_lies_about_the_fulfilment_costs_upstream_nothing(
    tmp_path: Path,
):
    """B commits and pays Bob but answers C with a wrong fulfilment, also when asked
    later: C and A never commit, their holds expire and are released, no ledger upstream
    changes, and reconciliation freezes the C-B link where the two sides disagree."""
    async with three_linked(tmp_path, **QUICK) as (a, b, c):
        before = await _balances(a, c)
        quote = await _quote(a, b, "12", "BBB")
        await b.stop()
        await b.start(wrap=_lying_about_fulfilments)
        paid = await payments.pay(a.runtime, a.member, quote.quote_id, "k")
        assert paid.state == "pending"
        assert await _states(quote.transfer_id, a, c, b) == [LegState.PREPARED] * 2 + [
            LegState.COMMITTED
        ]
        await _until_expired()
        await _recover(c, a)
        assert await _states(quote.transfer_id, a, c) == [LegState.EXPIRED] * 2
        assert await _balances(a, c) == before
        await _clean(a, c)
        assert await reconcile.reconcile_link(c.runtime, b.domain) is False
        assert (await c.link(b)).status is LinkStatus.FROZEN
        assert (await b.link(c)).status is LinkStatus.FROZEN
