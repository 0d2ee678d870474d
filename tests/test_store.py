"""Unit tests of the records store on SQLite and on PostgreSQL (tests/pg_fixture.py: PA_TEST_PG_URL or a
temporary local cluster; skipped with the reason when neither is available)."""
from __future__ import annotations

import datetime as dt
import pickle
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from partner_analysis.exceptions import StoreError
from partner_analysis.fit.responses import decode_value, encode_value
from partner_analysis.store import Store, resolve_db_url
from partner_analysis.fit import responses


@dataclass(frozen=True)
class _Inst:
    form_id: str = "partner_fit"
    version: str = "2025090101"
    title: str = "Partner fit"


FORM, VERSION = _Inst.form_id, _Inst.version


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = Store(tmp_path / "records.sqlite")
        yield s
        s.close()
        return
    # a fresh, empty database per test (dropped afterwards by the fixture)
    s = Store(request.getfixturevalue("pg_fresh_url"))
    try:
        yield s
    finally:
        s.close()


# -- URLs ------------------------------------------------------------------------------------------

def test_resolve_order(tmp_path, monkeypatch):
    monkeypatch.delenv("PA_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert resolve_db_url(None) == f"sqlite:///{tmp_path / 'partner_analysis.sqlite'}"
    assert resolve_db_url("", data_dir=tmp_path / "d") == f"sqlite:///{tmp_path / 'd' / 'records' / 'records.sqlite'}"
    monkeypatch.setenv("PA_DB_URL", "postgresql+psycopg://u@h/db")
    assert resolve_db_url(None, data_dir=tmp_path) == "postgresql+psycopg://u@h/db"
    assert resolve_db_url("x.sqlite", data_dir=tmp_path) == f"sqlite:///{tmp_path / 'x.sqlite'}"
    assert resolve_db_url("sqlite:///rel.db") == "sqlite:///rel.db"


def test_sqlite_pragmas(tmp_path):
    store = Store(tmp_path / "records.sqlite")
    with store.engine.connect() as conn:
        got = {p: conn.exec_driver_sql(f"PRAGMA {p}").scalar()
               for p in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")}
    store.close()
    # synchronous: 2 = FULL
    assert got == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30000, "synchronous": 2}


def test_tables_created(store):
    names = set(sa.inspect(store.engine).get_table_names())
    assert {"instruments", "partnerships", "respondents", "response_sets", "answers", "answer_audit"} <= names


# -- values ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, back", [
    pytest.param("03", "03", id="leading-zero-string"),
    pytest.param(["a", "b"], ["a", "b"], id="multi"),
    pytest.param({"b", "a"}, ["a", "b"], id="set-sorted"),
    pytest.param(dt.date(2025, 9, 1), "2025-09-01", id="date"),
    pytest.param(4, 4, id="int"),
    pytest.param(2.5, 2.5, id="float"),
])
def test_value_roundtrip(value, back):
    assert decode_value(encode_value(value)) == back


def test_unstorable_value():
    with pytest.raises(StoreError, match="cannot store"):
        encode_value(object())


# -- lifecycle -------------------------------------------------------------------------------------

def test_open_resumes_draft(store):
    a = responses.open_response(store, FORM, VERSION, "P01", "district", "ann")
    b = responses.open_response(store, FORM, VERSION, "P01", "district", "ann")
    c = responses.open_response(store, FORM, VERSION, "P01", "partner", "ann")
    d = responses.open_response(store, FORM, VERSION, "P01", "district", "ann", wave="2026")
    assert a == b and len({a, c, d}) == 3
    assert store.partnerships_frame()["partner_id"].tolist() == ["P01"]


def test_client_token_idempotent(store):
    a = responses.open_response(store, FORM, VERSION, "P01", "district", "ann", client_token="tok-1")
    responses.submit(store, a)
    b = responses.open_response(store, FORM, VERSION, "P01", "district", "ann", client_token="tok-1")
    assert a == b
    # a new draft (no token) after submission is a new response set
    assert responses.open_response(store, FORM, VERSION, "P01", "district", "ann") != a


def test_save_submit_export(store):
    responses.register_instrument(store, _Inst())
    rid = responses.open_response(store, FORM, VERSION, "P02", "partner", "bo")
    responses.save_answer(store, rid, "q1", "4")
    responses.save_answer(store, rid, "q2", ["x", "y"])
    responses.save_answer(store, rid, "q3", dt.date(2025, 10, 1))
    responses.save_answer(store, rid, "q1", "5")          # overwrite
    responses.save_answer(store, rid, "q4", "temp")
    responses.save_answer(store, rid, "q4", "")           # empty clears
    assert responses.get_answers(store, rid) == {"q1": "5", "q2": ["x", "y"], "q3": "2025-10-01"}
    assert responses.answers_long(store).empty          # drafts are not exported by default
    assert len(responses.answers_long(store, status="draft")) == 3
    responses.submit(store, rid)
    long = responses.answers_long(store, form_id=FORM, partner_id="P02")
    assert list(long.columns) == ["response_id", "form_id", "version", "partner_id", "role", "respondent",
                                  "wave", "status", "item", "value", "submitted_at"]
    assert dict(zip(long["item"], long["value"])) == {"q1": "5", "q2": ["x", "y"], "q3": "2025-10-01"}
    assert (long["status"] == "submitted").all() and long["submitted_at"].notna().all()
    assert responses.answers_long(store, partner_id="P99").empty
    wide = responses.answers_wide(store)
    assert wide.shape[0] == 1 and wide.loc[0, "version"] == VERSION and wide.loc[0, "q2"] == ["x", "y"]


