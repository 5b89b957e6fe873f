"""Peering links: both consents, statuses and their transitions, the peer account's limits."""

from __future__ import annotations

import pytest
import pytest_asyncio
from sqlalchemy import select

from exchange import tables
from exchange.accounts import (
    AccountKind,
    Limits,
    create_ledger,
    find_account,
    get_account,
    open_member_account,
)
from exchange.errors import InvalidRequest, LinkNotActive, UnknownPeer
from exchange.money import Currency
from exchange.peers import (
    LinkStatus,
    PeerRef,
    active_link,
    consent_locally,
    consent_remotely,
    get_link,
    list_links,
    set_status,
    withdraw_remote_consent,
)
from tests.exchange.communities import migrated_database, reset
from tests.exchange.conftest import CURRENCY, MEMBERS, T0, quiet_settings
from tests.exchange.snapshots import ledger_snapshot

BBB = Currency("BBB", "Bobbel", 0)
LIMITS = Limits(5_000, 7_000)

ACTIVE, PENDING = LinkStatus.ACTIVE, LinkStatus.PENDING
SUSPENDED, FROZEN, ENDED = LinkStatus.SUSPENDED, LinkStatus.FROZEN, LinkStatus.ENDED


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared_db(tmp_path_factory):
    """One migrated database for this module's tests."""
    async with migrated_database(tmp_path_factory.mktemp("peers"), "peers") as database:
        yield database


@pytest_asyncio.fixture(loop_scope="module")
async def ledger(shared_db):
    """The shared database emptied, with a KRZ ledger and three members (as `ledger` in
    conftest, without migrating a new database for each test)."""
    await shared_db.write(reset)
    await shared_db.write(create_ledger, CURRENCY, T0, quiet_settings())
    for name in MEMBERS:
        await shared_db.write(open_member_account, name, T0)
    return shared_db


def peer(domain: str = "b.example") -> PeerRef:
    return PeerRef(domain, f"https://{domain}/actor", f"https://{domain}/inbox", BBB)


PEER = peer()


async def linked(ledger, status: LinkStatus = ACTIVE, domain: str = "b.example"):
    """A link with ``domain`` brought to ``status`` (with both consents unless pending)."""
    link = await ledger.write(consent_locally, peer(domain), LIMITS, T0)
    if status is not PENDING:
        link = await ledger.write(consent_remotely, peer(domain), T0 + 1)
    if status not in (ACTIVE, PENDING):
        link = await ledger.write(set_status, domain, status, T0 + 2)
    assert link.status is status
    return link


async def test_consent_on_both_sides_activates_the_link(ledger):
    """Local then remote consent, or remote then local: either way the link is active."""
    local_first = await ledger.write(consent_locally, PEER, LIMITS, T0)
    assert (local_first.status, local_first.local_consent, local_first.remote_consent) == (
        PENDING,
        True,
        False,
    )
    link = await ledger.write(consent_remotely, PEER, T0 + 1)
    assert (link.status, link.local_consent, link.remote_consent) == (ACTIVE, True, True)
    assert link.carries_new_transfers and link.account_id == "peer:b.example"
    assert (link.currency_code, link.currency_scale) == ("BBB", 0)
    assert (link.created_at_us, link.updated_at_us) == (T0, T0 + 1)
    assert await ledger.read(active_link, "b.example") == link

    other = peer("c.example")
    assert (await ledger.write(consent_remotely, other, T0)).status is PENDING
    assert (await ledger.write(consent_locally, other, LIMITS, T0 + 1)).status is ACTIVE
    assert [x.domain for x in await ledger.read(list_links)] == ["b.example", "c.example"]


async def test_one_consent_only_leaves_the_link_pending(ledger):
    """With only the peer's consent there is a pending link and no account; it carries
    no transfers."""
    link = await ledger.write(consent_remotely, PEER, T0)
    assert (link.status, link.local_consent, link.remote_consent) == (PENDING, False, True)
    assert not link.carries_new_transfers
    assert await ledger.read(find_account, "peer:b.example") is None
    with pytest.raises(LinkNotActive) as refused:
        await ledger.read(active_link, "b.example")
    assert refused.value.status == "pending"
    again = await ledger.write(consent_remotely, PEER, T0 + 1)
    assert again.status is PENDING


