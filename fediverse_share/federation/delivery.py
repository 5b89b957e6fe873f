"""The persistent delivery queue (DESIGN §3 "Delivery").

One row per (activity, inbox) in ``deliveries``; shared inboxes replace personal
ones where offered, so a post to 10,000 followers on 200 servers is 200 jobs.
Workers *claim* due jobs with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
so several worker processes never deliver a job twice; on SQLite the single
writer makes the claim atomic), deliver them concurrently, and record their
outcomes, 200 in one write; a step claims more and records while it delivers
(`deliver_due`). A job whose lease ran out (its worker died) is claimed again:
delivery is at least once, and inboxes dedupe by activity id.

The retry policy and the HTTP POST itself belong to `activitypub.delivery`.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import BigInteger, Connection, Update, and_, bindparam, delete, or_, select, update

from activitypub import delivery as ap_delivery
from fediverse_share import tables
from fediverse_share.clock import now_us
from fediverse_share.runtime import Runtime
from fediverse_share.upserts import insert_or_ignore

CLAIM_BATCH = 200
#: Claims one step may make (the first, and those made while deliveries go on).
STEP_CLAIMS = 5
#: Jobs a sender signs in a row (see `_Run`): 16 keep most of the gain (8 to 50
#: measured alike) and hold the event loop ~5 ms, not the 15 ms of 50.
SIGN_RUN = 16
LEASE_US = 120 * 1_000_000
CONCURRENCY = 50
#: Failing on this many distinct days makes a domain unavailable (Mastodon: 7).
UNAVAILABLE_AFTER_DAYS = 7
_DAY_US = 86_400 * 1_000_000


def domain_of(url: str) -> str:
    return urlsplit(url).netloc.lower()


def enqueue(
    conn: Connection,
    runtime: Runtime,
    *,
    activity_uri: str,
    signer_id: int,
    body: str,
    inboxes: Iterable[str],
    at_us: int,
) -> int:
    """Queue ``body`` for each distinct inbox, skipping unavailable domains."""
    targets = sorted(set(inboxes))
    unavailable = _unavailable_domains(conn, {domain_of(i) for i in targets})
    rows = [
        {
            "id": runtime.ids.next_id(),
            "activity_uri": activity_uri,
            "signer_id": signer_id,
            "inbox": inbox,
            "domain": domain_of(inbox),
            "body": body,
            "state": "queued",
            "attempts": 0,
            "next_attempt_at_us": at_us,
            "created_at_us": at_us,
        }
        for inbox in targets
        if domain_of(inbox) not in unavailable
    ]
    insert_or_ignore(conn, tables.deliveries, rows)
    return len(rows)


def _unavailable_domains(conn: Connection, names: set[str]) -> set[str]:
    if not names:
        return set()
    d = tables.domains
    query = select(d.c.domain).where(d.c.domain.in_(names), d.c.unavailable.is_(True))
    return set(conn.execute(query).scalars())


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    inbox: str
    domain: str
    body: str
    signer_id: int
    attempts: int


def _claim_statement() -> Update:
    d = tables.deliveries
    at = bindparam("at", type_=BigInteger)
    due = (
        select(d.c.id)
        .where(
            d.c.state == "queued",
            d.c.next_attempt_at_us <= at,
            or_(d.c.claimed_until_us.is_(None), d.c.claimed_until_us < at),
        )
        .order_by(d.c.next_attempt_at_us)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )
    return (
        update(d)
        .where(d.c.id.in_(due.scalar_subquery()))
        .values(claimed_until_us=bindparam("until"))
        .returning(d.c.id, d.c.inbox, d.c.domain, d.c.body, d.c.signer_id, d.c.attempts)
    )


# Built once (building and keying a statement each time costs more than running it).
_CLAIM = _claim_statement()


def claim_due(conn: Connection, at_us: int, limit: int = CLAIM_BATCH) -> list[Job]:
    """Lease up to ``limit`` due jobs, in one statement (``UPDATE … RETURNING`` of a
    ``SELECT … FOR UPDATE SKIP LOCKED``): on PostgreSQL each round trip costs ~0.4 ms
    on both sides, and select, update and read back in three took 10-25 ms a batch."""
    values = {"at": at_us, "limit": limit, "until": at_us + LEASE_US}
    return [Job(*row) for row in conn.execute(_CLAIM, values)]


async def deliver_due(runtime: Runtime) -> int:
    """One worker step: claim due jobs, deliver them, record the outcomes.

    The database does not hold the senders up: when fewer jobs are left to start than
    there are senders, the next batch is claimed (up to `STEP_CLAIMS` claims a step),
    and every `CLAIM_BATCH` outcomes are recorded in one write while deliveries go on.
    On PostgreSQL, a claim and a record took 10-25 ms for each batch of 200 with
    nothing in flight, a sixth of the batch's time.
    """
    jobs = await runtime.db.write(claim_due, now_us())
    if not jobs:
        return 0
    async with asyncio.TaskGroup() as group:
        run = _Run(runtime, jobs, group)
    return run.count


class _Run:
    """One step's jobs, the senders that take them in turn, its claims and records.

    `CONCURRENCY` senders take the jobs from one deque: fewer tasks and no semaphore,
    where a task per job waiting on one cost ~20 µs per delivery. A sender that finds
    no signed job ready signs the next `SIGN_RUN` in a row, without sending between
    them: interleaved with the network's work, each signature cost ~15 % more CPU.
    """

    def __init__(self, runtime: Runtime, jobs: list[Job], group: asyncio.TaskGroup) -> None:
        self._runtime = runtime
        self._group = group
        self._waiting = deque(jobs)
        self._signed: deque[tuple[Job, bytes, dict[str, str]]] = deque()
        self._outcomes: list[tuple[Job, ap_delivery.DeliveryResult]] = []
        # A short batch means that nothing more is due, or that other workers have it.
        self._claims_left = STEP_CLAIMS - 1 if len(jobs) == CLAIM_BATCH else 0
        self._claiming: asyncio.Task[None] | None = None
        self._senders = min(CONCURRENCY, len(jobs))
        #: Jobs claimed in this step.
        self.count = len(jobs)
        for _ in range(self._senders):
            group.create_task(self._send())

    async def _send(self) -> None:
        timeout_seconds = self._runtime.settings.http_timeout_seconds
        client = self._runtime.delivery_client
        while (signed := await self._next()) is not None:
            job, body, headers = signed
            result = await ap_delivery.deliver(
                client, job.inbox, body, headers, timeout_seconds=timeout_seconds
            )
            self._outcomes.append((job, result))
            if len(self._outcomes) >= CLAIM_BATCH:
                self._record()
        self._senders -= 1
        if not self._senders:
            self._record()

    async def _next(self) -> tuple[Job, bytes, dict[str, str]] | None:
        """The next job to send, signed, or ``None`` when the step has no more."""
        while not self._signed:
            if not self._waiting:
                if self._claiming is None:
                    return None
                await self._claiming
                continue
            run = [self._waiting.popleft() for _ in range(min(SIGN_RUN, len(self._waiting)))]
            if len(self._waiting) < CONCURRENCY:
                self._claim_more()
            keys = self._runtime.keys
            signers = {job.signer_id: await keys.signing_key(job.signer_id) for job in run}
            for job in run:
                key, body = signers[job.signer_id], job.body.encode()
                headers = ap_delivery.sign(
                    job.inbox, body, key_id=key.key_id, private_key=key.private_key
                )
                self._signed.append((job, body, headers))
        return self._signed.popleft()

    def _claim_more(self) -> None:
        if self._claiming is None and self._claims_left:
            self._claims_left -= 1
            self._claiming = self._group.create_task(self._claim())

    async def _claim(self) -> None:
        jobs = await self._runtime.db.write(claim_due, now_us())
        if len(jobs) < CLAIM_BATCH:
            self._claims_left = 0
        self._waiting.extend(jobs)
        self.count += len(jobs)
        self._claiming = None

    def _record(self) -> None:
        if self._outcomes:
            outcomes, self._outcomes = self._outcomes, []
            self._group.create_task(self._runtime.db.write(record_outcomes, outcomes, now_us()))


def record_outcomes(
    conn: Connection, outcomes: list[tuple[Job, ap_delivery.DeliveryResult]], at_us: int
) -> None:
    d = tables.deliveries
    now = datetime.fromtimestamp(at_us / 1e6, tz=UTC)
    rng = random.Random()
    # Delivered jobs go in one statement and the domains that answered in one batch
    # (executemany, in a fixed order): a statement per job, or per domain when a post
    # goes to 200 shared inboxes, cost ~250 µs of SQLAlchemy each, as much as signing.
    delivered = [job for job, result in outcomes if result.outcome is _DELIVERED]
    if delivered:
        conn.execute(delete(d).where(d.c.id.in_([job.id for job in delivered])))
        answered = sorted({job.domain for job in delivered})
        conn.execute(_DOMAIN_ANSWERED, [{"peer": domain, "at": at_us} for domain in answered])
    failing: set[str] = set()
    for job, result in outcomes:
        if result.outcome is _DELIVERED:
            continue
        failing.add(job.domain)
        retry_at = None
        if result.outcome is ap_delivery.Outcome.RETRY:
            retry_at = ap_delivery.next_attempt(
                job.attempts + 1, now, retry_after=result.retry_after, rng=rng
            )
        values: dict[str, object] = {
            "attempts": job.attempts + 1,
            "claimed_until_us": None,
            "last_error": result.error,
        }
        if retry_at is None:
            values["state"] = "failed"
        else:
            values["next_attempt_at_us"] = int(retry_at.timestamp() * 1_000_000)
        conn.execute(update(d).where(d.c.id == job.id).values(**values))
    for domain in failing:
        _domain_failed(conn, domain, at_us)


_DELIVERED = ap_delivery.Outcome.DELIVERED
# Built once (building and keying it each time costs more than running it).
_DOMAIN_ANSWERED = (
    update(tables.domains)
    .where(tables.domains.c.domain == bindparam("peer"))
    .values(failure_days=0, unavailable=False, last_success_at_us=bindparam("at"))
)


def _domain_failed(conn: Connection, domain: str, at_us: int) -> None:
    """Count distinct failing days; after enough of them, stop queueing for the domain."""
    t = tables.domains
    day = at_us // _DAY_US
    insert_or_ignore(conn, t, [{"domain": domain, "failure_days": 0, "unavailable": False}])
    conn.execute(
        update(t)
        .where(
            t.c.domain == domain, or_(t.c.last_failure_day.is_(None), t.c.last_failure_day < day)
        )
        .values(failure_days=t.c.failure_days + 1, last_failure_day=day)
    )
    conn.execute(
        update(t)
        .where(and_(t.c.domain == domain, t.c.failure_days >= UNAVAILABLE_AFTER_DAYS))
        .values(unavailable=True)
    )