def test_submit_replaces_answers_and_validates(store):
    rid = responses.open_response(store, FORM, VERSION, "P01", "district", "ann")
    responses.save_answer(store, rid, "hidden_q", "stale")
    responses.save_answer(store, rid, "q1", "1")

    def needs_q2(final):
        return [] if "q2" in final else [("q2", "This question is required.")]

    with pytest.raises(StoreError, match="q2: This question is required") as info:
        responses.submit(store, rid, {"q1": "2"}, validator=needs_q2)
    assert info.value.problems == [("q2", "This question is required.")]
    # rolled back: still a draft with the old answers
    assert responses.response(store, rid)["status"] == "draft"
    assert responses.get_answers(store, rid) == {"hidden_q": "stale", "q1": "1"}
    responses.submit(store, rid, {"q1": "2", "q2": "3", "hidden_q": None}, validator=needs_q2)
    assert responses.get_answers(store, rid) == {"q1": "2", "q2": "3"}
    assert responses.submit(store, rid) == rid            # retried submit is a no-op


def test_submitted_is_read_only_and_edits_are_audited(store):
    rid = responses.open_response(store, FORM, VERSION, "P01", "district", "ann")
    responses.save_answer(store, rid, "q1", "2")
    responses.submit(store, rid)
    with pytest.raises(StoreError, match="read-only"):
        responses.save_answer(store, rid, "q1", "3")
    with pytest.raises(StoreError, match="editor"):
        responses.edit_submitted(store, rid, "q1", "3", editor="", reason="x")
    responses.edit_submitted(store, rid, "q1", "3", editor="coordinator", reason="respondent emailed a correction")
    responses.edit_submitted(store, rid, "q1", "3", editor="coordinator", reason="same value: no audit row")
    audit = responses.audit_frame(store, rid)
    assert audit[["item", "old_value", "new_value", "editor"]].values.tolist() == [["q1", "2", "3", "coordinator"]]
    assert responses.answers_long(store)["value"].tolist() == ["3"]
    draft = responses.open_response(store, FORM, VERSION, "P01", "district", "ann")
    with pytest.raises(StoreError, match="draft"):
        responses.edit_submitted(store, draft, "q1", "1", editor="x", reason="y")


def test_register_instrument_detects_changed_file(store, tmp_path):
    f = tmp_path / "form.xlsx"
    f.write_bytes(b"one")
    first = responses.register_instrument(store, _Inst(), source_path=f)
    assert responses.register_instrument(store, _Inst(), source_path=f) == first
    f.write_bytes(b"two")
    with pytest.raises(StoreError, match="Increase `version`"):
        responses.register_instrument(store, _Inst(), source_path=f)
    assert responses.instruments_frame(store)["sha256"].notna().all()


@pytest.mark.parametrize("kwargs, match", [
    pytest.param(dict(partner_id=1), "must be a string", id="numeric-id"),
    pytest.param(dict(role="teacher"), "`role` must be one of", id="role"),
    pytest.param(dict(respondent=""), "non-empty", id="empty-respondent"),
])
def test_bad_keys(store, kwargs, match):
    args = dict(form_id=FORM, version=VERSION, partner_id="P01", role="district", respondent="ann") | kwargs
    with pytest.raises(StoreError, match=match):
        responses.open_response(store, **args)


def test_unknown_response(store):
    with pytest.raises(StoreError, match="does not exist"):
        responses.save_answer(store, 999, "q1", "1")


def test_sqlalchemy_errors_are_wrapped(store):
    with pytest.raises(StoreError, match="could not complete a transaction"):
        with store.transaction() as conn:
            conn.exec_driver_sql("INSERT INTO answers (response_id, item, value, updated_at) "
                                 "VALUES (12345, 'q', '1', '2025-01-01')")   # foreign key violation


def test_store_error_pickles():
    err = StoreError("x")
    err.problems = [("q1", "required")]
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == "x" and back.problems == [("q1", "required")]


def test_bad_url():
    with pytest.raises(StoreError, match="driver|cannot open"):
        Store("nosuchdialect://x/y")


def test_postgresql_roundtrip(pg_url):
    s = Store(pg_url)
    try:
        token = f"pg-test-{dt.datetime.now().timestamp()}"
        rid = responses.open_response(s, FORM, VERSION, "P01", "district", "pg-tester", client_token=token)
        responses.save_answer(s, rid, "q1", ["a", "b"])
        responses.submit(s, rid)
        long = responses.answers_long(s, partner_id="P01")
        assert ["a", "b"] in long.loc[long["response_id"] == rid, "value"].tolist()
    finally:
        s.close()


