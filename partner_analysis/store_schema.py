"""Schema versions of the records store: Alembic revisions, the state of a store, upgrades.

The store's tables carry a version (Alembic's ``alembic_version`` table). Revisions live in
``partner_analysis/migrations/versions/`` and are shipped in the package.

What happens to a store, by its state (:func:`schema_state`):

``empty``
    A new database: :class:`~partner_analysis.store.Store` creates every table and stamps it at head.
``current``
    At this code's head revision: opened as usual.
``unversioned``
    Made before schema versions (partner_analysis up to commit ae5988b): refused on open.
    ``partner-analysis db upgrade`` checks its tables against revision 0001 (the same tables and
    columns), stamps it at 0001 and upgrades it.
``behind``
    At an older revision: refused on open; ``partner-analysis db upgrade`` upgrades it.
``ahead``
    At a revision this code does not know (made by a newer partner_analysis): refused, also by
    ``db upgrade``; install the newer version, or restore a backup made before.

Upgrades are never automatic: ``db upgrade`` first backs the store up (see
:mod:`partner_analysis.store_backup`), then migrates inside the store's write transaction, so a form
saving at the same moment waits instead of writing into a half-migrated store.
"""
from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import sqlalchemy as sa

from .exceptions import StoreSchemaError

__all__ = ["MIGRATIONS_DIR", "BASELINE", "alembic_config", "head_revision", "known_revisions", "schema_state", "SchemaState",
           "StoreSchemaError", "stamp_head", "upgrade_connection", "history", "check_unversioned",
           "schema_message"]

#: the Alembic script folder shipped inside the package
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: the revision of the last store made without versions (commit ae5988b)
BASELINE = "0001"
#: Alembic's version table
VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class SchemaState:
    """Where a store stands.

    Attributes
    ----------
    state : {"empty", "unversioned", "current", "behind", "ahead"}
    revision : str or None
        The store's revision (``None`` when it has no version table).
    head : str
        This code's head revision.
    """

    state: str
    revision: str | None
    head: str


def alembic_config(connection: sa.Connection | None = None):
    """An Alembic :class:`~alembic.config.Config` for the shipped migrations, bound to ``connection``."""
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.lru_cache(maxsize=1)
def _script():
    from alembic.script import ScriptDirectory
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """This code's head revision (e.g. ``"0002"``)."""
    return _script().get_current_head()


def known_revisions() -> list[str]:
    """Every revision this code knows, oldest first."""
    return [s.revision for s in reversed(list(_script().walk_revisions()))]


def history() -> list[dict]:
    """Revisions oldest first: ``{"revision", "down_revision", "doc"}`` (doc: the first docstring line)."""
    out = []
    for s in reversed(list(_script().walk_revisions())):
        out.append({"revision": s.revision, "down_revision": s.down_revision, "doc": (s.doc or "").strip()})
    return out


def _store_table_names() -> set[str]:
    return {t.name for t in _baseline().sorted_tables}


def _baseline() -> sa.MetaData:
    module = importlib.import_module("partner_analysis.migrations.versions.r0001_baseline")
    return module.baseline_metadata()


def schema_state(conn: sa.Connection, *, head_tables: Iterable[str] = ()) -> SchemaState:
    """Read the store's revision on an open connection (changes nothing).

    ``head_tables``: the table names of the code's own metadata (``store.metadata``), passed by the caller
    so this module needs nothing from :mod:`partner_analysis.store` (which imports it); a store holding any of
    them, or of the baseline's, without a version is "unversioned", otherwise "empty".
    """
    head = head_revision()
    tables = set(sa.inspect(conn).get_table_names())
    known_tables = _store_table_names() | set(head_tables)
    if VERSION_TABLE not in tables:
        present = tables & known_tables
        return SchemaState("unversioned" if present else "empty", None, head)
    rows = [r[0] for r in conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))]
    if not rows:
        present = tables & known_tables
        return SchemaState("unversioned" if present else "empty", None, head)
    revision = rows[0]
    if len(rows) > 1 or revision not in known_revisions():
        return SchemaState("ahead", ",".join(sorted(rows)), head)
    return SchemaState("current" if revision == head else "behind", revision, head)


def schema_message(state: SchemaState, where: str, db_arg: str) -> str:
    """The one-line explanation of a store that cannot be opened as it is (``where``: file or URL)."""
    if state.state == "unversioned":
        return (f"the records store at {where} was made before the store had schema versions; this "
                f"partner_analysis needs revision {state.head}. Run `partner-analysis db upgrade {db_arg}` "
                "(it backs the store up first, then upgrades it; nothing is lost)")
    if state.state == "behind":
        return (f"the records store at {where} is at schema revision {state.revision}; this partner_analysis "
                f"needs {state.head}. Run `partner-analysis db upgrade {db_arg}` (it backs the store up first)")
    if state.state == "ahead":
        return (f"the records store at {where} is at schema revision {state.revision}, which this "
                f"partner_analysis does not know (it knows up to {state.head}): the store was made by a newer "
                "partner_analysis. Install that version, or restore a backup made before "
                "(`partner-analysis db restore FILE`)")
    raise ValueError(state.state)


def stamp_head(conn: sa.Connection) -> None:
    """Record the head revision in a store whose tables were just created from the current tables."""
    from alembic.runtime.migration import MigrationContext
    ctx = MigrationContext.configure(conn)
    ctx.stamp(_script(), "head")


def check_unversioned(conn: sa.Connection, where: str) -> None:
    """Check a store made before versions against revision 0001 (tables and their columns).

    Tables of 0001 that are missing are fine (the code of that time created missing tables on open,
    and revision 0001 creates them); a table with other columns is refused, naming table and columns.

    Raises
    ------
    StoreSchemaError
        When a table's columns differ from revision 0001's.
    """
    inspector = sa.inspect(conn)
    present = set(inspector.get_table_names())
    problems = []
    for table in _baseline().sorted_tables:
        if table.name not in present:
            continue
        found = {c["name"] for c in inspector.get_columns(table.name)}
        wanted = {c.name for c in table.columns}
        if found != wanted:
            extra, missing = sorted(found - wanted), sorted(wanted - found)
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unexpected {', '.join(extra)}"] if extra else [])
            problems.append(f"{table.name} ({'; '.join(parts)})")
    if problems:
        raise StoreSchemaError(
            f"the records store at {where} has no schema version and its tables are not those of revision "
            f"{BASELINE} (the last store without versions): {'; '.join(problems)}. Nothing was changed. "
            "Restore a backup made by partner_analysis, or ask for help with this store")


def upgrade_connection(conn: sa.Connection, where: str, target: str = "head") -> tuple[str | None, str]:
    """Upgrade the store on ``conn`` (inside the caller's write transaction) to ``target``.

    A store without versions is checked (:func:`check_unversioned`) and stamped at the baseline first.

    Returns
    -------
    (str or None, str)
        The revision before (``None``: no version) and after.

    Raises
    ------
    StoreSchemaError
        The store is newer than this code, or an unversioned store does not match the baseline.
    """
    from alembic import command
    state = schema_state(conn)
    if state.state == "ahead":
        raise StoreSchemaError(schema_message(state, where, ""))
    before = state.revision
    cfg = alembic_config(conn)
    if state.state == "unversioned":
        check_unversioned(conn, where)
        command.upgrade(cfg, BASELINE)   # creates the baseline tables it lacks, then stamps 0001
    command.upgrade(cfg, target)
    return before, schema_state(conn).revision
