"""Schema revisions of the records store (Alembic revision files)."""