def test_schema_compiles_for_postgresql():
    # No server needed: the DDL of every store table must be valid PostgreSQL (the store is URL-agnostic).
    from sqlalchemy.dialects import postgresql
    from partner_analysis.store import metadata
    ddl = [str(sa.schema.CreateTable(t).compile(dialect=postgresql.dialect())) for t in metadata.sorted_tables]
    text = "\n".join(ddl)
    assert "CREATE TABLE response_sets" in text and "TIMESTAMP WITH TIME ZONE" in text
    assert "UNIQUE (client_token)" in text and "CONSTRAINT uq_answers_response_item UNIQUE" in text


# -- corrections of submitted responses ---------------------------------------------------------------

def _submitted_response(store):
    rid = responses.open_response(store, FORM, VERSION, "P01", "district", "ann")
    responses.submit(store, rid, {"q1": "2", "q2": "3", "why": "text"})
    return rid


def test_edit_submitted_many_is_one_audited_transaction(store):
    rid = _submitted_response(store)
    before = responses.response(store, rid)
    written = responses.edit_submitted_many(store, rid, {"q1": "4", "q2": "3", "why": None, "q3": ["a", "b"]},
                                        editor="ann", reason="typo", validator=lambda final: [])
    assert written == [{"item": "q1", "old_value": "2", "new_value": "4"},
                       {"item": "why", "old_value": "text", "new_value": None},
                       {"item": "q3", "old_value": None, "new_value": ["a", "b"]}]   # q2 unchanged: no row
    audit = responses.audit_frame(store, rid)
    assert audit[["item", "old_value", "new_value", "editor", "reason"]].values.tolist() == [
        ["q1", "2", "4", "ann", "typo"], ["why", "text", None, "ann", "typo"],
        ["q3", None, ["a", "b"], "ann", "typo"]]
    assert audit["changed_at"].nunique() == 1
    after = responses.response(store, rid)
    assert after["status"] == "submitted" and after["submitted_at"] == before["submitted_at"]
    assert after["updated_at"] > before["updated_at"]
    assert responses.get_answers(store, rid) == {"q1": "4", "q2": "3", "q3": ["a", "b"]}
    assert dict(zip(*responses.answers_long(store)[["item", "value"]].values.T)) == {"q1": "4", "q2": "3", "q3": ["a", "b"]}


def test_edit_submitted_many_validator_sees_final_answers_and_rolls_back(store):
    rid = _submitted_response(store)
    seen = []

    def needs_q2(final):
        seen.append(dict(final))
        return [] if final.get("q2") else [("q2", "required")]

    with pytest.raises(StoreError, match="not corrected: q2: required") as info:
        responses.edit_submitted_many(store, rid, {"q1": "5", "q2": None}, editor="ann", reason="x", validator=needs_q2)
    assert info.value.problems == [("q2", "required")]
    assert seen == [{"q1": "5", "why": "text"}]              # the would-be answers, both changes applied
    assert responses.get_answers(store, rid) == {"q1": "2", "q2": "3", "why": "text"}   # q1 rolled back too
    assert responses.audit_frame(store, rid).empty

    def explodes(final):
        raise RuntimeError("validator bug")

    with pytest.raises(RuntimeError):
        responses.edit_submitted_many(store, rid, {"q1": "5"}, editor="ann", reason="x", validator=explodes)
    assert responses.get_answers(store, rid)["q1"] == "2" and responses.audit_frame(store, rid).empty


def test_edit_submitted_many_refusals_and_no_change(store):
    rid = _submitted_response(store)
    stamp = responses.response(store, rid)["updated_at"]
    for editor, reason in (("", "x"), ("ann", " "), (None, "x")):
        with pytest.raises(StoreError, match="editor"):
            responses.edit_submitted_many(store, rid, {"q1": "9"}, editor=editor, reason=reason)
    with pytest.raises(StoreError, match="item"):
        responses.edit_submitted_many(store, rid, {"q1": "9", "": "1"}, editor="ann", reason="x")
    assert responses.edit_submitted_many(store, rid, {"q1": "2", "gone": None}, editor="ann", reason="x") == []
    assert responses.audit_frame(store, rid).empty and responses.response(store, rid)["updated_at"] == stamp
    draft = responses.open_response(store, FORM, VERSION, "P01", "district", "bo")
    with pytest.raises(StoreError, match="draft"):
        responses.edit_submitted_many(store, draft, {"q1": "1"}, editor="bo", reason="y")
    assert responses.get_answers(store, rid)["q1"] == "2"


def test_find_submitted_respects_wave_and_status(store):
    assert responses.find_submitted(store, FORM, VERSION, "P01", "district", "ann") is None
    rid = _submitted_response(store)
    assert responses.find_submitted(store, FORM, VERSION, "P01", "district", "ann") == rid
    assert responses.find_submitted(store, FORM, VERSION, "P01", "district", "ann", wave="2026") is None
    assert responses.find_submitted(store, FORM, VERSION, "P01", "partner", "ann") is None
    draft = responses.open_response(store, FORM, VERSION, "P01", "district", "ann", wave="2026")
    assert draft != rid and responses.find_submitted(store, FORM, VERSION, "P01", "district", "ann", wave="2026") is None
