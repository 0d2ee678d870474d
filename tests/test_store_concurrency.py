"""The store under concurrent writers and under ``kill -9`` (SQLite, WAL)."""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from partner_analysis.store import Store
from partner_analysis.fit import responses

pytestmark = pytest.mark.slow

FORM, VERSION = "partner_fit", "2025090101"
ITEMS = {"q1": "4", "q2": ["email", "meet"], "q3": 12, "q4": "2025-09-01"}
WORKERS, PER_WORKER = 8, 100


def _worker(db: str, worker: int, n: int, out) -> None:
    store = Store(db)
    try:
        for i in range(n):
            token = f"w{worker}-{i}"
            rid = responses.open_response(store, FORM, VERSION, f"P0{worker % 4 + 1}", ("district", "partner")[i % 2],
                                      token, client_token=token)
            for item, value in ITEMS.items():
                responses.save_answer(store, rid, item, value)
            responses.submit(store, rid, validator=lambda a: [] if set(a) == set(ITEMS) else ["incomplete"])
        out.put((worker, "ok"))
    except BaseException as err:  # noqa: BLE001 - report any failure to the parent
        out.put((worker, f"{type(err).__name__}: {err}"))
    finally:
        store.close()


def _open_fresh(db: str, i: int) -> int:
    """Open a store (SQLite path or any URL), start and submit one response; also used by the PostgreSQL tests."""
    store = Store(db)
    try:
        rid = responses.open_response(store, FORM, VERSION, "P01", "district", f"fresh-{i}")
        responses.submit(store, rid)
        return rid
    finally:
        store.close()


def test_processes_creating_the_database_at_once(tmp_path):
    # table creation runs inside BEGIN IMMEDIATE, so eight first-time opens do not race on CREATE TABLE
    db = str(tmp_path / "fresh.sqlite")
    with mp.get_context("fork").Pool(8) as pool:
        ids = pool.starmap(_open_fresh, [(db, i) for i in range(8)])
    assert sorted(ids) == list(range(1, 9))


def _integrity(db) -> str:
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def test_concurrent_submissions(tmp_path):
    db = str(tmp_path / "records.sqlite")
    Store(db).close()                       # create tables before the workers race for it
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(db, w, PER_WORKER, out)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    results = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sorted(results) == [(w, "ok") for w in range(WORKERS)]
    assert all(p.exitcode == 0 for p in procs)

    store = Store(db)
    wide = responses.answers_wide(store, form_id=FORM)
    assert len(wide) == WORKERS * PER_WORKER
    assert wide["respondent"].is_unique and wide["response_id"].is_unique
    assert set(wide["respondent"]) == {f"w{w}-{i}" for w in range(WORKERS) for i in range(PER_WORKER)}
    assert wide[list(ITEMS)].notna().all().all()
    assert (wide["q2"].map(tuple) == ("email", "meet")).all() and (wide["q3"] == 12).all()
    assert responses.answers_long(store, status="draft").empty
    assert len(responses.answers_long(store)) == WORKERS * PER_WORKER * len(ITEMS)
    store.close()
    assert _integrity(db) == "ok"


_CHILD = textwrap.dedent("""
    import sys
    from partner_analysis.fit import responses
    from partner_analysis.store import Store
    store = Store(sys.argv[1])
    i = 0
    while True:
        token = f"k-{i}"
        rid = responses.open_response(store, "partner_fit", "2025090101", "P01", "district", token, client_token=token)
        for item, value in {ITEMS!r}.items():
            responses.save_answer(store, rid, item, value)
        responses.submit(store, rid)
        # acknowledged only after the commit returned
        print(rid, flush=True)
        i += 1
""").replace("{ITEMS!r}", repr(ITEMS))


def test_kill_9_keeps_acknowledged_submissions(tmp_path):
    db = str(tmp_path / "records.sqlite")
    Store(db).close()
    child = subprocess.Popen([sys.executable, "-c", _CHILD, db], stdout=subprocess.PIPE, text=True,
                             cwd=tmp_path)
    acknowledged = []
    try:
        deadline = time.monotonic() + 60
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            acknowledged.append(int(line))
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        # anything printed before the kill was acknowledged too
        acknowledged += [int(x) for x in child.stdout.read().split()]
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 40

    assert _integrity(db) == "ok"
    store = Store(db)
    wide = responses.answers_wide(store, form_id=FORM).set_index("response_id")
    missing = set(acknowledged) - set(wide.index)
    assert not missing
    got = wide.loc[acknowledged]
    assert (got["status"] == "submitted").all()
    assert got[list(ITEMS)].notna().all().all()
    # at most one response (the one in flight at the kill) is left as a draft, and it is never "submitted"
    drafts = responses.answers_wide(store, form_id=FORM, status="draft")
    assert len(drafts) <= 1
    store.close()
