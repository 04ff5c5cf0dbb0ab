"""Alembic migrations for the creditgate schema, run in-process by adapters.db.schema."""
