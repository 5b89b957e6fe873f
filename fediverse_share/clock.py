"""Time, as the application reads it: microseconds since the Unix epoch, UTC."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_us() -> int:
    return time.time_ns() // 1000


def to_datetime(at_us: int) -> datetime:
    return datetime.fromtimestamp(at_us / 1_000_000, tz=UTC)


def render_iso(at_us: int) -> str:
    """ActivityPub timestamps: seconds precision, ``Z``."""
    return to_datetime(at_us).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_iso_millis(at_us: int) -> str:
    """Mastodon API timestamps: exactly three fractional digits (clients depend on it)."""
    moment = to_datetime(at_us)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
