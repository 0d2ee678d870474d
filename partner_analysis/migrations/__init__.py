"""Alembic migrations of the records store (see :mod:`partner_analysis.store_schema`).

``env.py`` runs on a connection the toolkit passes in (``config.attributes["connection"]``);
``versions/`` holds one file per schema revision, oldest first:

- ``0001_baseline``: the schema of the last store without versions (commit ae5988b);
- ``0002_goal_owner_column``: a goal's owner moves from ``records_goal_owners`` into ``records_goals.owner``.
"""
