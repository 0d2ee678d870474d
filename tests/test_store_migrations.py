"""Schema versions of the records store: a store of commit ae5988b upgrades to head losing nothing, on SQLite and
PostgreSQL; backups restore row for row; a DATA_DIR's old-layout store moves into records/ intact.

The "today's schema" store is tests/fixtures/store_ae5988b.sql, made by that commit's own code (see
tests/fixtures/make_store_ae5988b.py), never by the code under test.
"""
from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from partner_analysis import store_schema
from partner_analysis.cli import main
from partner_analysis.store import Store, StoreSchemaError, default_store_path, metadata, resolve_db_url
from store_helpers import (AE5988B_TABLES, TABLES_0003, expected_after_0002, expected_at_head,
                           make_ae5988b_postgresql, make_ae5988b_sqlite, revision, row_count, snapshot)
from partner_analysis.fit import responses

HEAD = store_schema.head_revision()


def _schema(db: str) -> dict:
    """Tables with their columns (name, type affinity, nullable), primary keys, foreign keys, indexes, uniques."""
    engine = sa.create_engine(db, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            insp = sa.inspect(conn)
            out = {}
            for name in sorted(insp.get_table_names()):
                if name == "alembic_version":
                    continue
                out[name] = {
                    "columns": [(c["name"], type(c["type"]).__name__, c["nullable"]) for c in insp.get_columns(name)],
                    "pk": insp.get_pk_constraint(name)["constrained_columns"],
                    "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"],
                                   tuple(f["referred_columns"]), (f.get("options") or {}).get("ondelete"))
                                  for f in insp.get_foreign_keys(name)),
                    "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                      for i in insp.get_indexes(name)),
                    "uniques": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(name)),
                }
            return out
    finally:
        engine.dispose()


def _migrate(url: str, target: str, *, down: bool = False) -> None:
    store = Store(url, check_schema=False)
    try:
        with store.transaction() as conn:
            cfg = store_schema.alembic_config(conn)
            (command.downgrade if down else command.upgrade)(cfg, target)
    finally:
        store.close()


# -- SQLite ----------------------------------------------------------------------------------------

def test_fixture_holds_rows_in_every_table_of_ae5988b(tmp_path):
    db = make_ae5988b_sqlite(tmp_path / "old.sqlite")
    snap = snapshot(db)
    assert set(snap) == AE5988B_TABLES
    assert all(snap[t] for t in AE5988B_TABLES), [t for t in AE5988B_TABLES if not snap[t]]
    assert revision(db) is None


