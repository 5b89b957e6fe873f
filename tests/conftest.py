"""Shared fixtures: a migrated database on SQLite, or on PostgreSQL when
FEDIVERSE_SHARE_TEST_DATABASE_URL names one (each test gets its own schema)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fediverse_share.database import Database
from fediverse_share.migrations import upgrade
from tests.support.databases import fresh_database_url

TEST_DATABASE_URL = os.environ.get("FEDIVERSE_SHARE_TEST_DATABASE_URL", "")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A Database migrated to head, empty, private to the test."""
    async with fresh_database_url(TEST_DATABASE_URL, tmp_path) as (url, schema):
        database = Database(url, schema=schema)
        try:
            await upgrade(database)
            yield database
        finally:
            await database.close()
