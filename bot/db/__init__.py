"""Persistence: SQLAlchemy 2 models, engine construction, Alembic migrations."""