async def test_an_unknown_peer_is_refused(ledger):
    """Asking for, or changing, a link nobody made raises UnknownPeer."""
    for fn, args in (
        (get_link, ("x.example",)),
        (active_link, ("x.example",)),
        (set_status, ("x.example", SUSPENDED, T0)),
        (withdraw_remote_consent, ("x.example", T0)),
    ):
        with pytest.raises(UnknownPeer):
            await ledger.write(fn, *args)


async def test_suspend_and_resume(ledger):
    """An active link can be suspended (refusing new transfers) and resumed, with a note."""
    await linked(ledger)
    suspended = await ledger.write(set_status, "b.example", SUSPENDED, T0 + 5, note="holiday")
    assert (suspended.status, suspended.note, suspended.updated_at_us) == (
        SUSPENDED,
        "holiday",
        T0 + 5,
    )
    with pytest.raises(LinkNotActive):
        await ledger.read(active_link, "b.example")
    resumed = await ledger.write(set_status, "b.example", ACTIVE, T0 + 6)
    assert resumed.status is ACTIVE and resumed.carries_new_transfers


ALLOWED = [
    (ACTIVE, SUSPENDED),
    (ACTIVE, FROZEN),
    (SUSPENDED, ACTIVE),
    (SUSPENDED, FROZEN),
    (FROZEN, ACTIVE),
    (FROZEN, SUSPENDED),
    (PENDING, SUSPENDED),
    (ACTIVE, ENDED),
    (SUSPENDED, ENDED),
    (FROZEN, ENDED),
    (PENDING, ENDED),
]
REFUSED = [
    (PENDING, ACTIVE),
    (PENDING, FROZEN),
    (ACTIVE, PENDING),
    (SUSPENDED, PENDING),
    (FROZEN, PENDING),
    (ENDED, ACTIVE),
    (ENDED, SUSPENDED),
    (ENDED, FROZEN),
    (ENDED, PENDING),
]


async def test_allowed_transitions(ledger):
    """Each allowed transition takes the link to the target status (one link per case)."""
    for i, (start, target) in enumerate(ALLOWED):
        await linked(ledger, start, f"p{i}.example")
        link = await ledger.write(set_status, f"p{i}.example", target, T0 + 9)
        assert link.status is target, (start, target)
        assert link.carries_new_transfers is (target is ACTIVE)


async def test_refused_transitions_change_nothing(ledger):
    """A transition not allowed from the present status is InvalidRequest; nothing changes."""
    for i, (start, _) in enumerate(REFUSED):
        await linked(ledger, start, f"p{i}.example")
    before = await ledger.read(ledger_snapshot)
    for i, (start, target) in enumerate(REFUSED):
        with pytest.raises(InvalidRequest):
            await ledger.write(set_status, f"p{i}.example", target, T0 + 9)
        assert (await ledger.read(get_link, f"p{i}.example")).status is start
    assert await ledger.read(ledger_snapshot) == before


async def test_setting_the_present_status_again_changes_nothing(ledger):
    """Suspending a suspended link (a replayed command) returns it as it is."""
    link = await linked(ledger, SUSPENDED)
    before = await ledger.read(ledger_snapshot)
    assert await ledger.write(set_status, "b.example", SUSPENDED, T0 + 50, note="again") == link
    assert await ledger.read(ledger_snapshot) == before


async def test_resuming_without_the_peers_consent_gives_pending(ledger):
    """A link suspended before the peer consented goes back to pending, not active."""
    await ledger.write(consent_locally, PEER, LIMITS, T0)
    await ledger.write(set_status, "b.example", SUSPENDED, T0 + 1)
    assert (await ledger.write(set_status, "b.example", ACTIVE, T0 + 2)).status is PENDING
    assert (await ledger.write(consent_remotely, PEER, T0 + 3)).status is ACTIVE


