"""Alembic environment: ``bot.db.engine`` hands over an open connection."""

from __future__ import annotations

from alembic import context

from bot.db.models import Base

config = context.config


def run() -> None:
    if context.is_offline_mode():
        url = config.get_main_option("sqlalchemy.url") or ""
        context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run()
