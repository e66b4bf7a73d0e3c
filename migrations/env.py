"""Alembic environment: the URL comes from the caller or from backend.settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import backend.db.tables  # noqa: F401  (registers every table on Base.metadata)
from backend.db.base import Base
from backend.settings import get_settings
from migrations.revision_ids import remap_old_revision_id

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.attributes.get("database_url") or get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(_url())
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            # A database stamped before the ids followed the chain (migrations/revision_ids.py).
            remap_old_revision_id(connection)
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
