"""Reading verbs open the records store read-only: a mistyped path fails (exit 2) and creates nothing."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from partner_analysis.cli import main
from partner_analysis.exceptions import StoreError
from partner_analysis.store import Store
from partner_analysis.fit import responses

ROOT = Path(__file__).resolve().parents[1]


def _tables(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        con.close()


def _missing(tmp_path: Path) -> Path:
    # a folder that does not exist either: creating it would be a side effect too
    return tmp_path / "typo_dir" / "records.sqlite"


# -- Store(create=False) -------------------------------------------------------------------------------

def test_read_only_open_of_a_missing_file_raises_and_creates_nothing(tmp_path):
    db = _missing(tmp_path)
    with pytest.raises(StoreError, match=r"no records store at .*typo_dir/records\.sqlite: the file does not exist"):
        Store(db, create=False)
    assert not db.parent.exists()
    assert list(tmp_path.iterdir()) == []


def test_read_only_open_of_a_file_that_is_not_a_store(tmp_path):
    db = tmp_path / "other.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE unrelated (x INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="has no records-store tables .*response_sets"):
        Store(db, create=False)
    assert _tables(db) == {"unrelated"}          # nothing was added


def test_read_only_open_of_an_existing_store_reads(tmp_path):
    db = tmp_path / "records.sqlite"
    with Store(db) as writer:
        rid = responses.open_response(writer, "partner_fit", "1", "P01", "district", "ann")
        responses.save_answer(writer, rid, "q1", "4")
        responses.submit(writer, rid)
    with Store(db, create=False) as reader:
        long = responses.answers_long(reader)
    assert long[["response_id", "item", "value"]].values.tolist() == [[rid, "q1", "4"]]


def test_default_still_creates(tmp_path):
    db = tmp_path / "new" / "records.sqlite"
    Store(db).close()
    assert "response_sets" in _tables(db)


# -- reading verbs -----------------------------------------------------------------------------------

def _assert_refused(argv, db: Path, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: no records store at ") and str(db) in err and "--db" in err
    assert not db.exists() and not db.parent.exists()


def test_survey_score_refuses_a_missing_store(tmp_path, capsys):
    db = _missing(tmp_path)
    _assert_refused(["survey", "score", "--db", str(db)], db, capsys)


def test_survey_export_refuses_a_missing_store(tmp_path, capsys):
    db = _missing(tmp_path)
    _assert_refused(["survey", "export", "--db", str(db), "--out", str(tmp_path / "out")], db, capsys)
    assert not (tmp_path / "out").exists()


def test_records_export_refuses_a_missing_store(tmp_path, capsys):
    db = _missing(tmp_path)
    _assert_refused(["records", "export", str(tmp_path / "out"), "--db", str(db)], db, capsys)


def test_records_export_refuses_a_data_dir_without_a_store(tmp_path, capsys):
    # a DATA_DIR (with its district.yml) that has no records/records.sqlite: the default store is not created
    import shutil
    data_dir = tmp_path / "district"
    data_dir.mkdir()
    shutil.copy(ROOT / "partner_analysis" / "defaults" / "district.yml", data_dir / "district.yml")
    db = data_dir / "records" / "records.sqlite"
    assert main(["records", "export", str(tmp_path / "out"), "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert "no records store at" in err and str(db) in err
    assert sorted(p.name for p in data_dir.iterdir()) == ["district.yml"]


def test_survey_score_on_an_existing_store_still_works(tmp_path, capsys):
    db = tmp_path / "records.sqlite"
    Store(db).close()
    assert main(["survey", "score", "--db", str(db)]) == 0
    assert "no submitted answers" in capsys.readouterr().out


def test_writing_verb_still_creates_the_store(tmp_path, capsys):
    # records import writes: it creates the store (and its folder) as before
    folder = tmp_path / "records_in"
    folder.mkdir()
    (folder / "checkins.csv").write_text("")
    db = tmp_path / "new_dir" / "records.sqlite"
    code = main(["records", "import", str(folder), "--db", str(db)])
    capsys.readouterr()
    assert db.exists() and "response_sets" in _tables(db), code


@pytest.mark.slow
def test_reports_with_an_explicit_missing_db_fail(demo_dir, tmp_path, capsys):
    db = _missing(tmp_path)
    out = tmp_path / "reports"
    _assert_refused(["reports", str(demo_dir), "--term", "2025-26-Q2", "--db", str(db), "--out", str(out),
                     "--no-progress"], db, capsys)


def test_bundle_store_opener_is_read_only(tmp_path):
    from partner_analysis.report.bundle import _open_store
    db = _missing(tmp_path)
    with pytest.raises(StoreError, match="no records store at"):
        _open_store(tmp_path, str(db))
    assert not db.parent.exists()
    # without --db, a DATA_DIR without records.sqlite still means "no records yet"
    assert _open_store(tmp_path, None) is None
    assert not (tmp_path / "records" / "records.sqlite").exists() and not (tmp_path / "records.sqlite").exists()


@pytest.mark.slow
def test_fit_results_notebook_does_not_create_a_store(tmp_path):
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError
    db = _missing(tmp_path)
    with pytest.raises(PapermillExecutionError) as info:
        pm.execute_notebook(str(ROOT / "notebooks" / "fit_results.ipynb"), str(tmp_path / "out.ipynb"),
                            parameters={"db": str(db), "partner_id": "P01"},
                            kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    assert info.value.ename == "StoreError" and "no records store at" in info.value.evalue
    assert not db.parent.exists()
    nb = json.loads((tmp_path / "out.ipynb").read_text())
    assert nb["cells"]                           # the executed copy was written for the reader
