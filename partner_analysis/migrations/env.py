"""Alembic environment of the records store: migrations run on a connection the toolkit opened.

:func:`partner_analysis.store_schema.upgrade` passes an open connection inside the store's write
transaction (``BEGIN IMMEDIATE`` on SQLite, the advisory lock on PostgreSQL) as
``config.attributes["connection"]``, so an upgrade and a form saving at the same moment queue on the
same lock. Offline (SQL script) mode is not offered: back up and upgrade the store itself.
"""
from __future__ import annotations

from alembic import context

from partner_analysis.store import metadata, table_names

table_names()  # every area's tables on metadata

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("the records store is migrated with `partner-analysis db upgrade`, which opens the store "
                       "itself; the plain `alembic` command is not supported")

context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
