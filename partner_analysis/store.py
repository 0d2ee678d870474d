"""The transactional records store: the database engine, its URL and its write transactions.

:class:`Store` opens the database (SQLite file by default, any SQLAlchemy URL such as PostgreSQL),
creates every area's tables on the one shared :data:`~partner_analysis.store_tables.metadata`
(the fit survey's in :mod:`partner_analysis.fit.tables`, the partnership records' in
:mod:`partner_analysis.records.tables`, the invitations' in :mod:`partner_analysis.access.tables`)
and runs write transactions. What is stored is each area's business: survey responses in
:mod:`partner_analysis.fit.responses`, records in :mod:`partner_analysis.records`.

Every SQLite connection runs in WAL mode with a busy timeout and foreign keys on;
write transactions start with ``BEGIN IMMEDIATE`` so concurrent writers queue on
the busy timeout instead of failing when a read lock cannot be upgraded.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import os
from pathlib import Path
from typing import Iterator

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from . import store_schema
from .exceptions import StoreError, StoreSchemaError
from .store_tables import check_id, ensure_partnership, metadata, partnerships

__all__ = [
    "metadata", "table_names",
    "partnerships",
    "Store",
    "resolve_db_url",
    "mask_url",
    "default_store_path",
    "move_legacy_store",
    "STORE_FOLDER",
    "STORE_FILE",
    "StoreSchemaError",
]


def _load_area_tables() -> tuple:
    """Import every area's table module, so :data:`metadata` holds all their tables; the survey's tables."""
    from .access.tables import invitations  # noqa: F401 - defines the invitation tables on metadata
    from .fit.tables import TABLES
    from .records.tables import audit  # noqa: F401 - defines the records tables on metadata
    return TABLES


def table_names() -> set[str]:
    """Names of every table the code defines on :data:`metadata` (every area's included)."""
    _load_area_tables()
    return {t.name for t in metadata.sorted_tables}


#: key of the PostgreSQL advisory lock that serialises the store's write transactions (any fixed bigint)
_PG_WRITE_LOCK = 0x7061_5374_6F72_65   # "paStore"

# -- URLs ------------------------------------------------------------------------------------------

#: the records store's folder inside a DATA_DIR (``import`` never replaces it) and the file in it
STORE_FOLDER = "records"
STORE_FILE = "records.sqlite"


def resolve_db_url(db: str | os.PathLike | None = None, *, data_dir: str | os.PathLike | None = None) -> str:
    """Decide which database the store uses.

    Parameters
    ----------
    db : str, path or None
        An SQLAlchemy URL (``postgresql+psycopg://...``, ``sqlite:///x.sqlite``) or a file path.
        Empty string means "not given" (notebook parameters default to ``""``).
    data_dir : path, optional
        A DATA_DIR; its ``records/records.sqlite`` is used when neither ``db`` nor ``PA_DB_URL`` is set
        (see :func:`default_store_path`, which also moves a store of the old layout there).

    Returns
    -------
    str
        An SQLAlchemy URL. The order is: explicit ``db`` > environment variable ``PA_DB_URL`` >
        ``data_dir/records/records.sqlite`` > ``./partner_analysis.sqlite``. Paths become absolute
        ``sqlite:///`` URLs.
    """
    for candidate in (db, os.environ.get("PA_DB_URL")):
        if candidate is not None and str(candidate).strip() != "":
            return _to_url(candidate)
    if data_dir is not None and str(data_dir) != "":
        return _to_url(default_store_path(data_dir))
    return _to_url(Path("partner_analysis.sqlite"))


def default_store_path(data_dir: str | os.PathLike) -> Path:
    """The records store of a DATA_DIR: ``DATA_DIR/records/records.sqlite``.

    ``import`` replaces a DATA_DIR's tables but never its ``records/`` folder, so what people typed
    survives every re-import. A store of the old layout (``DATA_DIR/records/records.sqlite``, up to commit
    ae5988b) is moved into ``records/`` the first time its DATA_DIR is used, when ``records/`` holds
    no store yet (see :func:`move_legacy_store`); the path is returned whether or not the file exists.
    """
    data_dir = Path(data_dir)
    path = data_dir / STORE_FOLDER / STORE_FILE
    legacy = data_dir / STORE_FILE
    if legacy.is_file() and not path.exists():
        move_legacy_store(legacy, path)
    return path


def move_legacy_store(legacy: Path, path: Path) -> Path | None:
    """Copy an old-layout store to ``path`` with SQLite's online backup, then set the old file aside.

    The copy is written to a temporary file next to ``path``, checked (``PRAGMA integrity_check``
    and the same number of rows in every table as the old store), then linked to ``path`` (which
    fails, keeping the other copy, when a concurrent process got there first). Only then is the old
    file, with its ``-wal``/``-shm`` files, renamed to ``records/records.sqlite.moved-<UTC time>``:
    nothing is deleted. A one-line notice goes to standard error.

    Returns
    -------
    Path or None
        Where the old file now is (``None`` when another process moved it first).

    Raises
    ------
    StoreError
        The old file is not a readable SQLite store or the copy does not match it (nothing was moved).
    """
    import sqlite3
    import sys
    tmp = path.with_name(f".{path.name}.moving-{os.getpid()}")
    aside = None
    try:
        # a second connection holds the write lock, so nobody writes into the old file between the copy
        # and the rename; the copy reads through its own connection (readers pass a writer's lock)
        locker = sqlite3.connect(f"file:{legacy}?mode=rw", uri=True, timeout=30)
        try:
            locker.execute("BEGIN IMMEDIATE")
            if path.exists() or not legacy.exists():
                return None     # another process moved it while this one waited for the lock
            src = sqlite3.connect(f"file:{legacy}?mode=ro", uri=True, timeout=30)
            path.parent.mkdir(parents=True, exist_ok=True)
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode = WAL")
                counts_src, counts_dst = _sqlite_counts(src), _sqlite_counts(dst)
                check = dst.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                dst.close()
                src.close()
            if check != "ok" or counts_src != counts_dst:
                raise StoreError(f"the records store {legacy} could not be copied to {path} intact "
                                 f"(integrity: {check}; rows {counts_src} vs {counts_dst}). Nothing was moved; "
                                 "pass --db with its path to use it where it is")
            try:
                os.link(tmp, path)
            except FileExistsError:
                return None
            stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
            aside = path.parent / f"{legacy.name}.moved-{stamp}"
            for suffix in ("", "-wal", "-shm"):
                old = Path(f"{legacy}{suffix}")
                if old.exists():
                    os.replace(old, Path(f"{aside}{suffix}"))
            locker.rollback()
        finally:
            locker.close()
        if aside is None:
            return None
        # opened and closed once under its new name, SQLite folds the set-aside -wal into it and removes both
        sqlite3.connect(aside, timeout=30).close()
    except sqlite3.Error as err:
        if path.exists() and not legacy.exists():
            return None         # another process moved it between this one's look and its connect
        hint = " (the file is not an SQLite database or it is damaged)" if "not a database" in str(err) else ""
        raise StoreError(f"the records store {legacy} (old place) could not be moved to {path}: {err}{hint}. "
                         "Nothing was moved; pass --db with its path to use it where it is") from err
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    print(f"note: moved the records store {legacy} to {path} (the old file is kept as {aside})", file=sys.stderr)
    return aside


def _sqlite_counts(con) -> dict[str, int]:
    names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                       "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def mask_url(url: str) -> str:
    """``url`` with any password hidden (for messages and logs)."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for messages
        return "<unparseable URL>"


def _to_url(value: str | os.PathLike) -> str:
    text = str(value).strip()
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


# -- the store -------------------------------------------------------------------------------------

class Store:
    """A connection to the records store (SQLite file by default, any SQLAlchemy URL).

    Parameters
    ----------
    db : str, path or None
        See :func:`resolve_db_url`.
    data_dir : path, optional
        Passed to :func:`resolve_db_url`.
    echo : bool
        Log SQL (debugging).
    create : bool, keyword-only
        ``True`` (default, for verbs that write): create the SQLite file, its folder and any missing
        table. ``False`` (for verbs that only read): open an existing store and change nothing, so a
        mistyped path fails loudly instead of leaving an empty store behind.
    check_schema : bool, keyword-only
        ``True`` (default): a new store is created at the head schema revision, and a store at
        another revision (or made before versions) is refused with the ``db upgrade`` advice
        (:class:`~partner_analysis.store_schema.StoreSchemaError`). ``False``: only connect, create
        and check nothing (the ``db`` verbs, which migrate, back up and restore).

    Raises
    ------
    StoreError
        The URL cannot be parsed or its driver is missing; with ``create=False``, the SQLite file does
        not exist or the database holds no records-store tables (message: ``no records store at ...``).
    StoreSchemaError
        The store is at another schema revision than this code's head: run ``partner-analysis db upgrade``.

    Notes
    -----
    SQLite settings, applied on every new connection:

    - ``journal_mode=WAL``: readers never block the writer, so a report can read while forms save.
    - ``busy_timeout=30000``: a writer waits up to 30 s for another writer instead of failing.
    - ``foreign_keys=ON``: answers cannot point at a missing response set.
    - ``synchronous=FULL``: each commit is fsynced before it is acknowledged. ``NORMAL`` already
      survives a killed process in WAL mode; FULL also survives power loss, and survey traffic
      (a few commits per minute) makes the extra fsync irrelevant.

    The object holds a connection pool; create one per process (it does not survive ``fork``).
    """

    def __init__(self, db: str | os.PathLike | None = None, *, data_dir: str | os.PathLike | None = None,
                 echo: bool = False, create: bool = True, check_schema: bool = True):
        self.url = resolve_db_url(db, data_dir=data_dir)
        self.create = bool(create)
        self.metadata = metadata
        try:
            url = sa.engine.make_url(self.url)
        except SQLAlchemyError as err:
            raise StoreError(f"'{self.url}' is not a database URL or path. Pass a file path such as "
                             "records.sqlite or a URL such as postgresql+psycopg://user@host/db") from err
        self.is_sqlite = url.get_backend_name() == "sqlite"
        self.is_postgresql = url.get_backend_name() == "postgresql"
        on_disk = self.is_sqlite and url.database not in (None, "", ":memory:")
        if on_disk and not create and not Path(url.database).is_file():
            # Checked before connecting: connecting is what would create the file.
            raise StoreError(self._missing_message(url.database, "the file does not exist"))
        if on_disk and create:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine = sa.create_engine(url, echo=echo, future=True)
        except (SQLAlchemyError, ImportError) as err:
            raise StoreError(f"cannot open the records store at {self._safe_url()}: {err}. Check the URL and "
                             "that its database driver is installed (PostgreSQL: pip install "
                             "'partner_analysis[postgres]')") from err
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        _load_area_tables()
        if not check_schema:
            return
        if not create:
            self._check_tables()
            with self.read() as conn:
                self._check_schema(store_schema.schema_state(conn, head_tables=table_names()))
            return
        # Inside one write transaction (BEGIN IMMEDIATE on SQLite), so processes opening a new database at
        # the same moment do not race between "does the table exist?" and CREATE TABLE.
        with self.transaction() as conn:
            state = store_schema.schema_state(conn, head_tables=table_names())
            if state.state == "empty":
                metadata.create_all(conn)
                store_schema.stamp_head(conn)
            else:
                self._check_schema(state)
                metadata.create_all(conn)

    def where(self) -> str:
        """The SQLite file, or the URL with its password hidden (for messages)."""
        if self.is_sqlite:
            return str(sa.engine.make_url(self.url).database)
        return self._safe_url()

    def _check_schema(self, state) -> None:
        if state.state in ("current", "empty"):
            return
        self.engine.dispose()
        raise store_schema.StoreSchemaError(store_schema.schema_message(state, self.where(), f"--db {self.where()}"))

    def _missing_message(self, where: str, reason: str) -> str:
        return (f"no records store at {where}: {reason}. Pass --db with the path (or URL) of an existing "
                "store, or create one by writing to it: `partner-analysis survey import-kobo`, "
                "`partner-analysis records import` or `partner-analysis demo-data`")

    def _check_tables(self) -> None:
        """Refuse a database that is not a records store (read-only open: nothing is created)."""
        where = self._safe_url()
        if self.is_sqlite:
            where = str(sa.engine.make_url(self.url).database)
        with self._errors("read"):
            with self.engine.connect() as conn:
                present = set(sa.inspect(conn).get_table_names())
        # The survey tables and partnerships make a records store (revision 0001); later areas' tables may be missing.
        core = {t.name for t in (partnerships, *_load_area_tables())}
        missing = sorted(core - present)
        if missing:
            self.engine.dispose()
            raise StoreError(self._missing_message(
                where, f"the database has no records-store tables ({', '.join(missing)} missing)"))

    # -- plumbing ----------------------------------------------------------------------------------

    def _safe_url(self) -> str:
        return mask_url(self.url)

    def __repr__(self) -> str:
        return f"Store({self._safe_url()!r})"

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except IntegrityError as err:
            raise StoreError(f"records store at {self._safe_url()}: could not {action}: a uniqueness or "
                             f"reference rule was broken ({err.orig}). Check that the keys exist and are "
                             "not duplicated") from err
        except SQLAlchemyError as err:
            hint = ""
            if "locked" in str(err).lower() or "busy" in str(err).lower():
                hint = ("; another process held the database for longer than the busy timeout. Retry, and "
                        "keep long reads out of write transactions")
            elif "not a database" in str(err).lower() or "malformed" in str(err).lower():
                hint = ("; the file is not an SQLite database or it is damaged. It was left as it is; restore a "
                        "backup into a new file (`partner-analysis db restore FILE --db NEW`)")
            raise StoreError(f"records store at {self._safe_url()}: could not {action}: "
                             f"{getattr(err, 'orig', None) or err}{hint}") from err

    def errors(self, action: str) -> contextlib.AbstractContextManager:
        """A context in which database errors become one-line :class:`StoreError` naming the store.

        For code outside the store's own methods (the ``db`` verbs) that works on ``self.engine``.
        """
        return self._errors(action)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A write transaction: commits on success, rolls back on any exception.

        On SQLite it starts with ``BEGIN IMMEDIATE`` (takes the write lock up front, waiting up to
        the busy timeout) so that two writers never deadlock on a lock upgrade.

        On PostgreSQL it first takes a transaction-scoped advisory lock, so write transactions run
        one at a time there too. Under READ COMMITTED, the store's "look, then insert" steps (a new
        partnership, a response set for a client token, CREATE TABLE on first open) would otherwise
        race between processes and fail on a unique key or create duplicate drafts. Readers never
        take the lock; survey traffic (a few writes per second at most) does not notice the queue.
        """
        with self._errors("complete a transaction"):
            with self.engine.connect() as conn:
                conn.execution_options(pa_write=True)
                with conn.begin():
                    if self.is_postgresql:
                        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_WRITE_LOCK})
                    yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read connection (no transaction is held open for writing); database errors become StoreError."""
        with self._errors("read"):
            with self.engine.connect() as conn:
                yield conn

    # -- partnerships (every area's records hang on them) ---------------------------------------

    def upsert_partnership(self, partner_id: str, name: str | None = None) -> None:
        """Create a partnership, or set its name when ``name`` is given."""
        partner_id = check_id("partner_id", partner_id)
        with self.transaction() as conn:
            ensure_partnership(conn, partner_id, name)

    def partnerships_frame(self) -> pd.DataFrame:
        """Partnerships: partner_id, name (sorted by partner_id)."""
        with self.read() as conn:
            rows = conn.execute(sa.select(partnerships).order_by(partnerships.c.partner_id)).all()
        return pd.DataFrame([tuple(r) for r in rows], columns=["partner_id", "name"])

def _set_wal(cur, *, wait: float = 30.0) -> None:
    """``PRAGMA journal_mode = WAL``, retried while another process holds the database.

    Switching a new database to WAL needs it to itself; when several processes open a new store together
    (the batch's workers, two apps) one of them can be told "database is locked" while another converts
    it. Retrying here keeps that from failing the open. Once the file is in WAL mode the pragma is a
    no-op that takes no lock.
    """
    import sqlite3
    import time
    deadline = time.monotonic() + wait
    pause = 0.01
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.25)


def _configure_sqlite(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy's "begin" hook below issue BEGIN itself, instead of pysqlite's implicit
        # deferred BEGIN, so write transactions can take the lock up front.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA busy_timeout = 30000")
            _set_wal(cur)
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA synchronous = FULL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get("pa_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