async def test_consent_does_not_lift_a_suspension_or_a_freeze(ledger):
    """The peer's consent arriving again leaves a suspended or frozen link as it is."""
    await linked(ledger, SUSPENDED)
    assert (await ledger.write(consent_remotely, PEER, T0 + 5)).status is SUSPENDED
    assert (await ledger.write(consent_locally, PEER, LIMITS, T0 + 6)).status is SUSPENDED
    await ledger.write(set_status, "b.example", FROZEN, T0 + 7)
    assert (await ledger.write(consent_remotely, PEER, T0 + 8)).status is FROZEN


async def test_ending_and_peering_again(ledger):
    """Ending locally withdraws our consent; consenting again makes the link active again.
    When the peer ends it, its consent is withdrawn until it consents again. The peer
    account stays throughout."""
    await linked(ledger)
    ended = await ledger.write(set_status, "b.example", ENDED, T0 + 5)
    assert (ended.status, ended.local_consent, ended.remote_consent) == (ENDED, False, True)
    assert (await ledger.write(consent_locally, PEER, LIMITS, T0 + 6)).status is ACTIVE

    withdrawn = await ledger.write(withdraw_remote_consent, "b.example", T0 + 7)
    assert (withdrawn.status, withdrawn.local_consent, withdrawn.remote_consent) == (
        ENDED,
        True,
        False,
    )
    assert (await ledger.write(consent_remotely, PEER, T0 + 8)).status is ACTIVE
    assert (await ledger.read(get_account, "peer:b.example")).is_open


async def test_a_peers_currency_never_changes(ledger):
    """Consent naming another currency code or scale is refused and changes nothing."""
    await linked(ledger)
    before = await ledger.read(ledger_snapshot)
    for currency in (Currency("CCC", "Other", 0), Currency("BBB", "Bobbel", 2)):
        changed = PeerRef(PEER.domain, PEER.actor_uri, PEER.inbox_url, currency)
        with pytest.raises(InvalidRequest):
            await ledger.write(consent_remotely, changed, T0 + 5)
        with pytest.raises(InvalidRequest):
            await ledger.write(consent_locally, changed, Limits(1, 1), T0 + 5)
    assert await ledger.read(ledger_snapshot) == before


async def test_consent_updates_the_peers_actor_and_inbox(ledger):
    """A peer that moved its inbox is reached at the new one after its next consent."""
    await linked(ledger)
    moved = PeerRef("b.example", "https://b.example/new-actor", "https://b.example/new", BBB)
    link = await ledger.write(consent_remotely, moved, T0 + 5)
    assert (link.actor_uri, link.inbox_url) == (moved.actor_uri, moved.inbox_url)


async def test_the_peer_account_gets_the_chosen_limits_and_reconsent_relimits(ledger):
    """consent_locally opens peer:<domain> (a peer account, empty) with the operator's
    limits; consenting again changes them, and each change is logged."""
    await ledger.write(consent_locally, PEER, Limits(5_000, 7_000, 1_000), T0)
    account = await ledger.read(get_account, "peer:b.example")
    assert account.kind is AccountKind.PEER
    assert account.limits == Limits(5_000, 7_000, 1_000)
    assert (account.balance_minor, account.allowance_granted_minor) == (0, 0)

    await ledger.write(consent_remotely, PEER, T0 + 1)
    await ledger.write(consent_locally, PEER, Limits(200, None), T0 + 2)
    assert (await ledger.read(get_account, "peer:b.example")).limits == Limits(200, None)

    def changes(conn):
        c = tables.limit_changes
        rows = conn.execute(
            select(c.c.changed_at_us, c.c.credit_limit_minor, c.c.upper_limit_minor)
            .where(c.c.account_id == "peer:b.example")
            .order_by(c.c.changed_at_us)
        )
        return [tuple(row) for row in rows]

    assert await ledger.read(changes) == [(T0, 5_000, 7_000), (T0 + 2, 200, None)]


async def test_a_refused_peer_domain_opens_nothing(ledger):
    """A domain that is not a lower-case host name gets no link and no account."""
    before = await ledger.read(ledger_snapshot)
    bad = PeerRef("B.Example", "https://b.example/a", "https://b.example/i", BBB)
    with pytest.raises(InvalidRequest):
        await ledger.write(consent_locally, bad, LIMITS, T0)
    assert await ledger.read(ledger_snapshot) == before
