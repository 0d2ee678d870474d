"""Backups of the records store: SQLite's online backup API, ``pg_dump``/``pg_restore`` for PostgreSQL.

A backup is one file: an SQLite database (a consistent copy taken while forms may be saving) or a
PostgreSQL custom-format dump. Every file is first written under a temporary name next to its
destination and renamed when complete, so a failed backup never leaves a half-written file with the
final name, and an existing file is never overwritten.

:func:`restore_store` refuses to replace a store that holds rows unless ``force=True``, and backs the
store up (:func:`automatic_backup_path`) before it replaces anything.
"""
from __future__ import annotations

import datetime as dt
import glob
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from . import store_schema
from .exceptions import StoreError

__all__ = ["upgrade_store", "UpgradeResult", "backup_store", "restore_store", "check_backup_file", "automatic_backup_path", "find_pg_tool", "store_row_counts",
           "BackupResult", "SQLITE_MAGIC", "PG_DUMP_MAGIC"]

SQLITE_MAGIC = b"SQLite format 3\x00"
#: the first bytes of a pg_dump custom-format archive
PG_DUMP_MAGIC = b"PGDMP"
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"


@dataclass(frozen=True)
class BackupResult:
    """A finished backup: its file, the store's revision and its rows (the version table not counted)."""

    path: Path
    revision: str | None
    rows: int


def _stamp() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def automatic_backup_path(store, reason: str) -> Path:
    """Where an automatic backup (before an upgrade or a restore) goes.

    SQLite: ``<store folder>/backups/<store name>-<reason>-<UTC time>.sqlite``; PostgreSQL:
    ``./partner_analysis-backups/<database>-<reason>-<UTC time>.dump`` (the current folder: the
    server's disk is not ours to write).
    """
    url = sa.engine.make_url(store.url)
    if store.is_sqlite:
        db = Path(url.database)
        return db.parent / "backups" / f"{db.stem}-{reason}-{_stamp()}.sqlite"
    return Path.cwd() / "partner_analysis-backups" / f"{url.database}-{reason}-{_stamp()}.dump"


def store_row_counts(conn: sa.Connection) -> dict[str, int]:
    """Rows per table of the database on ``conn`` (every table, the version table included)."""
    names = sorted(sa.inspect(conn).get_table_names())
    return {n: int(conn.execute(sa.text(f'SELECT count(*) FROM "{n}"')).scalar_one()) for n in names}


def _sqlite_file(store) -> Path:
    return Path(sa.engine.make_url(store.url).database)


def _revision(conn: sa.Connection) -> str | None:
    return store_schema.schema_state(conn).revision


def backup_store(store, dest: str | os.PathLike) -> BackupResult:
    """Write a backup of ``store`` to ``dest`` (refused when ``dest`` exists).

    Parameters
    ----------
    store : Store
        An open store (``check_schema=False`` is fine: a store at any revision can be backed up).
    dest : path
        The backup file to create; its folder is created.

    Raises
    ------
    StoreError
        ``dest`` exists, the store cannot be read, or ``pg_dump`` is missing or fails.
    """
    dest = Path(dest)
    if dest.exists():
        raise StoreError(f"{dest} exists; a backup never overwrites a file. Choose a new name")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    try:
        with store.errors("read"), store.engine.connect() as conn:
            counts = store_row_counts(conn)
            revision = _revision(conn)
        if store.is_sqlite:
            _sqlite_backup(_sqlite_file(store), tmp)
        elif store.is_postgresql:
            _pg_dump(store.url, tmp, store.where())
        else:
            raise StoreError(f"backups are made for SQLite and PostgreSQL stores, not {store.where()}")
        os.link(tmp, dest)          # never replaces a file that appeared meanwhile
    except FileExistsError as err:
        raise StoreError(f"{dest} exists; a backup never overwrites a file. Choose a new name") from err
    except (sqlite3.Error, sa.exc.SQLAlchemyError) as err:
        hint = (" (the file is not an SQLite database or it is damaged)" if "not a database" in str(err) else "")
        raise StoreError(f"could not back up the records store at {store.where()}: "
                         f"{getattr(err, 'orig', None) or err}{hint}. Nothing was written") from err
    finally:
        tmp.unlink(missing_ok=True)
    return BackupResult(dest, revision, sum(n for name, n in counts.items() if name != store_schema.VERSION_TABLE))


