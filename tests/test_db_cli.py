"""Bad input to the records store and the ``db`` verbs: one message naming the place, exit 2, no traceback, and
nothing lost (the store compared row for row, and byte for byte where it must not even be opened for writing).

Part of issue #10's bad-input cases (the store and processes part).
"""
from __future__ import annotations

import shutil
import sqlite3

import pytest

from partner_analysis import store_schema
from partner_analysis.cli import main
from partner_analysis.exceptions import StoreError
from partner_analysis.store import Store, StoreSchemaError
from store_helpers import make_ae5988b_sqlite, revision, snapshot


@pytest.fixture(scope="module")
def head_store_template(tmp_path_factory):
    """A store at head with rows in every table (the ae5988b fixture, upgraded)."""
    db = make_ae5988b_sqlite(tmp_path_factory.mktemp("head") / "store.sqlite")
    assert main(["db", "upgrade", "--db", str(db)]) == 0
    return db


@pytest.fixture
def store_db(head_store_template, tmp_path):
    db = tmp_path / "store.sqlite"
    shutil.copy(head_store_template, db)
    return db


@pytest.fixture
def backup_file(store_db, tmp_path):
    path = tmp_path / "good_backup.sqlite"
    assert main(["db", "backup", str(path), "--db", str(store_db)]) == 0
    return path


def _refused(argv, capsys, *needles):
    """Run the verb: exit 2, a one-line message holding every needle, no traceback."""
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, (argv, code, err)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert str(needle) in err, (needle, err)
    return err


def _with_version(db, rev: str) -> None:
    con = sqlite3.connect(db)
    con.execute("UPDATE alembic_version SET version_num = ?", (rev,))
    con.commit()
    con.close()


# -- restore ---------------------------------------------------------------------------------------

def test_restore_of_a_text_file(store_db, tmp_path, capsys):
    bad = tmp_path / "notes.txt"
    bad.write_text("partner_id,name\nP01,Mercy\n")
    before = snapshot(store_db)
    _refused(["db", "restore", str(bad), "--db", str(store_db), "--force"], capsys, bad, "not an SQLite database")
    assert snapshot(store_db) == before
    assert not (tmp_path / "backups").exists()       # refused before anything, not even a backup, was written


def test_a_refused_restore_into_a_new_store_creates_nothing(tmp_path, capsys):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    target = tmp_path / "new_folder" / "store.sqlite"
    _refused(["db", "restore", str(bad), "--db", str(target)], capsys, bad, "not an SQLite database")
    assert not target.parent.exists()


def test_restore_of_an_empty_file(store_db, tmp_path, capsys):
    bad = tmp_path / "empty.sqlite"
    bad.write_bytes(b"")
    before = snapshot(store_db)
    _refused(["db", "restore", str(bad), "--db", str(store_db), "--force"], capsys, bad, "not an SQLite database")
    assert snapshot(store_db) == before


def test_restore_of_a_missing_file(store_db, tmp_path, capsys):
    before = snapshot(store_db)
    _refused(["db", "restore", str(tmp_path / "nope.sqlite"), "--db", str(store_db), "--force"], capsys,
             tmp_path / "nope.sqlite", "no such backup file")
    assert snapshot(store_db) == before


def test_restore_of_an_sqlite_file_that_is_not_a_store(store_db, tmp_path, capsys):
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE contacts (name TEXT)")
    con.execute("INSERT INTO contacts VALUES ('x')")
    con.commit()
    con.close()
    before = snapshot(store_db)
    _refused(["db", "restore", str(other), "--db", str(store_db), "--force"], capsys, other, "not a records store")
    assert snapshot(store_db) == before


def test_restore_of_a_damaged_backup(store_db, backup_file, tmp_path, capsys):
    damaged = tmp_path / "damaged.sqlite"
    data = bytearray(backup_file.read_bytes())
    page = 4096
    data[page + 8: 3 * page] = b"\xff" * (2 * page - 8)     # wreck the b-tree pages after the header page
    damaged.write_bytes(bytes(data))
    before = snapshot(store_db)
    _refused(["db", "restore", str(damaged), "--db", str(store_db), "--force"], capsys, damaged)
    assert snapshot(store_db) == before


