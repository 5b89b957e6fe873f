"""Snowflake-like ids: numeric, unique, and sorting by time.

Mastodon clients compare ids as numbers in strings (Tusky by length, then
lexically), and Mastodon.py turns datetimes into ``max_id`` values, so our ids are
``milliseconds since the Unix epoch << 16 | sequence`` like Mastodon's own.
"""

from __future__ import annotations

import random
import secrets
import threading
import time


class IdGenerator:
    """Hands out increasing snowflake ids; safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0
        # Ids are public, not secrets: a fast generator, seeded apart per process.
        self._random = random.Random(secrets.randbits(64))

    def next_id(self, now_ms: int | None = None) -> int:
        millis = int(time.time() * 1000) if now_ms is None else now_ms
        # A random low part keeps ids from two processes on one database apart.
        candidate = (millis << 16) | self._random.getrandbits(12) << 4
        with self._lock:
            self._last = max(candidate, self._last + 1)
            return self._last


def id_for_time(millis: int) -> int:
    """The smallest id at or after ``millis`` (for ``max_id`` from a datetime)."""
    return millis << 16
