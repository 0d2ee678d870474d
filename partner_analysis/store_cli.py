"""``partner-analysis db``: schema versions, backup and restore of the records store.

``db upgrade`` backs the store up, then migrates it to this code's head revision; ``db current``
and ``db history`` show where a store stands and which revisions exist; ``db backup FILE`` and
``db restore FILE`` copy a store to a file and back (SQLite online backup API; ``pg_dump`` and
``pg_restore`` for PostgreSQL). The store is chosen as everywhere else: ``--db`` (path or URL),
else ``$PA_DB_URL``, else ``--data-dir``'s ``records/records.sqlite``.
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from . import store_backup, store_schema
from .store import Store, resolve_db_url, table_names

__all__ = ["add_parsers"]


def _store(args, *, create: bool) -> Store:
    return Store(args.db, data_dir=args.data_dir, create=create, check_schema=False)


def _cmd_upgrade(args) -> int:
    store = _store(args, create=False)
    try:
        result = store_backup.upgrade_store(store, backup=args.backup)
    finally:
        store.close()
    if result.backup is None and result.before == result.after:
        print(f"the records store at {store.where()} is at revision {result.after} (head); nothing to do")
        return 0
    if result.backup is not None:
        print(f"backed up {result.backup.rows} rows to {result.backup.path}")
    print(f"upgraded the records store at {store.where()} from {result.before or 'no version'} to {result.after}")
    return 0


def _cmd_current(args) -> int:
    store = _store(args, create=False)
    try:
        with store.errors("read"), store.engine.connect() as conn:
            state = store_schema.schema_state(conn, head_tables=table_names())
    finally:
        store.close()
    text = {"current": f"{state.revision} (head)",
            "behind": f"{state.revision} (behind head {state.head}: run `partner-analysis db upgrade`)",
            "ahead": f"{state.revision} (unknown to this partner_analysis, which knows up to {state.head})",
            "unversioned": "no version: made before schema versions (run `partner-analysis db upgrade`)",
            "empty": "empty: no records-store tables yet"}[state.state]
    print(f"{store.where()}: {text}")
    return 0


def _cmd_history(args) -> int:
    head = store_schema.head_revision()
    for rev in store_schema.history():
        mark = " (head)" if rev["revision"] == head else ""
        first = rev["doc"].splitlines()[0] if rev["doc"] else ""
        print(f"{rev['revision']}{mark}  {first}")
    return 0


def _cmd_backup(args) -> int:
    store = _store(args, create=False)
    try:
        done = store_backup.backup_store(store, args.file)
    finally:
        store.close()
    print(f"backed up {done.rows} rows (schema revision {done.revision or 'none'}) of {store.where()} to {done.path}")
    return 0


def _cmd_restore(args) -> int:
    # the file is checked before the store is opened, so a refused restore creates no folder or file
    backend = sa.engine.make_url(resolve_db_url(args.db, data_dir=args.data_dir)).get_backend_name()
    store_backup.check_backup_file(Path(args.file), postgresql=backend == "postgresql")
    store = _store(args, create=True)
    try:
        before, restored = store_backup.restore_store(store, args.file, force=args.force)
        with store.errors("read"), store.engine.connect() as conn:
            state = store_schema.schema_state(conn, head_tables=table_names())
    finally:
        store.close()
    if before is not None:
        print(f"backed up the replaced store ({before.rows} rows) to {before.path}")
    print(f"restored {restored} rows from {args.file} into {store.where()}")
    if state.state in ("behind", "unversioned"):
        print(f"note: the restored store is at revision {state.revision or 'none'}; run `partner-analysis db "
              f"upgrade` before using it (this partner_analysis needs {state.head})")
    return 0


def add_parsers(sub) -> None:
    """Add the ``db`` verb and its actions to the main parser's sub-parsers."""
    from .cliargs import add_action_group, add_store_args
    actions = add_action_group(
        sub, "db", dest="db_action", help="records store: schema upgrade, version, backup and restore",
        description="Schema versions (Alembic), backups and restores of the records store.")

    p = actions.add_parser("upgrade", help="back the store up, then upgrade it to this version's schema",
                           description="Back the store up (SQLite online backup / pg_dump), then migrate it to "
                                       "the head revision inside one write transaction.")
    add_store_args(p)
    p.add_argument("--backup", default=None, help="backup file (default: backups/ next to an SQLite store, "
                                                  "./partner_analysis-backups/ for PostgreSQL)")
    p.set_defaults(func=_cmd_upgrade)

    p = actions.add_parser("current", help="the store's schema revision", description="Print the store's revision.")
    add_store_args(p)
    p.set_defaults(func=_cmd_current)

    p = actions.add_parser("history", help="the schema revisions this version knows",
                           description="List the schema revisions, oldest first.")
    p.set_defaults(func=_cmd_history)

    p = actions.add_parser("backup", help="copy the store to FILE",
                           description="Copy the store to FILE (never overwrites a file).")
    p.add_argument("file", help="backup file to create")
    add_store_args(p)
    p.set_defaults(func=_cmd_backup)

    p = actions.add_parser("restore", help="replace the store's content with FILE",
                           description="Replace the store's content with a backup FILE. A store holding rows "
                                       "is replaced only with --force, after an automatic backup.")
    p.add_argument("file", help="backup file made by `partner-analysis db backup`")
    p.add_argument("--force", action="store_true", help="replace a store that holds rows (it is backed up first)")
    add_store_args(p)
    p.set_defaults(func=_cmd_restore)
