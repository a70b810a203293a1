"""Persistence: SQLAlchemy models, the Store use-case API, Alembic migrations."""
