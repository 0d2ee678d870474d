"""What must survive and what must round-trip (issue 10): the records store through a re-import,
typed text through export and import, Kobo/ODK exports with their submission times, and an XLSForm
that declares a billion cells."""
from __future__ import annotations

import hashlib
import io
import re
import shutil
import zipfile
from contextlib import redirect_stdout
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from partner_analysis._paths import safe_child
from partner_analysis.cli import main
from partner_analysis.config import default_config_path
from partner_analysis.csvcells import FORMULA_START, neutralise, restore
from partner_analysis.exceptions import ConfigError
from partner_analysis.fit.exchange import read_kobo_csv
from partner_analysis.fit.instrument import default_instrument_path, read_instrument
from partner_analysis.store import Store
from partner_analysis.fit import responses

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "sis_csv"

INV = dict(partner_id="P01", term="2025-26-Q1", party="district", category="staff_hours", amount="12",
           unit="hours", role="teacher", description="planning", entered_by="Ana",
           entered_at="2025-10-01T10:00:00")


def _quiet(argv) -> int:
    with redirect_stdout(io.StringIO()):
        return main([str(a) for a in argv])


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def district(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(EXAMPLE, src)
    dd = tmp_path / "dd"
    assert _quiet(["import", src, "--map", src / "map.yml", "--out", dd]) == 0
    return src, dd


# -- the records store survives a re-import -----------------------------------------------------------

def test_reimport_keeps_the_records_store_byte_for_byte(district, tmp_path):
    src, dd = district
    recs = tmp_path / "recs"
    recs.mkdir()
    pd.DataFrame([INV]).to_csv(recs / "investments.csv", index=False)
    assert _quiet(["records", "import", recs, "--data-dir", dd]) == 0
    stores = sorted(p for p in dd.rglob("*") if p.is_file() and p.read_bytes()[:15] == b"SQLite format 3")
    assert stores, "records import should have created the store inside DATA_DIR"
    # the store's new home (issue 10) and the old layout are both kept, whichever is in use
    (dd / "records").mkdir(exist_ok=True)
    (dd / "records" / "note.txt").write_text("kept")
    before = {p: _digest(p) for p in dd.rglob("*") if p.is_file() and (p.name.startswith("records")
                                                                       or "records" in p.parts)}
    parquet_before = _digest(dd / "students.parquet")
    src.joinpath("students.csv").write_text(src.joinpath("students.csv").read_text(encoding="utf-8-sig")
                                            .replace("000101,Alvarez,0101,9", "000101,Alvarez,0101,10"),
                                            encoding="utf-8")
    assert _quiet(["import", src, "--map", src / "map.yml", "--out", dd]) == 0
    assert _digest(dd / "students.parquet") != parquet_before, "the re-import should have replaced the data"
    after = {p: _digest(p) for p in before}
    assert after == before
    with Store(stores[0]) as store:
        from partner_analysis.records import read_investments
        assert list(read_investments(store)["description"]) == ["planning"]


def test_reimport_removes_its_own_stale_files_only(district):
    src, dd = district
    assert (dd / "wbl_hours.parquet").exists()
    text = (src / "map.yml").read_text()
    (src / "map.yml").write_text(text[:text.index("  - table: wbl_hours")])
    (dd / "records.sqlite").write_bytes(b"old-layout store")  # never read here; must stay as it is
    staging = dd / ".import-staging-crashed"
    staging.mkdir()
    assert _quiet(["import", src, "--map", src / "map.yml", "--out", dd]) == 0
    assert not (dd / "wbl_hours.parquet").exists()
    assert (dd / "records.sqlite").read_bytes() == b"old-layout store"
    assert not staging.exists()
    assert (dd / "students.parquet").exists()


def test_import_into_a_folder_it_did_not_write_is_refused(district, tmp_path, capsys):
    src, _ = district
    other = tmp_path / "docs"
    other.mkdir()
    (other / "budget.xlsx").write_bytes(b"x")
    assert main(["import", str(src), "--map", str(src / "map.yml"), "--out", str(other)]) == 2
    err = capsys.readouterr().err
    assert "budget.xlsx" in err and "Traceback" not in err
    assert sorted(p.name for p in other.iterdir()) == ["budget.xlsx"]


# -- safe paths -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("parts", [("..", "x"), ("../x",), ("/etc/passwd",), ("a/b",), ("",), ("a\0b",)],
                         ids=["dotdot", "dotdot-in-part", "absolute", "separator", "empty", "nul"])
