"""A throw-away PostgreSQL server for the tests (fixtures ``pg_server``, ``pg_url``, ``pg_fresh_url``).

Where the server comes from, in order:

1. ``PA_TEST_PG_URL`` (an SQLAlchemy URL of a server where the user may ``CREATE DATABASE``);
2. Debian's server binaries (``/usr/lib/postgresql/<version>/bin/initdb`` and ``pg_ctl``, package
   ``postgresql``): a temporary cluster is created in a temporary folder, listens on 127.0.0.1 and a
   free port only (Unix socket inside that folder), trusts local connections, runs without fsync,
   and is stopped and deleted when the test session ends. initdb refuses to run as root, so as root
   the cluster belongs to the ``postgres`` system user (``runuser -u postgres --``, else ``su``);
3. otherwise the tests that need PostgreSQL are skipped with the reason, or fail when
   ``PA_REQUIRE_POSTGRES=1`` (CI sets it, so PostgreSQL coverage cannot silently disappear).

Under pytest-xdist every worker is its own process and session, so it starts its own small cluster
(under a second) and uses its own database name (``pa_test_<worker>_<pid>``), which also keeps
workers apart on a shared ``PA_TEST_PG_URL`` server.
"""
from __future__ import annotations

import atexit
import glob
import importlib.util
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
PG_SYSTEM_USER = "postgres"
_START_TIMEOUT = 60
#: seconds each temporary cluster of this process took from mkdtemp to accepting connections
STARTUP_SECONDS: list[float] = []


def _unavailable(reason: str):
    msg = f"PostgreSQL tests not run: {reason}"
    if os.environ.get("PA_REQUIRE_POSTGRES") == "1":
        pytest.fail(msg + " (PA_REQUIRE_POSTGRES=1 demands them)", pytrace=False)
    pytest.skip(msg)


def _bindir() -> Path | None:
    """The newest Debian PostgreSQL bin folder holding both initdb and pg_ctl."""
    found = []
    for d in glob.glob(PG_BIN_GLOB):
        path = Path(d)
        if (path / "initdb").is_file() and (path / "pg_ctl").is_file():
            try:
                found.append((int(path.parent.name), path))
            except ValueError:
                found.append((0, path))
    return max(found)[1] if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


class TempCluster:
    """initdb + pg_ctl in a temporary folder; :meth:`stop` removes everything."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        self.port: int | None = None
        self.base: Path | None = None
        self.started_in: float | None = None
        # only the process that started the cluster stops it (not a forked test worker exiting)
        self.owner_pid = os.getpid()
        if self.as_root:
            try:
                self.pw = pwd.getpwnam(PG_SYSTEM_USER)
            except KeyError:
                _unavailable(f"running as root and there is no '{PG_SYSTEM_USER}' system user to own a cluster")

    def _cmd(self, *args: str) -> list[str]:
        if not self.as_root:
            return list(args)
        if shutil.which("runuser"):
            return ["runuser", "-u", PG_SYSTEM_USER, "--", *args]
        return ["su", PG_SYSTEM_USER, "-s", "/bin/sh", "-c", shlex.join(args)]

    def _run(self, *args: str, timeout: float = _START_TIMEOUT) -> subprocess.CompletedProcess:
        # cwd inside the cluster folder: the postgres user may not be allowed into the caller's cwd
        return subprocess.run(self._cmd(*args), cwd=self.base, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "LC_ALL": "C", "LANG": "C"})

    def start(self) -> str:
        t0 = time.monotonic()
        # /tmp rather than pytest's basetemp: the latter is private to the caller (0700), so the
        # postgres user could not reach a folder inside it.
        self.base = Path(tempfile.mkdtemp(prefix="pa-pg-", dir="/tmp" if self.as_root else None))
        atexit.register(self.stop)
        if self.as_root:
            os.chown(self.base, self.pw.pw_uid, self.pw.pw_gid)
        data = self.base / "data"
        r = self._run(str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                      "-E", "UTF8", "--locale=C", "--no-sync")
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed ({r.returncode}): {r.stderr.strip() or r.stdout.strip()}")
        last = ""
        for _attempt in range(3):           # a free port can be taken between choosing and binding it
            self.port = _free_port()
            opts = (f"-F -p {self.port} -c listen_addresses=127.0.0.1 -k {self.base} "
                    "-c full_page_writes=off -c synchronous_commit=off -c max_connections=60")
            r = self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.base / "server.log"),
                          "-o", opts, "-w", "-t", str(_START_TIMEOUT), "-s", "start")
            if r.returncode == 0:
                self.started_in = time.monotonic() - t0
                return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
            log = self.base / "server.log"
            last = (r.stderr.strip() + "\n" + (log.read_text(errors="replace")[-2000:] if log.exists() else ""))
        raise RuntimeError(f"pg_ctl could not start the test cluster: {last}")

    def stop(self) -> None:
        if self.base is None or not self.base.exists() or os.getpid() != self.owner_pid:
            return
        data = self.base / "data"
        if (data / "postmaster.pid").exists():
            r = self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "30", "-s",
                          "stop")
            if r.returncode != 0:
                self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "-s", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


def _admin_engine(url: str):
    import sqlalchemy as sa
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _create_database(admin_url: str, name: str) -> str:
    import sqlalchemy as sa
    engine = _admin_engine(admin_url)
    try:
        with engine.connect() as conn:
            _drop(conn, name)
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    return sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop(conn, name: str) -> None:
    from sqlalchemy.exc import DBAPIError
    try:
        # FORCE (PostgreSQL 13+) ends sessions a failed test left open
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except DBAPIError:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')


def _drop_database(admin_url: str, name: str) -> None:
    engine = _admin_engine(admin_url)
    try:
        with engine.connect() as conn:
            _drop(conn, name)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_server():
    """URL of a PostgreSQL server's ``postgres`` database, for creating and dropping test databases."""
    if importlib.util.find_spec("psycopg") is None:
        _unavailable("the driver psycopg is not installed (pip install -e '.[postgres]'; `make test` does)")
    given = os.environ.get("PA_TEST_PG_URL", "").strip()
    if given:
        yield given
        return
    bindir = _bindir()
    if bindir is None:
        _unavailable(f"no PA_TEST_PG_URL and no PostgreSQL server binaries ({PG_BIN_GLOB}/initdb, pg_ctl); "
                     "install them with `apt-get install postgresql` or set "
                     "PA_TEST_PG_URL=postgresql+psycopg://user@host:port/db")
    cluster = TempCluster(bindir)
    try:
        url = cluster.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as err:
        cluster.stop()
        _unavailable(f"could not start a temporary cluster with {bindir}: {err}")
    STARTUP_SECONDS.append(cluster.started_in)
    try:
        yield url
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_url(pg_server):
    """A PostgreSQL database of this test session (one per xdist worker), dropped at the end."""
    name = f"pa_test_{_worker()}_{os.getpid()}"
    url = _create_database(pg_server, name)
    try:
        yield url
    finally:
        _drop_database(pg_server, name)


@pytest.fixture
def pg_fresh_url(pg_server):
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"pa_t_{_worker()}_{uuid.uuid4().hex[:10]}"
    url = _create_database(pg_server, name)
    try:
        yield url
    finally:
        _drop_database(pg_server, name)