def test_upgrade_of_an_ae5988b_store_keeps_every_row(tmp_path, capsys):
    db = make_ae5988b_sqlite(tmp_path / "old.sqlite")
    before = snapshot(db)
    # the code refuses the old store until it is upgraded, and says how
    with pytest.raises(StoreSchemaError, match="db upgrade"):
        Store(db)
    assert main(["db", "upgrade", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert revision(db) == HEAD
    after = snapshot(db)
    assert after == expected_at_head(before)
    assert row_count(after) == row_count(before) - len(before["records_goal_owners"])
    # the automatic backup taken first is the store as it was, row for row
    (backup,) = (tmp_path / "backups").glob("old-before-upgrade-unversioned-*.sqlite")
    assert str(backup) in out
    assert snapshot(backup) == before and revision(backup) is None
    # the upgraded store opens, and the goal owner reads back from its new column
    from partner_analysis.records.goals import read_goals
    with Store(db, create=False) as store:
        goals = read_goals(store).set_index("goal_id")
    assert goals.loc["P01-G1", "owner"] == "Dr. Ruiz" and goals["owner"].isna().sum() == 1


def test_upgrade_twice_changes_nothing(tmp_path, capsys):
    db = make_ae5988b_sqlite(tmp_path / "old.sqlite")
    assert main(["db", "upgrade", "--db", str(db)]) == 0
    after = snapshot(db)
    capsys.readouterr()
    assert main(["db", "upgrade", "--db", str(db)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert snapshot(db) == after
    assert len(list((tmp_path / "backups").iterdir())) == 1


def test_baseline_revision_is_the_ae5988b_schema(tmp_path):
    fixture = make_ae5988b_sqlite(tmp_path / "old.sqlite")
    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    _migrate(fresh, store_schema.BASELINE)
    assert revision(tmp_path / "fresh.sqlite") == store_schema.BASELINE
    assert _schema(fresh) == _schema(f"sqlite:///{fixture}")


def test_head_revision_is_the_code_tables(tmp_path):
    # a store migrated from nothing and a store created from the code's tables are the same store
    migrated = f"sqlite:///{tmp_path / 'migrated.sqlite'}"
    _migrate(migrated, "head")
    Store(tmp_path / "created.sqlite").close()
    assert _schema(migrated) == _schema(f"sqlite:///{tmp_path / 'created.sqlite'}")
    engine = sa.create_engine(migrated)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    engine.dispose()
    assert revision(tmp_path / "created.sqlite") == HEAD


def test_downgrade_and_upgrade_again_keep_goal_owners(tmp_path):
    db = make_ae5988b_sqlite(tmp_path / "old.sqlite")
    before = snapshot(db)
    assert main(["db", "upgrade", "--db", str(db)]) == 0
    _migrate(f"sqlite:///{db}", store_schema.BASELINE, down=True)
    assert snapshot(db) == before
    _migrate(f"sqlite:///{db}", "head")
    assert snapshot(db) == expected_at_head(before)


def test_revision_0003_adds_invitations_and_keeps_every_row(tmp_path):
    # an 0002 store with rows in every table gains the two empty invitation tables and loses nothing
    db = make_ae5988b_sqlite(tmp_path / "old.sqlite")
    before = snapshot(db)
    _migrate(f"sqlite:///{db}", "0002")
    at_0002 = snapshot(db)
    assert at_0002 == expected_after_0002(before) and revision(db) == "0002"
    _migrate(f"sqlite:///{db}", "0004")         # 0003 makes the tables, 0004 adds invitations.lang
    after = snapshot(db)
    assert {t: after[t] for t in at_0002} == at_0002
    assert set(after) - set(at_0002) == set(TABLES_0003) and not any(after[t] for t in TABLES_0003)
    # an invitation made at head, then a downgrade: the invitation tables go, every other row stays
    from partner_analysis.access import create_invitation, invitations_frame
    with Store(db) as store:
        create_invitation(store, partners="P01", role="district", email="ana@district.org", wave="2025-26")
        assert len(invitations_frame(store)) == 1
    _migrate(f"sqlite:///{db}", "0002", down=True)
    assert snapshot(db) == at_0002 and revision(db) == "0002"


def test_revision_0004_adds_the_invitation_language_and_keeps_invitations(tmp_path):
    import sqlalchemy as sa
    db = tmp_path / "s.sqlite"
    _migrate(f"sqlite:///{db}", "0003")
    engine = sa.create_engine(f"sqlite:///{db}")
    row = dict(invitation_id=1, form="survey", role="district", wave="w1", email="ana@district.org", name="Ana",
               token_hash="a" * 64, created_at="2026-11-01 00:00:00", expires_at="2026-12-01 00:00:00", reminders=0)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO invitations (invitation_id, form, role, wave, email, name, token_hash, "
                             "created_at, expires_at, reminders) VALUES (:invitation_id, :form, :role, :wave, "
                             ":email, :name, :token_hash, :created_at, :expires_at, :reminders)"), row)
    _migrate(f"sqlite:///{db}", "0004")
    with engine.connect() as conn:
        got = conn.execute(sa.text("SELECT email, name, lang FROM invitations")).all()
    assert [tuple(r) for r in got] == [("ana@district.org", "Ana", None)] and revision(db) == "0004"
    _migrate(f"sqlite:///{db}", "0003", down=True)
    with engine.connect() as conn:
        cols = [r[1] for r in conn.execute(sa.text("PRAGMA table_info(invitations)"))]
        assert conn.execute(sa.text("SELECT email FROM invitations")).scalar() == "ana@district.org"
    engine.dispose()
    assert "lang" not in cols and "email" in cols and revision(db) == "0003"


def test_a_store_behind_head_is_refused_until_upgraded(tmp_path, capsys):
    db = tmp_path / "behind.sqlite"
    _migrate(f"sqlite:///{db}", store_schema.BASELINE)
    before = snapshot(db)
    for create in (True, False):
        with pytest.raises(StoreSchemaError, match=f"revision {store_schema.BASELINE}.*needs {HEAD}.*db upgrade"):
            Store(db, create=create)
    assert main(["db", "current", "--db", str(db)]) == 0
    assert f"{store_schema.BASELINE} (behind head {HEAD}" in capsys.readouterr().out
    assert snapshot(db) == before
    assert main(["db", "upgrade", "--db", str(db), "--backup", str(tmp_path / "b.sqlite")]) == 0
    assert revision(db) == HEAD and revision(tmp_path / "b.sqlite") == store_schema.BASELINE


def test_db_history_lists_every_revision(capsys):
    assert main(["db", "history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == store_schema.known_revisions()
    assert lines[-1].startswith(f"{HEAD} (head)")


def test_backup_restore_round_trip_row_for_row(tmp_path, capsys):
    db = tmp_path / "store.sqlite"
    make_ae5988b_sqlite(db)
    assert main(["db", "upgrade", "--db", str(db)]) == 0
    at_backup = snapshot(db)
    assert main(["db", "backup", str(tmp_path / "b1.sqlite"), "--db", str(db)]) == 0
    assert snapshot(tmp_path / "b1.sqlite") == at_backup
    # life goes on: a survey answer is corrected, a partnership added
    with Store(db) as store:
        responses.edit_submitted(store, 1, "q1", "5", editor="Ana", reason="re-checked")
        store.upsert_partnership("P77", "New partner")
    changed = snapshot(db)
    assert changed != at_backup
    capsys.readouterr()
    # without --force the store is left alone
    assert main(["db", "restore", str(tmp_path / "b1.sqlite"), "--db", str(db)]) == 2
    assert "--force" in capsys.readouterr().err and snapshot(db) == changed
    assert main(["db", "restore", str(tmp_path / "b1.sqlite"), "--db", str(db), "--force"]) == 0
    assert snapshot(db) == at_backup and revision(db) == HEAD
    # the store it replaced was backed up first, row for row
    (auto,) = (tmp_path / "backups").glob("store-before-restore-*.sqlite")
    assert snapshot(auto) == changed
    # into a new, empty store: no --force needed
    new = tmp_path / "elsewhere" / "new.sqlite"
    assert main(["db", "restore", str(tmp_path / "b1.sqlite"), "--db", str(new)]) == 0
    assert snapshot(new) == at_backup


def test_restoring_an_old_backup_says_upgrade(tmp_path, capsys):
    old = make_ae5988b_sqlite(tmp_path / "old.sqlite")
    new = tmp_path / "new.sqlite"
    assert main(["db", "restore", str(old), "--db", str(new)]) == 0
    assert "db upgrade" in capsys.readouterr().out
    assert snapshot(new) == snapshot(old)


# -- the records/ folder of a DATA_DIR ------------------------------------------------------------

def _wal_store_with_rows(path):
    """A store of the old layout whose last commits are still in its -wal file (a process holds it open)."""
    store = Store(path)
    store.upsert_partnership("P01", "Mercy")
    rid = responses.open_response(store, "partner_fit", "1", "P01", "district", "ana")
    responses.save_answer(store, rid, "q1", "4")
    return store


def test_an_old_layout_store_moves_into_records_intact(tmp_path, capsys):
    data_dir = tmp_path / "dd"
    data_dir.mkdir()
    legacy = data_dir / "records.sqlite"
    holder = _wal_store_with_rows(legacy)
    before = snapshot(legacy)
    holder.close()
    assert resolve_db_url(None, data_dir=data_dir) == f"sqlite:///{data_dir / 'records' / 'records.sqlite'}"
    new = data_dir / "records" / "records.sqlite"
    assert "note: moved the records store" in capsys.readouterr().err
    assert snapshot(new) == before and revision(new) == HEAD
    assert not legacy.exists()
    (aside,) = (data_dir / "records").glob("records.sqlite.moved-*Z")
    assert snapshot(aside) == before
    # nothing left in the DATA_DIR itself, and a second use moves nothing
    assert sorted(p.name for p in data_dir.iterdir()) == ["records"]
    assert default_store_path(data_dir) == new
    assert capsys.readouterr().err == ""
    with Store(data_dir=data_dir) as store:
        assert responses.get_answers(store, 1) == {"q1": "4"}


def test_the_move_copies_commits_still_in_the_wal(tmp_path):
    data_dir = tmp_path / "dd"
    data_dir.mkdir()
    holder = _wal_store_with_rows(data_dir / "records.sqlite")
    try:
        assert (data_dir / "records.sqlite-wal").exists()
        before = snapshot(data_dir / "records.sqlite")
        new = default_store_path(data_dir)
        assert snapshot(new) == before
    finally:
        holder.close()


def _use_data_dir(data_dir, out) -> None:
    try:
        out.put(("ok", resolve_db_url(None, data_dir=data_dir)))
    except BaseException as err:  # noqa: BLE001 - report any failure to the parent
        out.put(("error", f"{type(err).__name__}: {err}"))


def test_processes_racing_to_move_the_old_store_move_it_once(tmp_path):
    import multiprocessing as mp
    data_dir = tmp_path / "dd"
    data_dir.mkdir()
    make_ae5988b_sqlite(data_dir / "records.sqlite")
    before = snapshot(data_dir / "records.sqlite")
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_use_data_dir, args=(data_dir, out)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    new = data_dir / "records" / "records.sqlite"
    assert results == [("ok", f"sqlite:///{new}")] * 4
    assert snapshot(new) == before
    assert len(list((data_dir / "records").glob("records.sqlite.moved-*Z"))) == 1
    assert sorted(p.name for p in (data_dir / "records").iterdir() if p.name.startswith(".")) == []


def test_an_existing_records_store_is_never_replaced_by_the_old_one(tmp_path):
    data_dir = tmp_path / "dd"
    (data_dir / "records").mkdir(parents=True)
    Store(data_dir / "records" / "records.sqlite").close()
    old = sqlite3.connect(data_dir / "records.sqlite")
    old.execute("CREATE TABLE x (a)")
    old.close()
    mine = (data_dir / "records" / "records.sqlite").read_bytes()
    assert default_store_path(data_dir) == data_dir / "records" / "records.sqlite"
    assert (data_dir / "records" / "records.sqlite").read_bytes() == mine
    assert (data_dir / "records.sqlite").exists()


# -- PostgreSQL -------------------------------------------------------------------------------------

@pytest.fixture
def pg_tools():
    from partner_analysis.store_backup import find_pg_tool
    from partner_analysis.exceptions import StoreError
    try:
        find_pg_tool("pg_dump")
        find_pg_tool("pg_restore")
    except StoreError as err:
        import os
        if os.environ.get("PA_REQUIRE_POSTGRES") == "1":
            pytest.fail(str(err))
        pytest.skip(str(err))


def test_postgresql_upgrade_of_an_ae5988b_store_keeps_every_row(pg_fresh_url, pg_tools, tmp_path, monkeypatch,
                                                               capsys):
    monkeypatch.chdir(tmp_path)
    make_ae5988b_postgresql(pg_fresh_url, tmp_path)
    before = snapshot(pg_fresh_url)
    assert set(before) == AE5988B_TABLES and all(before.values())
    with pytest.raises(StoreSchemaError, match="db upgrade"):
        Store(pg_fresh_url, create=False)
    assert main(["db", "upgrade", "--db", pg_fresh_url]) == 0
    assert "backed up" in capsys.readouterr().out
    assert revision(pg_fresh_url) == HEAD
    assert snapshot(pg_fresh_url) == expected_at_head(before)
    (dump,) = (tmp_path / "partner_analysis-backups").glob("*-before-upgrade-unversioned-*.dump")
    assert dump.read_bytes().startswith(b"PGDMP")
    engine = sa.create_engine(pg_fresh_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    engine.dispose()
    # the serial ids continue after the copied rows: the upgraded store takes new answers
    with Store(pg_fresh_url) as store:
        rid = responses.open_response(store, "partner_fit", "2025090101", "P01", "partner", "new")
        assert rid > max(r["id"] for r in before["response_sets"])


def test_postgresql_backup_restore_round_trip(pg_fresh_url, pg_tools, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    make_ae5988b_postgresql(pg_fresh_url, tmp_path)
    assert main(["db", "upgrade", "--db", pg_fresh_url]) == 0
    at_backup = snapshot(pg_fresh_url)
    assert main(["db", "backup", str(tmp_path / "b.dump"), "--db", pg_fresh_url]) == 0
    with Store(pg_fresh_url) as store:
        responses.edit_submitted(store, 1, "q1", "5", editor="Ana", reason="re-checked")
        store.upsert_partnership("P77", "New partner")
    changed = snapshot(pg_fresh_url)
    capsys.readouterr()
    assert main(["db", "restore", str(tmp_path / "b.dump"), "--db", pg_fresh_url]) == 2
    assert "--force" in capsys.readouterr().err and snapshot(pg_fresh_url) == changed
    assert main(["db", "restore", str(tmp_path / "b.dump"), "--db", pg_fresh_url, "--force"]) == 0
    assert snapshot(pg_fresh_url) == at_backup and revision(pg_fresh_url) == HEAD
    (auto,) = (tmp_path / "partner_analysis-backups").glob("*-before-restore-*.dump")
    assert auto.read_bytes().startswith(b"PGDMP")
