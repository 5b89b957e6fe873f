"""Fixtures for federation tests: two or three real instances on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import Instance, running_instance


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[tuple[Instance, Instance]]:
    async with (
        running_instance("a", tmp_path, TEST_DATABASE_URL) as a,
        running_instance("b", tmp_path, TEST_DATABASE_URL) as b,
    ):
        yield a, b


@pytest.fixture
async def three(tmp_path: Path) -> AsyncIterator[tuple[Instance, Instance, Instance]]:
    async with (
        running_instance("a", tmp_path, TEST_DATABASE_URL) as a,
        running_instance("b", tmp_path, TEST_DATABASE_URL) as b,
        running_instance("c", tmp_path, TEST_DATABASE_URL) as c,
    ):
        yield a, b, c
