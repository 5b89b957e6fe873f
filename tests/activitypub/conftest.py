"""The delivery client's and delivery's tests run on asyncio's own loop
(``fediverse-share worker``) and on uvloop (``serve``, through uvicorn), whose
transports differ; the other tests here on asyncio's loop only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest
import uvloop

#: Test modules whose connections must work on both loops.
BOTH_LOOPS = frozenset(
    {"tests.activitypub.test_delivery_client", "tests.activitypub.test_delivery"}
)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    module = getattr(item, "module", None)
    if module is not None and module.__name__ in BOTH_LOOPS:
        factories["uvloop"] = uvloop.new_event_loop
    return factories
