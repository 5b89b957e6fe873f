"""The clearing commands: ``peer add|list|suspend|resume|remove|reconcile|in-doubt|book-late``,
``rates set|show``.

They run on a standalone runtime against the instance's database, as ``ledger audit``
does. ``peer add`` reads the other community over the network and leaves the signed
``Offer(ClearingLink)`` in the delivery queue, which the serving instance's worker sends
(the link is active once the other operator peers back); a status change is told to
the peer the same way. ``peer reconcile`` asks the peer to compare statements now and
exits 1 when they differ (the link is then frozen) or cannot be compared yet.
``peer in-doubt`` lists the legs committed downstream after our holds had expired, and
``peer book-late`` posts one of them once the operator has checked with the peers
(`exchange.in_doubt`); ``peer resume`` then unfreezes the link.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from exchange import in_doubt
from exchange.clearing import Leg
from exchange.money import Currency, render_amount
from exchange.peers import LinkStatus
from exchange.rates import PostedRate, list_rates, render_rate
from exchange.settings import get_currency
from fediverse_share import cli, standalone
from fediverse_share.clearing import peering, reconcile
from fediverse_share.clock import now_us, render_iso
from fediverse_share.exchange_api.peers import add_peer
from fediverse_share.peer_directory import (
    DEFAULT_VALID_HOURS,
    PeerView,
    RateTerms,
    list_peer_views,
    post_rate_once,
)
from fediverse_share.runtime import Runtime

Subparsers = Any
Action = Callable[[Runtime, argparse.Namespace], Awaitable[int]]
_STATUS_VERBS = {"suspend": LinkStatus.SUSPENDED, "resume": LinkStatus.ACTIVE,
                 "remove": LinkStatus.ENDED}  # fmt: skip


def _handler(action: Action) -> Callable[[argparse.Namespace], int]:
    """Run ``action`` on a standalone runtime of the instance in ``--data-dir``."""

    def handle(args: argparse.Namespace) -> int:
        async def run() -> int:
            async with standalone.runtime(cli.load_settings(args)) as runtime:
                return await action(runtime, args)

        return cli.run(run())

    return handle


def register_peer(sub: Subparsers) -> None:
    p = sub.add_parser("peer", help="peer with other communities (clearing)")
    verbs = p.add_subparsers(title="peer commands", metavar="ACTION")
    add = verbs.add_parser("add", help="peer with a community, or change the link's limit")
    add.add_argument("handle", metavar="HANDLE_OR_URL", help="@community@domain or its URL")
    add.add_argument("--credit-limit", required=True, metavar="N",
                     help="how far the link may go either way, in our currency")  # fmt: skip
    add.set_defaults(handler=_handler(_add))
    listing = verbs.add_parser("list", help="the links: status, balance, limits, note")
    listing.set_defaults(handler=_handler(_list))
    for verb, status in _STATUS_VERBS.items():
        change = verbs.add_parser(verb, help=f"make the link {status.value} and tell the peer")
        change.add_argument("domain", metavar="DOMAIN")
        change.set_defaults(handler=_handler(_set_status), status=status)
    check = verbs.add_parser("reconcile", help="compare statements of the link with the peer")
    check.add_argument("domain", metavar="DOMAIN")
    check.set_defaults(handler=_handler(_reconcile))
    doubts = verbs.add_parser("in-doubt", help="legs committed downstream after our holds expired")
    doubts.set_defaults(handler=_handler(_in_doubt))
    late = verbs.add_parser("book-late", help="post a leg in doubt (check with the peers first)")
    late.add_argument("transfer", metavar="TRANSFER_ID", help="as peer in-doubt shows it")
    late.set_defaults(handler=_handler(_book_late))


async def _add(runtime: Runtime, args: argparse.Namespace) -> int:
    link = await add_peer(runtime, args.handle, args.credit_limit)
    print(f"{link.domain}: {link.status.value} (currency {link.currency_code})")
    if link.status is LinkStatus.PENDING:
        print("waiting for its operator to peer back; the worker sends our Offer")
    return 0


def _limit(value: int | None, currency: Currency) -> str:
    return "-" if value is None else render_amount(value, currency)


def format_peer(view: PeerView, currency: Currency) -> str:
    link, account = view.link, view.account
    if account is None:
        money = "balance - (asks to peer: run peer add)"
    else:
        limits = account.limits
        money = (
            f"balance {render_amount(account.balance_minor, currency)} "
            f"credit limit {_limit(limits.credit_limit_minor, currency)} "
            f"upper limit {_limit(limits.upper_limit_minor, currency)}"
        )
    note = f" ({link.note})" if link.note else ""
    return f"{link.domain} {link.status.value} {link.currency_code} {money}{note}"


def _print_lines(lines: list[str], otherwise: str) -> int:
    print("\n".join(lines) if lines else otherwise)
    return 0


async def _list(runtime: Runtime, args: argparse.Namespace) -> int:
    views = await runtime.db.read(list_peer_views, now_us())
    currency = await runtime.db.read(get_currency)
    return _print_lines(
        [format_peer(view, currency) for view in views],
        "no peers yet: fediverse-share peer add @community@domain --credit-limit N",
    )


async def _set_status(runtime: Runtime, args: argparse.Namespace) -> int:
    link = await runtime.db.write(peering.set_status, runtime, args.domain, args.status)
    print(f"{link.domain}: {link.status.value}")
    return 0


async def _reconcile(runtime: Runtime, args: argparse.Namespace) -> int:
    matched = await reconcile.reconcile_link(runtime, args.domain)
    if matched is None:
        print(f"{args.domain}: not compared now (payments in flight, or it did not answer)")
    else:
        print(f"{args.domain}: statements {'match' if matched else 'differ: the link is frozen'}")
    return 0 if matched else 1


def format_leg(leg: Leg, currency: Currency) -> str:
    fee = f" + fee {render_amount(leg.fee_minor, currency)}" if leg.fee_minor else ""
    return (
        f"{leg.transfer_id} {' -> '.join(leg.path)} {render_amount(leg.out_minor, currency)}{fee} "
        f"from {leg.debit_account_id} to {leg.credit_account_id}, "
        f"expired {render_iso(leg.expires_at_us)}"
    )


async def _in_doubt(runtime: Runtime, args: argparse.Namespace) -> int:
    legs = await runtime.db.read(in_doubt.list_in_doubt)
    currency = await runtime.db.read(get_currency)
    return _print_lines([format_leg(leg, currency) for leg in legs], "no legs in doubt")


async def _book_late(runtime: Runtime, args: argparse.Namespace) -> int:
    leg = await runtime.db.write(in_doubt.book_late, args.transfer, runtime.now_us())
    print(f"{leg.transfer_id}: {leg.state.value}; resume its frozen links with peer resume")
    return 0


def register_rates(sub: Subparsers) -> None:
    p = sub.add_parser("rates", help="the exchange rates we post for peer currencies")
    verbs = p.add_subparsers(title="rates commands", metavar="ACTION")
    put = verbs.add_parser("set", help="post a new version of a rate (pushed to the peers)")
    put.add_argument("peer_currency", metavar="PEER_CURRENCY", help="e.g. KRZ")
    put.add_argument("rate", metavar="RATE",
                     help="our units for one of theirs: 0.85 or 17/20")  # fmt: skip
    put.add_argument("--fee-bps", type=int, default=0, metavar="N", help="fee in basis points")
    put.add_argument("--valid-hours", type=float, default=DEFAULT_VALID_HOURS, metavar="H",
                     help=f"how long it holds (default {DEFAULT_VALID_HOURS})")  # fmt: skip
    put.add_argument("--max-amount", metavar="X", help="the most one transfer may carry")
    put.set_defaults(handler=_handler(_set_rate))
    show = verbs.add_parser("show", help="the rates we post now, and those peers post for ours")
    show.set_defaults(handler=_handler(_show_rates))


def format_rate(rate: PostedRate, currency: Currency, peer_code: str) -> str:
    return (
        f"{rate.id}: 1 {peer_code} = {render_rate(rate.rate)} {currency.code}, "
        f"fee {rate.fee_bps} bps, max {render_amount(rate.max_amount_minor, currency)} "
        f"{currency.code}, until {render_iso(rate.valid_until_us)}"
    )


async def _set_rate(runtime: Runtime, args: argparse.Namespace) -> int:
    terms = RateTerms(
        args.peer_currency, args.rate, args.fee_bps, args.valid_hours, args.max_amount
    )
    rate, currency = await runtime.db.write(post_rate_once, runtime, terms)
    print("posted " + format_rate(rate, currency, rate.peer_currency_code))
    return 0


async def _show_rates(runtime: Runtime, args: argparse.Namespace) -> int:
    ours = await runtime.db.read(list_rates, now_us())
    currency = await runtime.db.read(get_currency)
    print("ours:" if ours else "ours: none posted (fediverse-share rates set CODE RATE)")
    for rate in ours:
        print("  " + format_rate(rate, currency, rate.peer_currency_code))
    for view in await runtime.db.read(list_peer_views, now_us()):
        if view.their_rate is not None:
            print(f"{view.link.domain}'s for ours:")
            print("  " + format_rate(view.their_rate, view.currency, currency.code))
    return 0
