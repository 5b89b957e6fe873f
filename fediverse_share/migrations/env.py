"""Alembic environment: always run on a connection handed in by `migrations.upgrade`."""

from __future__ import annotations

from alembic import context

from fediverse_share.schema import all_metadata, include_name

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through 'fediverse-share init' (migrations.upgrade)")

context.configure(
    connection=connection,
    target_metadata=all_metadata(),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