def test_restore_of_a_backup_newer_than_the_code(store_db, backup_file, tmp_path, capsys):
    newer = tmp_path / "newer.sqlite"
    shutil.copy(backup_file, newer)
    _with_version(newer, "9999")
    before = snapshot(store_db)
    _refused(["db", "restore", str(newer), "--db", str(store_db), "--force"], capsys, newer, "9999",
             "newer than this partner_analysis")
    assert snapshot(store_db) == before


def test_restore_over_a_store_with_rows_needs_force(store_db, backup_file, capsys):
    with Store(store_db) as store:
        store.upsert_partnership("P88", "added after the backup")
    before = snapshot(store_db)
    _refused(["db", "restore", str(backup_file), "--db", str(store_db)], capsys, store_db, "--force", "rows")
    assert snapshot(store_db) == before


def test_restore_of_a_postgresql_dump_into_sqlite(store_db, tmp_path, capsys):
    dump = tmp_path / "pg.dump"
    dump.write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 100)
    before = snapshot(store_db)
    _refused(["db", "restore", str(dump), "--db", str(store_db), "--force"], capsys, dump, "not an SQLite database")
    assert snapshot(store_db) == before


def test_restore_of_an_sqlite_backup_into_postgresql(pg_fresh_url, backup_file, capsys):
    Store(pg_fresh_url).close()
    before = snapshot(pg_fresh_url)
    _refused(["db", "restore", str(backup_file), "--db", pg_fresh_url, "--force"], capsys, backup_file,
             "not a PostgreSQL backup")
    assert snapshot(pg_fresh_url) == before


# -- upgrade ---------------------------------------------------------------------------------------

def test_upgrade_of_a_store_newer_than_the_code(store_db, tmp_path, capsys):
    _with_version(store_db, "9999")
    before, raw = snapshot(store_db), store_db.read_bytes()
    _refused(["db", "upgrade", "--db", str(store_db)], capsys, store_db, "9999", "does not know")
    assert snapshot(store_db) == before and store_db.read_bytes() == raw
    assert not (tmp_path / "backups").exists()


@pytest.mark.parametrize("change, words", [
    ("ALTER TABLE records_goals ADD COLUMN colour TEXT", "records_goals (unexpected colour)"),
    ("ALTER TABLE records_drafts DROP COLUMN kind", "records_drafts (missing kind)"),
], ids=["extra column", "missing column"])
def test_upgrade_of_an_unversioned_store_that_is_not_ae5988b(tmp_path, capsys, change, words):
    db = make_ae5988b_sqlite(tmp_path / "odd.sqlite")
    con = sqlite3.connect(db)
    con.execute(change)
    con.commit()
    con.close()
    before = snapshot(db)
    _refused(["db", "upgrade", "--db", str(db)], capsys, db, words, "Nothing was changed")
    assert snapshot(db) == before and revision(db) is None
    assert not (tmp_path / "backups").exists()


def test_upgrade_of_a_missing_store(tmp_path, capsys):
    db = tmp_path / "typo" / "store.sqlite"
    _refused(["db", "upgrade", "--db", str(db)], capsys, db, "no records store at")
    assert not db.parent.exists()


def test_upgrade_whose_backup_file_exists_changes_nothing(tmp_path, capsys):
    db = make_ae5988b_sqlite(tmp_path / "old.sqlite")
    taken = tmp_path / "taken.sqlite"
    taken.write_bytes(b"an earlier backup")
    before = snapshot(db)
    _refused(["db", "upgrade", "--db", str(db), "--backup", str(taken)], capsys, taken, "never overwrites")
    assert taken.read_bytes() == b"an earlier backup"
    assert snapshot(db) == before and revision(db) is None      # no backup, no upgrade


# -- backup ----------------------------------------------------------------------------------------

def test_backup_onto_an_existing_file(store_db, tmp_path, capsys):
    taken = tmp_path / "taken.sqlite"
    taken.write_bytes(b"keep me")
    _refused(["db", "backup", str(taken), "--db", str(store_db)], capsys, taken, "never overwrites")
    assert taken.read_bytes() == b"keep me"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_backup_of_a_missing_store(tmp_path, capsys):
    db = tmp_path / "typo.sqlite"
    _refused(["db", "backup", str(tmp_path / "b.sqlite"), "--db", str(db)], capsys, db, "no records store at")
    assert not db.exists() and not (tmp_path / "b.sqlite").exists()


