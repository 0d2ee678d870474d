"""The records store on a real PostgreSQL server: concurrent writers, first-open races, the survey form, read-only opens.

The server comes from tests/pg_fixture.py (PA_TEST_PG_URL, else a temporary local cluster); without
either these tests are skipped with the reason (they fail instead under PA_REQUIRE_POSTGRES=1, as in CI).
"""
from __future__ import annotations

import datetime as dt
import multiprocessing as mp

import pytest
import sqlalchemy as sa

from partner_analysis.cli import main
from partner_analysis.exceptions import StoreError
from partner_analysis.fit.form import survey_form
from partner_analysis.store import Store
from test_store_concurrency import _open_fresh
from test_survey_form import _fill_everything, _Instrument, _shipped_instrument
from partner_analysis.fit import responses

FORM, VERSION = "partner_fit", "2025090101"
ITEMS = {"q1": "4", "q2": ["email", "meet"], "q3": 12, "q4": "2025-09-01"}
WORKERS, PER_WORKER, SHARED_TOKENS = 6, 25, 8


def _count(url: str, sql: str):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(sql).all()
    finally:
        engine.dispose()


# -- concurrency -----------------------------------------------------------------------------------

def _writer(url: str, worker: int, out) -> None:
    store = Store(url)
    try:
        for i in range(PER_WORKER):
            token = f"w{worker}-{i}"
            # every worker starts with partners none of them created yet: the partnership insert races
            rid = responses.open_response(store, FORM, VERSION, f"P0{i % 4 + 1}", ("district", "partner")[i % 2], token,
                                      client_token=token)
            for item, value in ITEMS.items():
                responses.save_answer(store, rid, item, value)
            responses.submit(store, rid, validator=lambda a: [] if set(a) == set(ITEMS) else ["incomplete"])
            # a retried request (same token) finds the same response set and changes nothing
            assert responses.open_response(store, FORM, VERSION, "P01", "district", token, client_token=token) == rid
            assert responses.submit(store, rid) == rid
        # every worker also races for the same tokens (a double-clicked "start" from two tabs)
        for j in range(SHARED_TOKENS):
            responses.open_response(store, FORM, VERSION, "P09", "partner", f"shared-{j}", client_token=f"shared-{j}")
        out.put((worker, "ok"))
    except BaseException as err:  # noqa: BLE001 - report any failure to the parent
        out.put((worker, f"{type(err).__name__}: {err}"))
    finally:
        store.close()


@pytest.mark.slow
def test_concurrent_submissions_on_postgresql(pg_fresh_url):
    url = pg_fresh_url
    Store(url).close()
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, w, out)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    results = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sorted(results) == [(w, "ok") for w in range(WORKERS)]
    assert all(p.exitcode == 0 for p in procs)

    store = Store(url, create=False)
    try:
        wide = responses.answers_wide(store, status=None)
    finally:
        store.close()
    own = wide[~wide["respondent"].str.startswith("shared-")]
    # nothing lost, nothing duplicated: one submitted response set per (worker, i), each complete
    assert len(own) == WORKERS * PER_WORKER
    assert set(own["respondent"]) == {f"w{w}-{i}" for w in range(WORKERS) for i in range(PER_WORKER)}
    assert set(own["status"]) == {"submitted"}
    assert all(v == ["email", "meet"] for v in own["q2"]) and own["q3"].eq(12).all()
    assert _count(url, "SELECT count(*), count(DISTINCT response_id || ':' || item) FROM answers")[0] == (
        WORKERS * PER_WORKER * len(ITEMS),) * 2
    # the shared tokens: exactly one response set each, however many workers asked at once
    shared = wide[wide["respondent"].str.startswith("shared-")]
    assert sorted(shared["respondent"]) == sorted(f"shared-{j}" for j in range(SHARED_TOKENS))
    assert _count(url, "SELECT partner_id FROM partnerships ORDER BY 1") == [(f"P0{k}",) for k in (1, 2, 3, 4, 9)]


@pytest.mark.slow
def test_processes_creating_the_tables_at_once_on_postgresql(pg_fresh_url):
    # eight processes open an empty database at the same moment: CREATE TABLE must not race
    with mp.get_context("fork").Pool(8) as pool:
        ids = pool.starmap(_open_fresh, [(pg_fresh_url, i) for i in range(8)])
    assert sorted(ids) == list(range(1, 9))
    assert _count(pg_fresh_url, "SELECT count(*) FROM response_sets WHERE status = 'submitted'") == [(8,)]


# -- the survey form -------------------------------------------------------------------------------