def _sqlite_backup(source: Path, dest: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise StoreError(f"the backup of {source} failed its integrity check ({_one_line(check)}); the "
                                 "store itself may be damaged. Nothing was written")
        finally:
            dst.close()
    finally:
        src.close()


def _one_line(text: str, limit: int = 300) -> str:
    flat = "; ".join(line.strip() for line in str(text).splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[:limit] + " ..."


# -- PostgreSQL ------------------------------------------------------------------------------------

def find_pg_tool(name: str) -> Path:
    """``pg_dump``, ``pg_restore`` or ``psql``: on PATH, else the newest ``/usr/lib/postgresql/*/bin``.

    Raises
    ------
    StoreError
        When the program is not found (names the places looked in and the package to install).
    """
    found = shutil.which(name)
    if found:
        return Path(found)
    candidates = []
    for d in glob.glob(PG_BIN_GLOB):
        exe = Path(d) / name
        if exe.is_file() and os.access(exe, os.X_OK):
            try:
                candidates.append((int(Path(d).parent.name), exe))
            except ValueError:
                candidates.append((0, exe))
    if not candidates:
        raise StoreError(f"{name} was not found on PATH nor in {PG_BIN_GLOB}; it backs up and restores "
                         "PostgreSQL stores. Install the PostgreSQL client programs (Debian/Ubuntu: "
                         "apt-get install postgresql-client) or put their folder on PATH")
    return max(candidates)[1]


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and the environment that carries it."""
    u = sa.engine.make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    plain = u.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run_pg(args: list[str], env: dict, what: str, where: str) -> None:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=3600)
    except OSError as err:
        raise StoreError(f"could not run {args[0]} to {what} {where}: {err}") from err
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise StoreError(f"{Path(args[0]).name} could not {what} {where}: {' '.join(tail)}")


def _pg_dump(url: str, dest: Path, where: str) -> None:
    conninfo, env = _libpq(url)
    _run_pg([str(find_pg_tool("pg_dump")), "--format=custom", "--no-owner", "--no-privileges",
             f"--file={dest}", f"--dbname={conninfo}"], env, "back up", where)


# -- restore ---------------------------------------------------------------------------------------

def check_backup_file(src: Path, *, postgresql: bool) -> None:
    """Refuse a file that is not a backup this code can restore (see :func:`restore_store`).

    Raises
    ------
    StoreError
        Missing, not SQLite (or not a pg_dump archive for ``postgresql``), damaged, not a records store,
        or at a schema revision newer than this code.
    """
    if not src.is_file():
        raise StoreError(f"{src}: no such backup file. Pass a file made by `partner-analysis db backup`")
    with open(src, "rb") as fh:
        head = fh.read(16)
    if postgresql:
        if not head.startswith(PG_DUMP_MAGIC):
            raise StoreError(f"{src} is not a PostgreSQL backup (a pg_dump custom-format file starts with "
                             f"'PGDMP'; this one starts with {head[:8]!r}). Pass a file made by "
                             "`partner-analysis db backup` of a PostgreSQL store")
        return
    if head != SQLITE_MAGIC:
        raise StoreError(f"{src} is not an SQLite database (its first bytes are {head[:16]!r}, not "
                         "'SQLite format 3'). Pass a file made by `partner-analysis db backup` of an SQLite store")
    try:
        con = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
        try:
            check = con.execute("PRAGMA quick_check").fetchone()[0]
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            version = (con.execute(f"SELECT version_num FROM {store_schema.VERSION_TABLE}").fetchall()
                       if store_schema.VERSION_TABLE in tables else [])
        finally:
            con.close()
    except sqlite3.Error as err:
        raise StoreError(f"{src} cannot be read as an SQLite database ({err}). Pass a file made by "
                         "`partner-analysis db backup`") from err
    if check != "ok":
        raise StoreError(f"{src} is damaged (integrity check: {_one_line(check)}). Nothing was restored; use "
                         "another backup")
    if "response_sets" not in tables or "answers" not in tables:
        raise StoreError(f"{src} is an SQLite database but not a records store (it has no response_sets and "
                         "answers tables). Pass a file made by `partner-analysis db backup`")
    known = store_schema.known_revisions()
    for (rev,) in version:
        if rev not in known:
            raise StoreError(f"{src} is a store at schema revision {rev}, newer than this partner_analysis "
                             f"(it knows up to {store_schema.head_revision()}). Nothing was restored; install "
                             "the newer partner_analysis to restore it")


def restore_store(store, src: str | os.PathLike, *, force: bool = False) -> tuple[BackupResult | None, int]:
    """Replace the store's content with a backup made by :func:`backup_store`.

    Parameters
    ----------
    store : Store
        Opened with ``check_schema=False`` (the store may be at any revision, or empty).
    src : path
        The backup file (SQLite database or pg_dump custom archive).
    force : bool
        Replace a store that holds rows. Without it such a store is left alone.

    Returns
    -------
    (BackupResult or None, int)
        The automatic backup of the store taken before it was replaced (``None`` when it held no
        rows), and the number of rows restored.

    Raises
    ------
    StoreError
        The file is not a backup (not SQLite / not a pg_dump archive / damaged / not a records store /
        newer than this code), the store holds rows and ``force`` is false, or the restore failed
        (SQLite: nothing changed; PostgreSQL: ``pg_restore`` runs in one transaction).
    """
    src = Path(src)
    check_backup_file(src, postgresql=store.is_postgresql)
    with store.errors("read"), store.engine.connect() as conn:
        counts = store_row_counts(conn)
    held = sum(n for name, n in counts.items() if name != store_schema.VERSION_TABLE)
    if held and not force:
        raise StoreError(f"the records store at {store.where()} holds {held} rows; restoring {src} would replace "
                         "them. Nothing was changed. Back it up (`partner-analysis db backup FILE`) and pass "
                         "--force to replace it (restore also backs it up first)")
    before = None
    if held:
        before = backup_store(store, automatic_backup_path(store, "before-restore"))
    if store.is_sqlite:
        store.engine.dispose()
        try:
            s = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
            try:
                d = sqlite3.connect(_sqlite_file(store), timeout=30)
                try:
                    s.backup(d)     # page by page under the destination's write lock: all or nothing
                finally:
                    d.close()
            finally:
                s.close()
        except sqlite3.Error as err:
            raise StoreError(f"could not restore {src} into {store.where()}: {err}") from err
    elif store.is_postgresql:
        conninfo, env = _libpq(store.url)
        _run_pg([str(find_pg_tool("pg_restore")), "--clean", "--if-exists", "--no-owner", "--no-privileges",
                 "--single-transaction", "--exit-on-error", f"--dbname={conninfo}", str(src)], env,
                f"restore {src} into", store.where())
    else:
        raise StoreError(f"restore works for SQLite and PostgreSQL stores, not {store.where()}")
    with store.errors("read"), store.engine.connect() as conn:
        restored = sum(n for name, n in store_row_counts(conn).items() if name != store_schema.VERSION_TABLE)
    return before, restored


@dataclass(frozen=True)
class UpgradeResult:
    """What :func:`upgrade_store` did: revisions before and after, and the backup taken first (if any)."""

    before: str | None
    after: str
    backup: BackupResult | None


def upgrade_store(store, *, backup: str | os.PathLike | None = None) -> UpgradeResult:
    """Back the store up, then migrate it to the code's head revision (``partner-analysis db upgrade``).

    Parameters
    ----------
    store : partner_analysis.store.Store
        Opened without the schema check (``create=False``).
    backup : path, optional
        Where the backup goes (default :func:`automatic_backup_path`); never overwritten.

    Returns
    -------
    UpgradeResult
        ``before == after`` when the store was already current (nothing is written then).

    Raises
    ------
    StoreSchemaError
        The store is newer than the code, or an unversioned store does not match the baseline.
    """
    from .store import table_names
    with store.errors("read"), store.engine.connect() as conn:
        state = store_schema.schema_state(conn, head_tables=table_names())
        if state.state == "unversioned":
            store_schema.check_unversioned(conn, store.where())
    if state.state == "current":
        return UpgradeResult(state.head, state.head, None)
    if state.state == "ahead":
        raise store_schema.StoreSchemaError(store_schema.schema_message(state, store.where(), ""))
    done = None
    if state.state != "empty":
        dest = backup or automatic_backup_path(store, f"before-upgrade-{state.revision or 'unversioned'}")
        done = backup_store(store, dest)
    with store.transaction() as conn:
        before, after = store_schema.upgrade_connection(conn, store.where())
    return UpgradeResult(before, after, done)
