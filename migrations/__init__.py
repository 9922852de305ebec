"""Alembic migration environment (installed so `aewatch init` works from a wheel)."""
