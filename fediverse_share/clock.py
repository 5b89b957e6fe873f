"""Time, as the application reads it: microseconds since the Unix epoch, UTC."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


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


def render_iso_micros(at_us: int) -> str:
    """An instant to the microsecond (clearing expiries): ``2026-12-02T01:00:00.250000Z``."""
    return to_datetime(at_us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_iso_us(text: str) -> int:
    """An ISO 8601 instant with ``Z`` or an offset, as microseconds; raises `ValueError`."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("an instant needs a time zone")
    return (moment - _EPOCH) // timedelta(microseconds=1)
