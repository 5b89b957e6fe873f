"""A Runtime without a web server, for the CLI and the standalone worker."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fediverse_share import setup
from fediverse_share.database import Database
from fediverse_share.http import delivery_client, http_client
from fediverse_share.runtime import Runtime
from fediverse_share.settings import Settings


@contextlib.asynccontextmanager
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    db = Database(settings.database_url, schema=settings.database_schema)
    try:
        info = await db.read(setup.load_instance_info, settings)
        async with http_client(settings) as http, delivery_client(settings) as deliveries:
            yield Runtime(
                settings=settings, db=db, http=http, delivery_client=deliveries, instance=info
            )
    finally:
        await db.close()
