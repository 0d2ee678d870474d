"""The transactional records store: survey instruments, responses, answers and their audit trail.

One SQLAlchemy :data:`metadata` holds every table of the toolkit's store, so that
other areas (partnership records in :mod:`partner_analysis.records.tables`) add
their tables to the same database and :class:`Store` creates them all.

SQLite (a single file) is the default; any SQLAlchemy URL (PostgreSQL) works too.
Every SQLite connection runs in WAL mode with a busy timeout and foreign keys on;
write transactions start with ``BEGIN IMMEDIATE`` so concurrent writers queue on
the busy timeout instead of failing when a read lock cannot be upgraded.

Answer values are stored as JSON text: lists for ``select_multiple``, ISO
``YYYY-MM-DD`` strings for dates, numbers for integer/decimal items.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import decimal
import hashlib
import importlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from . import store_schema
from .exceptions import StoreError, StoreSchemaError

__all__ = [
    "metadata", "table_names",
    "instruments",
    "partnerships",
    "respondents",
    "response_sets",
    "answers",
    "answer_audit",
    "Store",
    "resolve_db_url",
    "mask_url",
    "default_store_path",
    "move_legacy_store",
    "STORE_FOLDER",
    "STORE_FILE",
    "StoreSchemaError",
    "encode_value",
    "decode_value",
    "ROLES",
    "STATUSES",
]

#: every table of the records store, the records helper's tables included
metadata = sa.MetaData()


def table_names() -> set[str]:
    """Names of every table the code defines on :data:`metadata` (the area modules' included)."""
    return {t.name for t in metadata.sorted_tables}

ROLES = ("district", "partner")
STATUSES = ("draft", "submitted")

#: modules that define more tables on :data:`metadata`; imported by :class:`Store` when present
_TABLE_MODULES = ("partner_analysis.records.tables", "partner_analysis.access.tables")

_TS = sa.DateTime(timezone=True)

#: key of the PostgreSQL advisory lock that serialises the store's write transactions (any fixed bigint)
_PG_WRITE_LOCK = 0x7061_5374_6F72_65   # "paStore"

instruments = sa.Table(
    "instruments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("form_id", sa.String(200), nullable=False),
    sa.Column("version", sa.String(50), nullable=False),
    sa.Column("title", sa.Text),
    sa.Column("source_path", sa.Text),
    sa.Column("sha256", sa.String(64)),
    sa.Column("registered_at", _TS, nullable=False),
    sa.UniqueConstraint("form_id", "version", name="uq_instruments_form_version"),
)

partnerships = sa.Table(
    "partnerships", metadata,
    sa.Column("partner_id", sa.String(100), primary_key=True),
    sa.Column("name", sa.Text),
)

respondents = sa.Table(
    "respondents", metadata,
    sa.Column("respondent_id", sa.String(200), primary_key=True),
    sa.Column("partner_id", sa.String(100), sa.ForeignKey("partnerships.partner_id"), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("name", sa.Text),
    sa.Column("email", sa.Text),
    sa.CheckConstraint("role IN ('district', 'partner')", name="ck_respondents_role"),
)

response_sets = sa.Table(
    "response_sets", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("form_id", sa.String(200), nullable=False),
    sa.Column("version", sa.String(50), nullable=False),
    sa.Column("partner_id", sa.String(100), sa.ForeignKey("partnerships.partner_id"), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("respondent", sa.String(200), nullable=False),
    sa.Column("wave", sa.String(50), nullable=False, default="annual"),
    sa.Column("status", sa.String(20), nullable=False, default="draft"),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.Column("submitted_at", _TS),
    # A client-chosen token makes a retried "start"/"submit" idempotent: a second request with the
    # same token finds the first response set instead of creating a duplicate.
    sa.Column("client_token", sa.String(200), unique=True),
    sa.CheckConstraint("role IN ('district', 'partner')", name="ck_response_sets_role"),
    sa.CheckConstraint("status IN ('draft', 'submitted')", name="ck_response_sets_status"),
    sa.Index("ix_response_sets_lookup", "form_id", "version", "partner_id", "role", "respondent", "wave"),
)

answers = sa.Table(
    "answers", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("response_id", sa.Integer, sa.ForeignKey("response_sets.id", ondelete="CASCADE"), nullable=False),
    sa.Column("item", sa.String(200), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.UniqueConstraint("response_id", "item", name="uq_answers_response_item"),
)

answer_audit = sa.Table(
    "answer_audit", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("response_id", sa.Integer, sa.ForeignKey("response_sets.id", ondelete="CASCADE"), nullable=False),
    sa.Column("item", sa.String(200), nullable=False),
    sa.Column("old_value", sa.Text),
    sa.Column("new_value", sa.Text),
    sa.Column("editor", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("changed_at", _TS, nullable=False),
)

_LONG_COLUMNS = ["response_id", "form_id", "version", "partner_id", "role", "respondent", "wave", "status",
                 "item", "value", "submitted_at"]
_META_COLUMNS = ["response_id", "form_id", "version", "partner_id", "role", "respondent", "wave", "status",
                 "submitted_at"]


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


# -- values ----------------------------------------------------------------------------------------

def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (_dt.datetime,)):
        return value.isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    # numpy scalars and pandas timestamps have .item() / .isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return _jsonable(value.item())
    raise StoreError(f"cannot store a value of type {type(value).__name__} ({value!r}); "
                     "store strings, numbers, dates or lists of those")


def encode_value(value: Any) -> str:
    """JSON text for one answer value (lists for multi-choice, ISO strings for dates)."""
    return json.dumps(_jsonable(value), ensure_ascii=False, sort_keys=True)


def decode_value(text: str | None) -> Any:
    """Inverse of :func:`encode_value` (dates come back as ISO strings)."""
    if text is None:
        return None
    return json.loads(text)


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str) and value.strip() == "":
        return True
    if isinstance(value, (list, tuple, set, frozenset)) and len(value) == 0:
        return True
    return False


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
        for name in _TABLE_MODULES:
            try:
                found = importlib.util.find_spec(name) is not None
            except ModuleNotFoundError:
                found = False
            if found:
                importlib.import_module(name)
        if not check_schema:
            return
        if not create:
            self._check_tables()
            with self._read() as conn:
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
        # The survey tables are the store's own; tables of other areas may legitimately be added later.
        core = {t.name for t in (instruments, partnerships, respondents, response_sets, answers, answer_audit)}
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
    def _read(self) -> Iterator[sa.Connection]:
        with self._errors("read"):
            with self.engine.connect() as conn:
                yield conn

    # -- instruments and partnerships --------------------------------------------------------------

    def register_instrument(self, instrument: Any, source_path: str | os.PathLike | None = None) -> int:
        """Record an instrument version (idempotent).

        Parameters
        ----------
        instrument
            Anything with ``form_id``, ``version`` and ``title`` (a :class:`fit.instrument.Instrument`).
        source_path : path, optional
            The XLSForm file; its SHA-256 is stored so a changed file under an unchanged version is caught.

        Returns
        -------
        int
            The instrument row id.

        Raises
        ------
        StoreError
            When the same form_id and version were registered from a different file.
        """
        form_id, version = str(instrument.form_id), str(instrument.version)
        title = getattr(instrument, "title", None)
        if source_path is None:
            source_path = getattr(instrument, "source_path", None) or getattr(instrument, "path", None)
        sha = None
        if source_path is not None and Path(source_path).is_file():
            sha = hashlib.sha256(Path(source_path).read_bytes()).hexdigest()
        with self.transaction() as conn:
            row = conn.execute(sa.select(instruments).where(instruments.c.form_id == form_id,
                                                            instruments.c.version == version)).mappings().first()
            if row is not None:
                if sha and row["sha256"] and row["sha256"] != sha:
                    raise StoreError(
                        f"instrument '{form_id}' version {version} is already registered from a different file "
                        f"({row['source_path']}). Increase `version` in the settings sheet when you change "
                        "the form, so answers to the two wordings are never mixed")
                return int(row["id"])
            result = conn.execute(instruments.insert().values(
                form_id=form_id, version=version, title=title,
                source_path=None if source_path is None else str(source_path), sha256=sha,
                registered_at=_now()))
            return int(result.inserted_primary_key[0])

    def instruments_frame(self) -> pd.DataFrame:
        """Registered instruments: id, form_id, version, title, source_path, sha256, registered_at."""
        with self._read() as conn:
            rows = conn.execute(sa.select(instruments).order_by(instruments.c.id)).mappings().all()
        return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in instruments.columns])

    def upsert_partnership(self, partner_id: str, name: str | None = None) -> None:
        """Create a partnership, or set its name when ``name`` is given."""
        partner_id = _check_id("partner_id", partner_id)
        with self.transaction() as conn:
            self._ensure_partnership(conn, partner_id, name)

    @staticmethod
    def _ensure_partnership(conn: sa.Connection, partner_id: str, name: str | None = None) -> None:
        row = conn.execute(sa.select(partnerships.c.name).where(partnerships.c.partner_id == partner_id)).first()
        if row is None:
            conn.execute(partnerships.insert().values(partner_id=partner_id, name=name))
        elif name is not None and row[0] != name:
            conn.execute(partnerships.update().where(partnerships.c.partner_id == partner_id).values(name=name))

    def partnerships_frame(self) -> pd.DataFrame:
        """Partnerships: partner_id, name (sorted by partner_id)."""
        with self._read() as conn:
            rows = conn.execute(sa.select(partnerships).order_by(partnerships.c.partner_id)).all()
        return pd.DataFrame([tuple(r) for r in rows], columns=["partner_id", "name"])

    def upsert_respondent(self, respondent_id: str, partner_id: str, role: str, *, name: str | None = None,
                          email: str | None = None) -> None:
        """Create or update a respondent (names and emails are optional and never exported)."""
        respondent_id = _check_id("respondent_id", respondent_id)
        partner_id = _check_id("partner_id", partner_id)
        _check_role(role)
        with self.transaction() as conn:
            self._ensure_partnership(conn, partner_id)
            exists = conn.execute(sa.select(respondents.c.respondent_id)
                                  .where(respondents.c.respondent_id == respondent_id)).first()
            values = dict(partner_id=partner_id, role=role, name=name, email=email)
            if exists is None:
                conn.execute(respondents.insert().values(respondent_id=respondent_id, **values))
            else:
                conn.execute(respondents.update().where(respondents.c.respondent_id == respondent_id)
                             .values(**values))

    # -- responses ---------------------------------------------------------------------------------

    def open_response(self, form_id: str, version: str, partner_id: str, role: str, respondent: str, *,
                      wave: str = "annual", client_token: str | None = None) -> int:
        """Return the id of this respondent's draft, creating it when there is none.

        Parameters
        ----------
        form_id, version : str
            The instrument (``Instrument.form_id``, ``Instrument.version``).
        partner_id : str
            The partnership; created in ``partnerships`` when new.
        role : {"district", "partner"}
        respondent : str
            Who answers (a name, an email or an opaque id).
        wave : str
            Survey round, e.g. ``"annual"`` or ``"2025-26"``.
        client_token : str, optional
            Idempotency key: when a response set with this token exists (draft or submitted), its id is
            returned and nothing is created.

        Returns
        -------
        int
            The response id.
        """
        partner_id = _check_id("partner_id", partner_id)
        respondent = _check_id("respondent", respondent)
        _check_role(role)
        form_id, version, wave = str(form_id), str(version), str(wave)
        with self.transaction() as conn:
            if client_token is not None:
                row = conn.execute(sa.select(response_sets.c.id)
                                   .where(response_sets.c.client_token == client_token)).first()
                if row is not None:
                    return int(row[0])
            row = conn.execute(
                sa.select(response_sets.c.id).where(
                    response_sets.c.form_id == form_id, response_sets.c.version == version,
                    response_sets.c.partner_id == partner_id, response_sets.c.role == role,
                    response_sets.c.respondent == respondent, response_sets.c.wave == wave,
                    response_sets.c.status == "draft").order_by(response_sets.c.id.desc())).first()
            if row is not None:
                return int(row[0])
            self._ensure_partnership(conn, partner_id)
            now = _now()
            result = conn.execute(response_sets.insert().values(
                form_id=form_id, version=version, partner_id=partner_id, role=role, respondent=respondent,
                wave=wave, status="draft", created_at=now, updated_at=now, client_token=client_token))
            return int(result.inserted_primary_key[0])

    def response(self, response_id: int) -> dict:
        """The response set's metadata as a dict (id, form_id, version, ..., status, submitted_at)."""
        with self._read() as conn:
            return self._response_row(conn, response_id)

    @staticmethod
    def _response_row(conn: sa.Connection, response_id: int) -> dict:
        row = conn.execute(sa.select(response_sets).where(response_sets.c.id == int(response_id))).mappings().first()
        if row is None:
            raise StoreError(f"response {response_id} does not exist in the records store. Open one with "
                             "open_response()")
        return dict(row)

    def get_answers(self, response_id: int) -> dict[str, Any]:
        """Current answers of one response as ``{item: value}`` (decoded JSON)."""
        with self._read() as conn:
            self._response_row(conn, response_id)
            return self._answers_of(conn, response_id)

    @staticmethod
    def _answers_of(conn: sa.Connection, response_id: int) -> dict[str, Any]:
        rows = conn.execute(sa.select(answers.c.item, answers.c.value)
                            .where(answers.c.response_id == int(response_id)).order_by(answers.c.id)).all()
        return {item: decode_value(value) for item, value in rows}

    def save_answer(self, response_id: int, item: str, value: Any) -> None:
        """Autosave one answer of a draft in its own transaction (``None`` or empty clears it).

        Raises
        ------
        StoreError
            When the response does not exist or is already submitted (use :meth:`edit_submitted`).
        """
        item = _check_id("item", item)
        with self.transaction() as conn:
            row = self._response_row(conn, response_id)
            if row["status"] != "draft":
                raise StoreError(f"response {response_id} was submitted on {row['submitted_at']}; it is read-only. "
                                 "Correct it with edit_submitted(..., editor=, reason=) so the change is audited")
            now = _now()
            self._write_answer(conn, int(response_id), item, value, now)
            conn.execute(response_sets.update().where(response_sets.c.id == int(response_id))
                         .values(updated_at=now))

    def _write_answer(self, conn: sa.Connection, response_id: int, item: str, value: Any,
                      now: _dt.datetime) -> tuple[str | None, str | None]:
        """Upsert or delete one answer; returns (old JSON, new JSON)."""
        old = conn.execute(sa.select(answers.c.value).where(answers.c.response_id == response_id,
                                                            answers.c.item == item)).first()
        old_text = None if old is None else old[0]
        if _is_empty(value):
            if old is not None:
                conn.execute(answers.delete().where(answers.c.response_id == response_id, answers.c.item == item))
            return old_text, None
        text = encode_value(value)
        if old is None:
            conn.execute(answers.insert().values(response_id=response_id, item=item, value=text, updated_at=now))
        elif old_text != text:
            conn.execute(answers.update().where(answers.c.response_id == response_id, answers.c.item == item)
                         .values(value=text, updated_at=now))
        return old_text, text

    def submit(self, response_id: int, answers: Mapping[str, Any] | None = None, *,
               validator: Callable[[dict], Sequence] | None = None) -> int:
        """Submit a draft in one transaction.

        Parameters
        ----------
        response_id : int
        answers : mapping, optional
            The final answers. When given they replace the stored ones exactly: items absent (or empty)
            here are deleted, which is how answers to questions hidden by skip logic are cleared.
        validator : callable, optional
            Called with the final ``{item: value}``; a non-empty sequence of problems (strings or
            ``(item, message)`` pairs) refuses the submission and rolls everything back.

        Returns
        -------
        int
            ``response_id``. Submitting an already submitted response returns it unchanged
            (a retried click must not fail or duplicate).

        Raises
        ------
        StoreError
            Unknown response, or the validator found problems (``.problems`` holds them).
        """
        with self.transaction() as conn:
            row = self._response_row(conn, response_id)
            if row["status"] == "submitted":
                return int(response_id)
            now = _now()
            if answers is not None:
                keep = {str(k): v for k, v in answers.items() if not _is_empty(v)}
                stored = self._answers_of(conn, response_id)
                for item in stored:
                    if item not in keep:
                        self._write_answer(conn, int(response_id), item, None, now)
                for item, value in keep.items():
                    self._write_answer(conn, int(response_id), item, value, now)
            final = self._answers_of(conn, response_id)
            if validator is not None:
                problems = list(validator(final) or [])
                if problems:
                    text = "; ".join(f"{p[0]}: {p[1]}" if isinstance(p, (tuple, list)) else str(p)
                                     for p in problems[:10])
                    err = StoreError(f"response {response_id} cannot be submitted: {text}. Answer these "
                                     "questions and submit again")
                    err.problems = problems
                    raise err
            conn.execute(response_sets.update().where(response_sets.c.id == int(response_id))
                         .values(status="submitted", submitted_at=now, updated_at=now))
        return int(response_id)

    def edit_submitted(self, response_id: int, item: str, value: Any, *, editor: str, reason: str) -> None:
        """Correct one answer of a submitted response, leaving an ``answer_audit`` row.

        Raises
        ------
        StoreError
            When the response is still a draft (use :meth:`save_answer`), or editor/reason are empty.
        """
        item = _check_id("item", item)
        if not str(editor or "").strip() or not str(reason or "").strip():
            raise StoreError("an edit of a submitted response needs `editor` and `reason` (both non-empty), "
                             "so the audit trail says who changed what and why")
        with self.transaction() as conn:
            row = self._response_row(conn, response_id)
            if row["status"] != "submitted":
                raise StoreError(f"response {response_id} is a draft; change it with save_answer()")
            now = _now()
            old, new = self._write_answer(conn, int(response_id), item, value, now)
            if old == new:
                return
            conn.execute(answer_audit.insert().values(
                response_id=int(response_id), item=item, old_value=old, new_value=new, editor=str(editor),
                reason=str(reason), changed_at=now))
            conn.execute(response_sets.update().where(response_sets.c.id == int(response_id))
                         .values(updated_at=now))

    def edit_submitted_many(self, response_id: int, changes: Mapping[str, Any], *, editor: str, reason: str,
                            validator: Callable[[dict], Sequence] | None = None) -> list[dict]:
        """Correct several answers of a submitted response in one transaction, all or nothing.

        Parameters
        ----------
        response_id : int
        changes : mapping
            ``{item: new value}``; ``None`` or an empty value clears the answer (how answers to
            questions hidden by skip logic are removed). Items whose value does not change are skipped
            and leave no audit row.
        editor, reason : str
            Who corrects and why; both must be non-empty and are written to every audit row.
        validator : callable, optional
            Called inside the transaction with the would-be final ``{item: value}``; a non-empty
            sequence of problems (strings or ``(item, message)`` pairs) rolls every change back, so a
            correction can never leave a submitted response invalid.

        Returns
        -------
        list of dict
            One ``{"item", "old_value", "new_value"}`` (decoded) per audit row written, in ``changes``
            order; empty when nothing changed (then nothing is written, not even ``updated_at``).

        Raises
        ------
        StoreError
            Unknown response, a draft (use :meth:`save_answer`), empty editor/reason, a bad item key,
            or the validator found problems (``.problems`` holds them; nothing was changed).

        Notes
        -----
        The response stays ``submitted`` and keeps its ``submitted_at``; ``updated_at`` becomes the time
        of the correction, which is also the ``changed_at`` of its audit rows.
        """
        if not str(editor or "").strip() or not str(reason or "").strip():
            raise StoreError("a correction of a submitted response needs `editor` and `reason` (both non-empty), "
                             "so the audit trail says who changed what and why")
        items = {_check_id("item", k): v for k, v in dict(changes).items()}
        written: list[dict] = []
        with self.transaction() as conn:
            row = self._response_row(conn, response_id)
            if row["status"] != "submitted":
                raise StoreError(f"response {response_id} is a draft; change it with save_answer()")
            now = _now()
            for item, value in items.items():
                old, new = self._write_answer(conn, int(response_id), item, value, now)
                if old != new:
                    written.append({"item": item, "old_value": old, "new_value": new})
            if not written:
                return []
            if validator is not None:
                problems = list(validator(self._answers_of(conn, response_id)) or [])
                if problems:
                    text = "; ".join(f"{p[0]}: {p[1]}" if isinstance(p, (tuple, list)) else str(p)
                                     for p in problems[:10])
                    err = StoreError(f"response {response_id} was not corrected: {text}. Nothing was changed; "
                                     "fix these answers and save again")
                    err.problems = problems
                    raise err    # rolls back every change of this call
            conn.execute(answer_audit.insert(), [
                dict(response_id=int(response_id), item=w["item"], old_value=w["old_value"],
                     new_value=w["new_value"], editor=str(editor), reason=str(reason), changed_at=now)
                for w in written])
            conn.execute(response_sets.update().where(response_sets.c.id == int(response_id))
                         .values(updated_at=now))
        return [{"item": w["item"], "old_value": decode_value(w["old_value"]),
                 "new_value": decode_value(w["new_value"])} for w in written]

    def find_submitted(self, form_id: str, version: str, partner_id: str, role: str, respondent: str, *,
                       wave: str = "annual") -> int | None:
        """The id of this respondent's latest submitted response in ``wave`` (``None`` when there is none).

        The same keys as :meth:`open_response`; a returning respondent's form uses it to open the
        submitted answers for correction instead of starting a second response in the same wave.
        """
        with self._read() as conn:
            row = conn.execute(
                sa.select(response_sets.c.id).where(
                    response_sets.c.form_id == str(form_id), response_sets.c.version == str(version),
                    response_sets.c.partner_id == str(partner_id), response_sets.c.role == role,
                    response_sets.c.respondent == str(respondent), response_sets.c.wave == str(wave),
                    response_sets.c.status == "submitted").order_by(response_sets.c.id.desc())).first()
        return None if row is None else int(row[0])

    def audit_frame(self, response_id: int | None = None) -> pd.DataFrame:
        """Audit rows: response_id, item, old_value, new_value (decoded; ``None`` = no answer), editor, reason,
        changed_at."""
        query = sa.select(answer_audit).order_by(answer_audit.c.id)
        if response_id is not None:
            query = query.where(answer_audit.c.response_id == int(response_id))
        with self._read() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        for r in rows:
            r["old_value"] = decode_value(r["old_value"])
            r["new_value"] = decode_value(r["new_value"])
        cols = ["response_id", "item", "old_value", "new_value", "editor", "reason", "changed_at"]
        frame = pd.DataFrame(rows, columns=["id"] + cols)[cols]
        for col in ("old_value", "new_value"):
            # None (no answer before / answer cleared) stays None, not NaN
            frame[col] = pd.Series([r[col] for r in rows], index=frame.index, dtype=object)
        return frame

    # -- exports -----------------------------------------------------------------------------------

    def _select_long(self, form_id, partner_id, status, wave, role):
        rs, an = response_sets, answers
        query = (sa.select(rs.c.id.label("response_id"), rs.c.form_id, rs.c.version, rs.c.partner_id, rs.c.role,
                           rs.c.respondent, rs.c.wave, rs.c.status, an.c.item, an.c.value, rs.c.submitted_at)
                 .select_from(rs.join(an, an.c.response_id == rs.c.id))
                 .order_by(rs.c.id, an.c.id))
        return self._filter(query, form_id, partner_id, status, wave, role)

    @staticmethod
    def _filter(query, form_id, partner_id, status, wave, role):
        rs = response_sets
        if status is not None:
            _check_choice("status", status, STATUSES)
            query = query.where(rs.c.status == status)
        if form_id is not None:
            query = query.where(rs.c.form_id == str(form_id))
        if partner_id is not None:
            ids = [partner_id] if isinstance(partner_id, str) else [str(p) for p in partner_id]
            query = query.where(rs.c.partner_id.in_(ids))
        if wave is not None:
            query = query.where(rs.c.wave == str(wave))
        if role is not None:
            _check_role(role)
            query = query.where(rs.c.role == role)
        return query

    def answers_long(self, form_id: str | None = None, partner_id: str | Sequence[str] | None = None,
                     status: str | None = "submitted", *, wave: str | None = None,
                     role: str | None = None) -> pd.DataFrame:
        """Answers, one row per response × item.

        Parameters
        ----------
        form_id, partner_id, wave, role : optional filters (``partner_id`` may be a list)
        status : {"submitted", "draft", None}
            ``None`` returns both.

        Returns
        -------
        DataFrame
            response_id (int), form_id, version, partner_id, role, respondent, wave, status, item,
            value (decoded: str for choices, list for multi-choice, number, ISO date string),
            submitted_at (UTC timestamp, NaT for drafts).
        """
        with self._read() as conn:
            rows = conn.execute(self._select_long(form_id, partner_id, status, wave, role)).all()
        frame = pd.DataFrame([tuple(r) for r in rows], columns=_LONG_COLUMNS)
        frame["value"] = pd.Series([decode_value(v) for v in frame["value"]], index=frame.index, dtype=object)
        frame["response_id"] = frame["response_id"].astype("int64")
        frame["submitted_at"] = _utc(frame["submitted_at"])
        return frame

    def answers_wide(self, form_id: str | None = None, partner_id: str | Sequence[str] | None = None,
                     status: str | None = "submitted", *, wave: str | None = None,
                     role: str | None = None) -> pd.DataFrame:
        """Answers, one row per response and one column per item (plus the version column).

        Returns
        -------
        DataFrame
            response_id, form_id, version, partner_id, role, respondent, wave, status, submitted_at, then
            one column per item in first-answered order (missing answers are ``None``). Responses with no
            answers still get a row.
        """
        long = self.answers_long(form_id, partner_id, status, wave=wave, role=role)
        query = self._filter(sa.select(response_sets).order_by(response_sets.c.id), form_id, partner_id, status,
                             wave, role)
        with self._read() as conn:
            meta_rows = [dict(r) for r in conn.execute(query).mappings()]
        meta = pd.DataFrame(meta_rows, columns=[c.name for c in response_sets.columns]).rename(
            columns={"id": "response_id"})[_META_COLUMNS]
        meta["response_id"] = meta["response_id"].astype("int64")
        meta["submitted_at"] = _utc(meta["submitted_at"])
        items = list(dict.fromkeys(long["item"]))
        cells: dict[int, dict[str, Any]] = {}
        for rid, item, value in zip(long["response_id"], long["item"], long["value"]):
            cells.setdefault(int(rid), {})[item] = value
        for item in items:
            meta[item] = pd.Series([cells.get(int(rid), {}).get(item) for rid in meta["response_id"]],
                                   index=meta.index, dtype=object)
        return meta


def _utc(series: pd.Series) -> pd.Series:
    if len(series) == 0:
        return pd.Series(pd.to_datetime([], utc=True), index=series.index)
    return pd.to_datetime(series, utc=True)


def _check_id(name: str, value: Any) -> str:
    if value is None or str(value).strip() == "":
        raise StoreError(f"`{name}` must be a non-empty string, but {value!r} was passed")
    if not isinstance(value, str):
        # Ids are strings so that leading zeros survive ("0101"); refuse numbers instead of guessing.
        raise StoreError(f"`{name}` must be a string (ids keep leading zeros), but {value!r} "
                         f"({type(value).__name__}) was passed")
    return value


def _check_role(role: Any) -> None:
    _check_choice("role", role, ROLES)


def _check_choice(name: str, value: Any, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise StoreError(f"The value for `{name}` must be one of {list(allowed)}, but {value!r} was passed")


def _configure_sqlite(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy's "begin" hook below issue BEGIN itself, instead of pysqlite's implicit
        # deferred BEGIN, so write transactions can take the lock up front.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA busy_timeout = 30000")
            cur.execute("PRAGMA journal_mode = WAL")
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
