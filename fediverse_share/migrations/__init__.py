"""Schema migrations (Alembic). `upgrade` brings a database to the newest schema.

Until the first release nothing is deployed, so revisions may still be edited in
place; from then on every schema change is a new revision.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from fediverse_share.database import Database

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["connection"] = conn
    return config


def _upgrade(conn: Connection, revision: str) -> None:
    command.upgrade(alembic_config(conn), revision)


async def upgrade(db: Database, revision: str = "head") -> None:
    """Create the schema, or upgrade an existing one; safe to run again."""
    await db.exclusive(_upgrade, revision)