def test_missing_pg_dump_is_named(monkeypatch, tmp_path):
    from partner_analysis import store_backup
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(store_backup, "PG_BIN_GLOB", str(tmp_path / "no-postgresql" / "*" / "bin"))
    with pytest.raises(StoreError, match="pg_dump was not found on PATH.*postgresql-client"):
        store_backup.find_pg_tool("pg_dump")


# -- a corrupt store -------------------------------------------------------------------------------

@pytest.fixture
def corrupt_db(tmp_path):
    db = tmp_path / "corrupt.sqlite"
    db.write_bytes(b"this is not a database, it was overwritten by a text editor\n" * 50)
    return db


@pytest.mark.parametrize("verb", [
    ["survey", "score"],
    ["db", "upgrade"],
    ["db", "current"],
    ["db", "backup", "{tmp}/b.sqlite"],
], ids=lambda v: " ".join(v[:2]))
def test_a_corrupt_store_is_named_and_left_alone(corrupt_db, tmp_path, capsys, verb):
    raw = corrupt_db.read_bytes()
    argv = [a.replace("{tmp}", str(tmp_path)) for a in verb] + ["--db", str(corrupt_db)]
    _refused(argv, capsys, corrupt_db, "not a database")
    assert corrupt_db.read_bytes() == raw
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.sqlite"]


def test_a_corrupt_store_refuses_a_write(corrupt_db, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "partnerships.csv").write_text("partner_id,name\nP01,Mercy\n")
    raw = corrupt_db.read_bytes()
    _refused(["records", "import", str(folder), "--db", str(corrupt_db)], capsys, corrupt_db, "not a database")
    assert corrupt_db.read_bytes() == raw


# -- a store at another revision, opened by the other verbs ---------------------------------------

def test_a_store_behind_refuses_a_write_and_names_db_upgrade(tmp_path, capsys):
    db = make_ae5988b_sqlite(tmp_path / "old.sqlite")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "checkins.csv").write_text("")
    before = snapshot(db)
    _refused(["records", "import", str(folder), "--db", str(db)], capsys, db, "partner-analysis db upgrade")
    assert snapshot(db) == before and revision(db) is None


def test_a_store_newer_than_the_code_refuses_a_read(store_db, capsys):
    _with_version(store_db, "9999")
    before = snapshot(store_db)
    _refused(["survey", "score", "--db", str(store_db)], capsys, store_db, "9999", "newer partner_analysis")
    assert snapshot(store_db) == before


def test_reports_never_read_an_old_default_store_as_no_records(demo_dir, tmp_path):
    # the default store of a DATA_DIR at an older revision is an error, not "nothing recorded yet"
    from partner_analysis.report.bundle import _open_store
    data_dir = tmp_path / "dd"
    shutil.copytree(demo_dir, data_dir)
    store = data_dir / "records" / "records.sqlite"
    store.unlink()
    for suffix in ("-wal", "-shm"):
        (data_dir / "records" / f"records.sqlite{suffix}").unlink(missing_ok=True)
    make_ae5988b_sqlite(store)
    with pytest.raises(StoreSchemaError, match="db upgrade"):
        _open_store(data_dir, None)
    assert revision(store) is None


def test_schema_messages_name_the_store(tmp_path):
    state = store_schema.SchemaState("behind", "0001", store_schema.head_revision())
    text = store_schema.schema_message(state, str(tmp_path / "x.sqlite"), f"--db {tmp_path / 'x.sqlite'}")
    assert str(tmp_path / "x.sqlite") in text and "db upgrade" in text and "0001" in text


def test_a_corrupt_old_layout_store_is_named_and_not_moved(tmp_path, capsys):
    data_dir = tmp_path / "dd"
    data_dir.mkdir()
    legacy = data_dir / "records.sqlite"
    legacy.write_bytes(b"not a database at all\n" * 100)
    raw = legacy.read_bytes()
    _refused(["db", "current", "--data-dir", str(data_dir)], capsys, legacy, "Nothing was moved")
    assert legacy.read_bytes() == raw
    assert sorted(p.name for p in data_dir.iterdir()) == ["records.sqlite"]
