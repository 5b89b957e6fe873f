"""Calendar periods for demurrage, in UTC: days and calendar months.

Pure functions on microseconds since the Unix epoch; a period is ``[start, end)``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

DAY_US = 86_400 * 1_000_000


class Period(StrEnum):
    DAY = "day"
    MONTH = "month"


def _month_index(at_us: int) -> int:
    moment = datetime.fromtimestamp(at_us // 1_000_000, tz=UTC)
    return moment.year * 12 + moment.month - 1


def _month_start_us(index: int) -> int:
    year, month0 = divmod(index, 12)
    return int(datetime(year, month0 + 1, 1, tzinfo=UTC).timestamp()) * 1_000_000


def period_start_us(at_us: int, period: Period) -> int:
    """The start of the period that contains ``at_us``."""
    if period is Period.DAY:
        return at_us - at_us % DAY_US
    return _month_start_us(_month_index(at_us))


def period_end_us(at_us: int, period: Period) -> int:
    """The end (exclusive) of the period that contains ``at_us``: the next one's start."""
    if period is Period.DAY:
        return period_start_us(at_us, period) + DAY_US
    return _month_start_us(_month_index(at_us) + 1)


def period_label(at_us: int, period: Period) -> str:
    """A stable name for the period containing ``at_us``: ``2024-03`` or ``2024-03-15``."""
    moment = datetime.fromtimestamp(at_us // 1_000_000, tz=UTC)
    if period is Period.DAY:
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m")