def test_safe_child_refuses_escapes(tmp_path, parts):
    with pytest.raises(ConfigError):
        safe_child(tmp_path, *parts)


def test_safe_child_refuses_a_link_out_of_the_root(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "link").symlink_to(tmp_path)
    assert safe_child(tmp_path / "out", "2025-26-Q1", "P01.html") == tmp_path / "out" / "2025-26-Q1" / "P01.html"
    with pytest.raises(ConfigError, match="outside"):
        safe_child(tmp_path / "out", "link", "x.html")


# -- formula cells: neutralised on export, restored on import ---------------------------------------

@given(st.text(max_size=30))
def test_restore_undoes_neutralise(text):
    assert restore(neutralise(text)) == text


@given(st.text(max_size=30))
def test_neutralised_text_never_starts_a_formula(text):
    assert not neutralise(text).startswith(FORMULA_START) or re.fullmatch(r"[+-][\d.eE+-]+", text)


@pytest.mark.parametrize("value, shown", [
    ("=1+2", "'=1+2"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("-2+3+cmd|'", "'-2+3+cmd|'"), ("'quoted", "''quoted"),
    ("-5", "-5"), ("+0.25", "+0.25"), ("-1e3", "-1e3"), ("plain", "plain"), (12.5, 12.5), (-3, -3),
], ids=["equals", "plus-dde", "at", "tab", "cr", "minus-formula", "quote", "negative-number",
        "plus-number", "exponent", "plain", "float", "negative-int"])
def test_neutralise_rule(value, shown):
    # OWASP CSV injection: prefix ' to cells starting with = + - @ tab CR; numbers stay numbers
    assert neutralise(value) == shown


def test_records_export_then_import_round_trips_typed_text(tmp_path, config):
    texts = ["=HYPERLINK(\"http://x\",\"y\")", "+cmd", "-5", "@SUM(A1)", "'quoted", "''=x",
             "plain", "-2+3"]
    rows = [dict(INV, amount=str(i + 1), description=t) for i, t in enumerate(texts)]
    src = tmp_path / "in"
    src.mkdir()
    pd.DataFrame(rows).to_csv(src / "investments.csv", index=False)
    first = Store(tmp_path / "a.sqlite")
    from partner_analysis.records import read_investments
    from partner_analysis.records.csvio import export_records, import_records
    import_records(src, first, config, partners=["P01"])
    out = tmp_path / "export"
    export_records(first, out)
    raw = pd.read_csv(out / "investments.csv", dtype=str, keep_default_na=False)
    assert not raw["description"].str.match(r"^[=+@\t]").any()          # nothing a spreadsheet would run
    assert (raw["description"] == "-5").any()                          # a number stays a number
    assert (raw["description"] == "'-2+3").any()
    second = Store(tmp_path / "b.sqlite")
    import_records(out / "investments.csv", second, config, partners=["P01"])
    a = read_investments(first).sort_values("amount")
    b = read_investments(second).sort_values("amount")
    # the first import read a hand-made file, so it already undid a ' escape (''=x -> '=x)
    assert list(a["description"]) == [restore(t) for t in texts]
    assert list(a["description"]) == list(b["description"])
    assert list(a["amount"]) == list(b["amount"])
    first.close()
    second.close()


# -- Kobo and ODK Central exports -----------------------------------------------------------------------

def _answers(inst):
    out = {}
    for it in inst.items_for("district"):
        if it.type == "select_one":
            out[it] = "3" if it.choice("3") is not None else it.choices[-1].name
        elif it.type == "select_multiple":
            out[it] = "staff money"
        elif it.type == "integer":
            out[it] = "10"
        elif it.type == "text" and it.required:
            out[it] = "Ana"
    return out


@pytest.mark.parametrize("flavour", ["kobo", "odk_central"])
def test_kobo_and_odk_central_exports_are_read_with_their_submission_time(tmp_path, flavour):
    inst = read_instrument(default_instrument_path())
    group = {label: name for name, label in inst.groups}
    sep = "/" if flavour == "kobo" else "-"
    row = {f"{group[it.group]}{sep}{it.name}" if it.group else it.name: v for it, v in _answers(inst).items()}
    row.update(partner_id="P01", role="district")
    if flavour == "kobo":
        row.update({"_uuid": "abc", "_submission_time": "2025-10-02T09:21:00", "_id": "7", "__version__": "v1",
                    "meta/instanceID": "uuid:abc"})
    else:  # ODK Central's default CSV export
        row = {"SubmissionDate": "2025-10-02T09:21:00.000Z", **row, "meta-instanceID": "uuid:abc",
               "KEY": "uuid:abc", "SubmitterID": "5", "SubmitterName": "ana", "AttachmentsPresent": "0",
               "AttachmentsExpected": "0", "Status": "", "ReviewState": "", "DeviceID": "", "Edits": "0",
               "FormVersion": inst.version}
    path = tmp_path / "export.csv"
    pd.DataFrame([row]).to_csv(path, index=False)
    got = read_kobo_csv(path, inst, partners=["P01", "P02"])
    assert set(got["submission"]) == {"abc"}
    assert sorted(got.loc[got["item"] == "resources_given", "value"].iloc[0]) == ["money", "staff"]
    assert got["submitted_at"].iloc[0] == pd.Timestamp("2025-10-02T09:21:00", tz="UTC")
    store = Store(tmp_path / "s.sqlite")
    from partner_analysis.fit.exchange import import_kobo
    result = import_kobo(store, path, inst, partners=["P01"])
    stored = responses.response(store, result.response_ids[0])["submitted_at"]
    # the respondent's submission time (UTC), not the time of the import
    assert pd.Timestamp(stored).replace(tzinfo=None) == pd.Timestamp("2025-10-02T09:21:00")
    store.close()


# -- an XLSForm declaring 1,048,576 x 1,024 cells ----------------------------------------------------

def test_xlsform_declaring_a_billion_cells_is_read_by_content(tmp_path, capsys):
    """LibreOffice may declare the whole grid (and style its last cell); the reader walks content only."""
    big = tmp_path / "libreoffice.xlsx"
    with zipfile.ZipFile(default_instrument_path()) as zin, zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if re.match(r"xl/worksheets/sheet\d+\.xml", info.filename):
                text, n = re.subn(r'<dimension ref="[^"]*" ?/>', '<dimension ref="A1:AMJ1048576"/>', data.decode())
                assert n == 1
                text = text.replace("</sheetData>", '<row r="1048576"><c r="AMJ1048576" s="1"/></row></sheetData>')
                data = text.encode()
            zout.writestr(info, data)
    assert main(["survey", "validate", str(big), "--write-plain", str(tmp_path / "plain.xlsx")]) == 0
    out = capsys.readouterr().out
    assert "valid instrument 'partner_fit'" in out
    # the plain copy (for KoboToolbox / ODK) drops the fit:: columns only
    plain = read_instrument(tmp_path / "plain.xlsx")
    shipped = read_instrument(default_instrument_path())
    assert [(i.name, i.type, i.label, i.relevant) for i in plain.items] == \
        [(i.name, i.type, i.label, i.relevant) for i in shipped.items]