def test_survey_form_fill_resume_submit_edit_on_postgresql(pg_fresh_url):
    store = Store(pg_fresh_url)
    form = survey_form(_Instrument(), store, partner_id="P03", role="district", respondent="ana@district.example")
    rid = form.response_id
    form.inputs["years"].value = "4"
    form.inputs["goals_shared"].value = "2"            # opens the required follow-up
    form.inputs["channels"].value = ("meet",)
    form.inputs["since"].value = dt.date(2019, 9, 1)
    form.submit_button.click()
    assert "Not submitted yet" in form.status.value
    assert responses.response(store, rid)["status"] == "draft"
    form.inputs["goals_why"].value = "Different hiring goals."
    store.close()

    # a new process' view: new store object, new form -> the draft resumes from PostgreSQL
    store2 = Store(pg_fresh_url)
    form2 = survey_form(_Instrument(), store2, partner_id="P03", role="district", respondent="ana@district.example")
    assert form2.response_id == rid
    assert form2.inputs["since"].value == dt.date(2019, 9, 1) and form2.inputs["channels"].value == ("meet",)
    form2.inputs["d_only"].value = "4"
    form2.inputs["goals_shared"].value = "5"           # hides goals_why: its answer is dropped on submit
    form2.inputs["hours"].value = "12.5"
    form2.submit_button.click()
    assert "Thank you" in form2.status.value
    row = responses.response(store2, rid)
    assert row["status"] == "submitted"
    assert row["submitted_at"].tzinfo is not None     # TIMESTAMP WITH TIME ZONE round trip
    long = responses.answers_long(store2, partner_id="P03")
    assert dict(zip(long["item"], long["value"])) == {"years": 4, "goals_shared": "5", "channels": ["meet"],
                                                      "since": "2019-09-01", "d_only": "4", "hours": 12.5}
    responses.edit_submitted(store2, rid, "hours", 10.0, editor="coordinator", reason="typo")
    assert responses.audit_frame(store2, rid)[["item", "old_value", "new_value"]].values.tolist() == [["hours", 12.5, 10.0]]
    store2.close()


def test_shipped_instrument_fills_and_submits_on_postgresql(pg_fresh_url):
    instrument = _shipped_instrument()
    store = Store(pg_fresh_url)
    try:
        form = survey_form(instrument, store, partner_id="P01", role="partner", respondent="tester")
        _fill_everything(form)
        form.submit_button.click()
        assert "Thank you" in form.status.value, form.status.value
        long = responses.answers_long(store, partner_id="P01", role="partner")
        assert len(long) == len(form.controller.final_answers()) > 0
        assert set(long["version"]) == {str(instrument.version)}
    finally:
        store.close()


# -- read-only opens -------------------------------------------------------------------------------

def test_read_only_open_of_an_empty_postgresql_database(pg_fresh_url, capsys):
    with pytest.raises(StoreError, match="no records store at .*has no records-store tables"):
        Store(pg_fresh_url, create=False)
    # the reading verb says so (exit 2, one line) and creates no table
    assert main(["survey", "score", "--db", pg_fresh_url]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no records store at postgresql+psycopg://") and len(err.splitlines()) == 1
    assert _count(pg_fresh_url, "SELECT count(*) FROM information_schema.tables "
                                "WHERE table_schema = 'public'") == [(0,)]
    Store(pg_fresh_url).close()                       # a writer creates the tables
    with Store(pg_fresh_url, create=False) as reader:
        assert responses.answers_long(reader).empty
    assert main(["survey", "score", "--db", pg_fresh_url]) == 0
    assert "no submitted answers" in capsys.readouterr().out


def test_session_database_is_this_workers_own(pg_url):
    # one database per test session / xdist worker: named after the worker, reachable, and writable
    name = sa.engine.make_url(pg_url).database
    assert name.startswith("pa_test_")
    with Store(pg_url) as store:
        rid = responses.open_response(store, FORM, VERSION, "P01", "district", f"session-{name}")
        responses.submit(store, rid)
        assert responses.response(store, rid)["status"] == "submitted"


# -- no server: skip with the reason, or fail when CI demands PostgreSQL -------------------------------

@pytest.mark.parametrize("require", ["", "1"])
def test_without_postgresql_the_tests_skip_or_fail(tmp_path, require):
    import os
    import subprocess
    import sys
    from pathlib import Path
    tests = Path(__file__).resolve().parent
    (tmp_path / "conftest.py").write_text(
        f"import sys\nsys.path.insert(0, {str(tests)!r})\nimport pg_fixture\n"
        "pg_fixture.PG_BIN_GLOB = '/nonexistent/postgresql/*/bin'\n"
        "from pg_fixture import pg_server, pg_url  # noqa: F401\n")
    (tmp_path / "test_needs_pg.py").write_text("def test_needs_pg(pg_url):\n    pass\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PA_TEST_PG_URL", "PA_REQUIRE_POSTGRES")}
    if require:
        env["PA_REQUIRE_POSTGRES"] = require
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rsE", "-p", "no:xdist", "-p", "no:cacheprovider",
                        str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    text = r.stdout + r.stderr
    assert "no PostgreSQL server binaries" in text and "apt-get install postgresql" in text, text
    if require:
        assert r.returncode != 0 and "1 error" in text and "PA_REQUIRE_POSTGRES=1" in text, text
    else:
        assert r.returncode == 0 and "1 skipped" in text, text
