"""Bad input through the real command line: the place named, exit 2, no traceback, nothing written or lost.

Every case starts from one working district (issue 10): ``examples/sis_csv`` imported into a DATA_DIR,
partnership records imported into its records store, and a KoboToolbox export of the fit survey
imported too. A case then spoils one input, runs ``partner-analysis ...`` (``cli.main`` in process, so
the exit code and the printed output are the real ones; a few cases run a real subprocess), and checks:

- the exit code is 2 and the one message starts with ``error:`` and names the place (file, and
  row / column / key / value where there is one);
- no traceback is printed;
- nothing was written and nothing was lost: every file under the case's folder is byte-for-byte
  what it was, and the records store holds exactly the same rows (compared row for row with
  SQLite's own dump, which also covers a store the command opened).
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest
import yaml

from partner_analysis.cli import main
from partner_analysis.config import default_config_path
from partner_analysis.fit.instrument import default_instrument_path, read_instrument

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "sis_csv"

GOOD_INV = dict(partner_id="P01", term="2025-26-Q1", party="district", category="staff_hours", amount="12",
                unit="hours", role="teacher", description="planning", entered_by="Ana",
                entered_at="2025-10-01T10:00:00")
GOOD_CHK = dict(checkin_id="C1", partner_id="P01", term="2025-26-Q1", date="2025-10-01", data_shared="",
                challenges="", adjustments="", entered_by="Ana", entered_at="2025-10-01T10:00:00")


@dataclasses.dataclass
class Env:
    """The working district of one case (a copy, so a case can spoil it freely)."""

    root: Path

    @property
    def src(self) -> Path:
        return self.root / "src"

    @property
    def map(self) -> Path:
        return self.src / "map.yml"

    @property
    def dd(self) -> Path:
        return self.root / "dd"

    @property
    def cfg(self) -> Path:
        return self.root / "district.yml"

    @property
    def recs(self) -> Path:
        return self.root / "recs"

    @property
    def kobo(self) -> Path:
        return self.root / "kobo.csv"

    @property
    def form(self) -> Path:
        return self.root / "form.xlsx"

    def edit(self, path: Path, old: str, new: str, *, count: int = 1) -> None:
        text = path.read_text(encoding="utf-8-sig")
        assert old in text, f"{old!r} not in {path}"
        path.write_text(text.replace(old, new, count), encoding="utf-8")

    def map_entry(self, table_name: str, **change) -> None:
        doc = yaml.safe_load(self.map.read_text(encoding="utf-8"))
        for entry in doc["tables"]:
            if entry["table"] == table_name:
                entry.update(change)
        self.map.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")

    def config_edit(self, fn: Callable[[dict], None]) -> None:
        doc = yaml.safe_load(self.cfg.read_text(encoding="utf-8"))
        fn(doc)
        self.cfg.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")

    def kobo_frame(self) -> pd.DataFrame:
        return pd.read_csv(self.kobo, dtype=str, keep_default_na=False)

    def write_kobo(self, frame: pd.DataFrame) -> None:
        frame.to_csv(self.kobo, index=False)


def _kobo_rows(inst) -> pd.DataFrame:
    """Two valid district submissions as KoboToolbox exports them (group paths, metadata columns)."""
    group_name = {label: name for name, label in inst.groups}
    answers = {}
    for it in inst.items_for("district"):
        col = f"{group_name[it.group]}/{it.name}" if it.group else it.name
        if it.type == "select_one":
            answers[col] = "3" if it.choice("3") is not None else it.choices[-1].name
        elif it.type == "select_multiple":
            answers[col] = "staff"
        elif it.type == "integer":
            answers[col] = "10"
        elif it.type == "text" and it.required:
            answers[col] = "Ana"
    rows = []
    for i in (1, 2):
        rows.append({"start": "2025-10-01T09:00:00", **answers, "partner_id": "P01", "role": "district",
                     "_id": str(i), "_uuid": f"u-{i}", "_submission_time": f"2025-10-0{i}T09:21:00",
                     "__version__": "vABC", "_index": str(i)})
    return pd.DataFrame(rows)


def _dump_store(path: Path) -> list[str]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def snapshot(root: Path) -> dict[str, object]:
    """Every file under ``root``: SHA-256 of its bytes; a SQLite store: its rows (SQL dump)."""
    out: dict[str, object] = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        rel = str(p.relative_to(root))
        if p.name.endswith((".sqlite-wal", ".sqlite-shm", ".sqlite-journal")):
            continue  # their content is in the store's dump
        with open(p, "rb") as fh:
            head = fh.read(16)
        if head.startswith(b"SQLite format 3"):
            out[rel] = _dump_store(p)
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _stores(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.read_bytes()[:15] == b"SQLite format 3"]


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """The working district every case copies: imported data, records and survey answers in the store."""
    import io
    from contextlib import redirect_stdout
    root = tmp_path_factory.mktemp("district")
    env = Env(root)
    shutil.copytree(EXAMPLE, env.src)
    shutil.copy(default_config_path(), env.cfg)
    shutil.copy(default_instrument_path(), env.form)
    with redirect_stdout(io.StringIO()):
        assert main(["import", str(env.src), "--map", str(env.map), "--out", str(env.dd),
                     "--config", str(env.cfg)]) == 0
        env.recs.mkdir()
        pd.DataFrame([GOOD_INV, dict(GOOD_INV, amount="3", description="=1+2 typed by a user")]).to_csv(
            env.recs / "investments.csv", index=False)
        pd.DataFrame([GOOD_CHK]).to_csv(env.recs / "checkins.csv", index=False)
        assert main(["records", "import", str(env.recs), "--data-dir", str(env.dd)]) == 0
        _kobo_rows(read_instrument(env.form)).to_csv(env.kobo, index=False)
        assert main(["survey", "import-kobo", str(env.kobo), "--data-dir", str(env.dd),
                     "--instrument", str(env.form)]) == 0
    assert _stores(env.dd), "the records store should live in DATA_DIR"
    return root


@pytest.fixture
def env(base, tmp_path) -> Env:
    root = tmp_path / "w"
    shutil.copytree(base, root)
    return Env(root)


@dataclasses.dataclass(frozen=True)
class Case:
    argv: Callable[[Env], list]
    mutate: Callable[[Env], None]
    expect: tuple[str, ...]  # regexes the message must match (file, row, column, value, the problem)


def IMPORT(e: Env, *extra) -> list:
    return ["import", e.src, "--map", e.map, "--out", e.dd, "--config", e.cfg, *extra]


def RECORDS(e: Env, path=None) -> list:
    return ["records", "import", path or e.recs, "--data-dir", e.dd]


def KOBO(e: Env, *extra) -> list:
    return ["survey", "import-kobo", e.kobo, "--data-dir", e.dd, "--instrument", e.form, *extra]


def VALIDATE_FORM(e: Env) -> list:
    return ["survey", "validate", e.form]


def _csv(e: Env, name: str, old: str, new: str):
    return lambda e: e.edit(e.src / name, old, new)


def _set_records(name: str, rows: list[dict] | None = None, *, text: str | bytes | None = None):
    def mutate(e: Env):
        for p in e.recs.iterdir():
            p.unlink()
        path = e.recs / name
        if text is not None:
            path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        else:
            pd.DataFrame(rows).to_csv(path, index=False)
    return mutate


def _kobo_set(col_suffix: str, value: str, row: int = 0):
    def mutate(e: Env):
        f = e.kobo_frame()
        col = next(c for c in f.columns if c == col_suffix or c.endswith("/" + col_suffix))
        f.loc[row, col] = value
        e.write_kobo(f)
    return mutate


def _kobo_columns(fn: Callable[[pd.DataFrame], pd.DataFrame]):
    def mutate(e: Env):
        e.write_kobo(fn(e.kobo_frame()))
    return mutate


def _alias_bomb(levels: int = 7) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _xlsform_edit(sheet_xml_edit: Callable[[str, str], str]):
    """Rewrite the instrument workbook with an edit of each sheet's XML (name, text) -> text."""
    def mutate(e: Env):
        data = e.form.read_bytes()
        tmp = e.form.with_suffix(".tmp")
        with zipfile.ZipFile(e.form) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                content = zin.read(info.filename)
                if re.match(r"xl/worksheets/sheet\d+\.xml", info.filename):
                    content = sheet_xml_edit(info.filename, content.decode("utf-8")).encode("utf-8")
                zout.writestr(info, content)
        assert tmp.read_bytes() != data
        tmp.replace(e.form)
    return mutate


def _form_cell(sheet: str, column: str, row_match: str, value: str):
    """Set one cell of the instrument (with openpyxl), in the row whose 'name' (or first cell) is row_match."""
    def mutate(e: Env):
        import openpyxl
        wb = openpyxl.load_workbook(e.form)
        ws = wb[sheet]
        header = [c.value for c in ws[1]]
        col = header.index(column) + 1
        key = header.index("name") + 1 if "name" in header else 1
        for r in range(2, ws.max_row + 1):
            if str(ws.cell(r, key).value) == row_match:
                ws.cell(r, col).value = value
                break
        else:
            raise AssertionError(f"no row {row_match!r} in {sheet}")
        wb.save(e.form)
    return mutate


def _noop(e: Env) -> None:
    pass


LONG_NAME = "N" * 5000

IMPORT_CASES = [
    # identifiers (issue 10 "unsafe values")
    pytest.param(Case(IMPORT, _csv(None, "partners.csv", "P01,", "../../x,"),
                      (r"partners\.csv", r"row 2", r"'partner_id'", r"'\.\./\.\./x' is not a valid ID")),
                 id="import-partner-id-traversal"),
    pytest.param(Case(IMPORT, _csv(None, "partners.csv", "P02,", "/etc/passwd,"),
                      (r"partners\.csv", r"row 3", r"'/etc/passwd' is not a valid ID")),
                 id="import-partner-id-absolute-path"),
    pytest.param(Case(IMPORT, _csv(None, "programs.csv", "P01-A,P01", "P01 A,P01"),
                      (r"programs\.csv", r"row 2", r"'program_id'", r"'P01 A' is not a valid ID")),
                 id="import-program-id-space"),
    pytest.param(Case(IMPORT, _csv(None, "students.csv", "000101,Alvarez", "0" * 65 + ",Alvarez"),
                      (r"students\.csv", r"row 2", r"'Student Number'", r"not a valid ID")),
                 id="import-student-id-too-long"),
    pytest.param(Case(IMPORT, _csv(None, "grades.csv", "000101,2025-26-Q1", "000101,../2025-26-Q1"),
                      (r"grades\.csv", r"row 2", r"'Term'", r"not a valid ID")),
                 id="import-term-id-traversal"),
    pytest.param(Case(IMPORT, _csv(None, "students.csv", "000101,Alvarez,0101", "000101,Alvarez,01/01"),
                      (r"students\.csv", r"row 2", r"'School Code'", r"'01/01' is not a valid ID")),
                 id="import-school-id-slash"),
    pytest.param(Case(IMPORT, _csv(None, "programs.csv", "P02-A,P02", "P02;rm,P02"),
                      (r"programs\.csv", r"row 3", r"'P02;rm' is not a valid ID")),
                 id="import-program-id-semicolon"),
    pytest.param(Case(IMPORT, _csv(None, "partners.csv", "Riverbend Regional Hospital", LONG_NAME),
                      (r"partners\.csv", r"row 2", r"'name'", r"5,000 characters", r"longer than the 500")),
                 id="import-partner-name-too-long"),
    # files
    pytest.param(Case(IMPORT, _csv(None, "partners.csv", "partner_id,name,sector", "partner_id,name,name"),
                      (r"partners\.csv", r"row 1", r"'name' appears twice, in columns 2 and 3")),
                 id="import-duplicate-header"),
    pytest.param(Case(IMPORT, lambda e: (e.src / "partners.csv").write_bytes(
        (e.src / "partners.csv").read_text().replace("Hospital", "Hospital Peña").encode("latin-1")),
        (r"partners\.csv", r"row 2", r"not valid utf-8", r"encoding:")), id="import-latin1-row"),
    pytest.param(Case(IMPORT, lambda e: (e.src / "wbl_hours.csv").write_bytes(b""),
                      (r"wbl_hours\.csv", r"empty \(0 bytes\)")), id="import-zero-byte-file"),
    pytest.param(Case(IMPORT, lambda e: (e.src / "wbl_hours.csv").unlink(),
                      (r"wbl_hours\.csv", r"file not found")), id="import-missing-file"),
    pytest.param(Case(IMPORT, lambda e: (pd.DataFrame({"x": [1]}).to_excel(e.src / "partners.xlsx", sheet_name="Notes",
                                                                           index=False),
                                         _write_sheet(e.src / "partners.xlsx"), e.map_entry("partners", file="partners.xlsx")),
                      (r"partners\.xlsx", r"on sheet 'Partners'", r"\['Notes', 'Partners'\]", r"sheet: Partners")),
                 id="import-xlsx-other-sheet"),
    pytest.param(Case(IMPORT, lambda e: (_write_sheet(e.src / "p.xlsx", first=True),
                                         e.map_entry("partners", file="p.xlsx", sheet="Roster")),
                      (r"p\.xlsx", r"no sheet named 'Roster'", r"Partners")), id="import-xlsx-missing-sheet"),
    pytest.param(Case(IMPORT, lambda e: (_write_sheet(e.src / "p.xlsx", first=True, repeat="name"),
                                         e.map_entry("partners", file="p.xlsx")),
                      (r"p\.xlsx", r"sheet 'Partners'", r"row 1", r"'name' appears twice, in columns B and F")),
                 id="import-xlsx-duplicate-header"),
    pytest.param(Case(IMPORT, _csv(None, "partners.csv", "P02,Harbor", "P02,\"Harbor"),
                      (r"partners\.csv", r"row 3", r"never closed")), id="import-unclosed-quote"),
    pytest.param(Case(IMPORT, _csv(None, "partners.csv", "P02,Harbor Community College", "P02,Harbor,Community,College"),
                      (r"partners\.csv", r"row 3", r"7 values but the header has 5")), id="import-too-many-values"),
    pytest.param(Case(IMPORT, lambda e: e.map_entry("attendance_daily", delimiter=","),
                      (r"attendance_2025_26\.csv", r"';'-separated", r"delimiter")), id="import-wrong-delimiter"),
    pytest.param(Case(IMPORT, _csv(None, "students.csv", "03/14/2010", "14/03/2010"),
                      (r"students\.csv", r"row 2", r"'DOB'", r"'14/03/2010'")), id="import-bad-date"),
    pytest.param(Case(IMPORT, _csv(None, "students.csv", "000101,Alvarez,0101,9", "000101,Alvarez,0101,19"),
                      (r"students\.csv", r"row 2", r"'Grade'", r"19")), id="import-grade-out-of-range"),
    pytest.param(Case(IMPORT, _csv(None, "programs.csv", ",internship,", ",summer_camp,"),
                      (r"programs\.csv", r"row 2", r"'type'", r"'summer_camp'")), id="import-unknown-category"),
    pytest.param(Case(IMPORT, _csv(None, "programs.csv", "P01-A,P01", "P01-A,P09"),
                      (r"programs\.csv", r"row 2", r"'partner_id'", r"'P09'")), id="import-unknown-reference"),
    pytest.param(Case(IMPORT, _csv(None, "grades.csv", "2025-26-Q1", "2030-31-Q1"),
                      (r"grades\.csv", r"row 2", r"'Term'", r"unknown term '2030-31-Q1'")), id="import-unknown-term"),
    pytest.param(Case(IMPORT, lambda e: e.edit(e.src / "partners.csv", "P02,Harbor",
                                               "P01,Harbor"),
                      (r"partners\.csv", r"row 3", r"'P01' also appears in row 2")), id="import-key-conflict"),
    # the column map
    pytest.param(Case(IMPORT, lambda e: e.map_entry("partners", colums={"a": "b"}),
                      (r"map\.yml", r"'colums'", r"did you mean 'columns'")), id="map-unknown-key"),
    pytest.param(Case(IMPORT, lambda e: e.map_entry("partners", table="partner"),
                      (r"map\.yml", r"unknown table 'partner'")), id="map-unknown-table"),
    pytest.param(Case(IMPORT, lambda e: e.map_entry("programs", recode={"type": {"I": "summer_camp"}}),
                      (r"map\.yml", r"recode target 'summer_camp'")), id="map-bad-recode-target"),
    pytest.param(Case(IMPORT, lambda e: e.map.write_text(e.map.read_text() + "\n  - table: [\n"),
                      (r"map\.yml", r"row \d+", r"not valid YAML")), id="map-malformed-yaml"),
    pytest.param(Case(IMPORT, lambda e: e.map.write_text(_alias_bomb() + e.map.read_text().replace(
        "tables:", "x-bomb: *a6\ntables:")), (r"map\.yml", r"row \d+", r"expands to more than")),
                 id="map-alias-bomb"),
    pytest.param(Case(IMPORT, lambda e: e.map.write_text("x-a: &a [*a]\n" + e.map.read_text()),
                      (r"map\.yml", r"recursive alias|undefined alias")), id="map-recursive-alias"),
    pytest.param(Case(IMPORT, lambda e: e.map.write_text(e.map.read_text() + "\n# " + "x" * 1_100_000 + "\n"),
                      (r"map\.yml", r"more than the 1,000,000")), id="map-file-too-large"),
    pytest.param(Case(IMPORT, lambda e: e.map_entry("partners", constants={"status": "a" * 3000}),
                      (r"map\.yml", r"row \d+", r"3,000 characters")), id="map-value-too-long"),
    pytest.param(Case(IMPORT, lambda e: e.map.unlink(), (r"map\.yml", r"column map not found")),
                 id="map-missing"),
    pytest.param(Case(IMPORT, lambda e: e.edit(e.map, "columns: {partner_id: partner_id,",
                                               "columns: {partner_id: Partner ID,"),
                      (r"partners\.csv", r"row 1", r"'Partner ID'", r"not in the file")), id="map-header-not-in-file"),
    # the output folder
    pytest.param(Case(IMPORT, lambda e: (e.dd / "notes.txt").write_text("mine"),
                      (r"dd", r"did not write \(notes\.txt\)", r"records")), id="out-foreign-file"),
    pytest.param(Case(IMPORT, lambda e: (e.dd / "photos").mkdir(),
                      (r"dd", r"photos/")), id="out-foreign-folder"),
    pytest.param(Case(lambda e: ["import", e.src, "--map", e.map, "--out", e.cfg], _noop,
                      (r"district\.yml", r"not a folder")), id="out-is-a-file"),
    pytest.param(Case(lambda e: ["import", e.root / "nowhere", "--map", e.map, "--out", e.dd, "--config", e.cfg],
                      _noop, (r"nowhere", r"source folder not found")), id="import-source-missing"),
]


def _write_sheet(path: Path, *, first: bool = False, repeat: str | None = None) -> None:
    """A workbook whose partners table is on a sheet 'Partners' (after a 'Notes' sheet unless ``first``)."""
    import openpyxl
    frame = pd.read_csv(EXAMPLE / "partners.csv", dtype=str)
    if repeat:
        frame = pd.concat([frame, frame[[repeat]]], axis=1)
    wb = openpyxl.load_workbook(path) if path.exists() else openpyxl.Workbook()
    if not path.exists():
        wb.remove(wb.active)
    ws = wb.create_sheet("Partners", 0 if first else None)
    ws.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        ws.append(list(row))
    wb.save(path)


CONFIG_CASES = [
    pytest.param(Case(IMPORT, lambda e: e.config_edit(lambda d: d["privacy"].update(profile="publik")),
                      (r"district\.yml", r"'privacy\.profile'", r"unknown privacy profile 'publik'",
                       r"did you mean 'public'")), id="config-unknown-profile"),
    pytest.param(Case(IMPORT, lambda e: e.config_edit(lambda d: d.update(tresholds=d.pop("thresholds"))),
                      (r"district\.yml", r"'tresholds'", r"did you mean 'thresholds'")), id="config-misspelt-top-key"),
    pytest.param(Case(IMPORT, lambda e: e.config_edit(lambda d: d["terms"][2].pop("school_year")),
                      (r"district\.yml", r"'terms\[2\]\.school_year'", r"missing required key")),
                 id="config-term-without-school-year"),
    pytest.param(Case(IMPORT, lambda e: e.config_edit(lambda d: d["terms"][0].update(id="../../x")),
                      (r"district\.yml", r"'terms\[0\]\.id'", r"not a valid ID")), id="config-term-id-traversal"),
    pytest.param(Case(IMPORT, lambda e: e.config_edit(lambda d: d["schools"][0].update(school_id="01 01")),
                      (r"district\.yml", r"'schools\[0\]\.school_id'", r"not a valid ID")), id="config-school-id-space"),
    pytest.param(Case(IMPORT, lambda e: e.config_edit(lambda d: d["valuation"].update(hourly_rate={"x": 1})),
                      (r"district\.yml", r"'valuation\.hourly_rate'", r"did you mean 'hourly_rates'")),
                 id="config-nested-unknown-key"),
    pytest.param(Case(IMPORT, lambda e: e.config_edit(lambda d: d["grade_scale"]["numeric"].update({"pass": 60})),
                      (r"district\.yml", r"'grade_scale\.numeric\.pass'", r"did you mean 'pass_mark'")),
                 id="config-deep-unknown-key"),
    pytest.param(Case(IMPORT, lambda e: e.config_edit(lambda d: d["terms"][1].update(start_date="2024-10-28")),
                      (r"district\.yml", r"'terms\[1\]\.start_date'", r"did you mean 'start'")),
                 id="config-term-unknown-key"),
    pytest.param(Case(IMPORT, lambda e: e.config_edit(lambda d: d["thresholds"].update(chronic_absense_rate=0.2)),
                      (r"district\.yml", r"'thresholds\.chronic_absense_rate'", r"did you mean 'chronic_absence_rate'")),
                 id="config-threshold-typo"),
    pytest.param(Case(IMPORT, lambda e: e.config_edit(lambda d: d["privacy"].update(min_group=5)),
                      (r"district\.yml", r"'privacy\.min_group'", r"unknown privacy setting")),
                 id="config-privacy-unknown-key"),
    pytest.param(Case(IMPORT, lambda e: e.config_edit(lambda d: d["district"].update(name=LONG_NAME)),
                      (r"district\.yml", r"line \d+", r"5,000 characters")), id="config-name-too-long"),
    pytest.param(Case(IMPORT, lambda e: e.cfg.write_text(_alias_bomb() + e.cfg.read_text()),
                      (r"district\.yml", r"line \d+", r"expands to more than")), id="config-alias-bomb"),
    pytest.param(Case(IMPORT, lambda e: e.cfg.write_text(e.cfg.read_text() + "\nterms: [\n"),
                      (r"district\.yml", r"not valid YAML at line \d+")), id="config-malformed-yaml"),
    pytest.param(Case(IMPORT, lambda e: e.config_edit(lambda d: d.update(terms={"id": "x"})),
                      (r"district\.yml", r"'terms'", r"must be a list")), id="config-terms-not-a-list"),
    pytest.param(Case(IMPORT, lambda e: e.config_edit(lambda d: d["terms"][0].update(end="2024-08-01")),
                      (r"district\.yml", r"'terms\[0\]'", r"ends .* before it starts")), id="config-term-backwards"),
    pytest.param(Case(IMPORT, lambda e: e.config_edit(lambda d: d["privacy"].update(min_group_n=2)),
                      (r"district\.yml", r"'privacy\.min_group_n'")), id="config-min-n-too-small"),
    pytest.param(Case(lambda e: ["validate", e.dd],
                      lambda e: e.edit(e.dd / "district.yml", "profile: public", "profile: publik"),
                      (r"dd/district\.yml", r"unknown privacy profile 'publik'")), id="validate-unknown-profile"),
    pytest.param(Case(lambda e: ["validate", e.dd],
                      lambda e: e.edit(e.dd / "district.yml", "thresholds:", "tresholds:"),
                      (r"dd/district\.yml", r"'tresholds'")), id="validate-misspelt-key"),
]

RECORDS_CASES = [
    pytest.param(Case(RECORDS, _set_records("investments.csv", text=b""),
                      (r"investments\.csv", r"row 1", r"empty \(0 bytes\)")), id="records-zero-byte"),
    pytest.param(Case(RECORDS, _set_records("investments.csv", text="partner_id,term,amount,amount\nP01,x,1,2\n"),
                      (r"investments\.csv", r"row 1", r"'amount' appears twice, in columns 3 and 4")),
                 id="records-duplicate-header"),
    pytest.param(Case(RECORDS, _set_records("investments.csv", text=(
        ",".join(GOOD_INV) + "\n" + ",".join(GOOD_INV.values()) + "\n"
        + ",".join(dict(GOOD_INV, description="caf\xe9").values()) + "\n").encode("latin-1")),
                      (r"investments\.csv", r"row 3", r"not valid utf-8")), id="records-latin1-row"),
    pytest.param(Case(RECORDS, _set_records("investments.csv", [dict(GOOD_INV, amout="1")]),
                      (r"investments\.csv", r"row 1", r"unknown column 'amout'")), id="records-unknown-column"),
    pytest.param(Case(RECORDS, _set_records("investments.csv", [{k: v for k, v in GOOD_INV.items() if k != "amount"}]),
                      (r"investments\.csv", r"row 1", r"required column 'amount'")), id="records-missing-column"),
    pytest.param(Case(RECORDS, _set_records("investments.csv", [dict(GOOD_INV, partner_id="P99")]),
                      (r"investments\.csv", r"row 2", r"'partner_id'", r"P99")), id="records-unknown-partner"),
    pytest.param(Case(RECORDS, _set_records("investments.csv", [dict(GOOD_INV, term="2031-32-Q1")]),
                      (r"investments\.csv", r"row 2", r"'term'")), id="records-unknown-term"),
    pytest.param(Case(RECORDS, _set_records("investments.csv", [dict(GOOD_INV, amount="twelve")]),
                      (r"investments\.csv", r"row 2", r"'amount'", r"expected a number")), id="records-amount-text"),
    pytest.param(Case(RECORDS, _set_records("investments.csv", [dict(GOOD_INV, amount="-5")]),
                      (r"investments\.csv", r"row 2", r"'amount'", r"negative")), id="records-amount-negative"),
    pytest.param(Case(RECORDS, _set_records("investments.csv", [dict(GOOD_INV, unit="weeks")]),
                      (r"investments\.csv", r"row 2", r"'unit'", r"weeks")), id="records-unknown-unit"),
    pytest.param(Case(RECORDS, _set_records("investments.csv", [GOOD_INV]),
                      (r"investments\.csv", r"row 2", r"already in the ledger")), id="records-reimport-same-entry"),
    pytest.param(Case(RECORDS, _set_records("investments.csv", [dict(GOOD_INV, description="d" * 50_000)]),
                      (r"investments\.csv", r"row 2", r"'description'", r"longer than 2000")),
                 id="records-description-too-long"),
    pytest.param(Case(RECORDS, _set_records("checkins.csv", [dict(GOOD_CHK, checkin_id="C2", date="01/10/2025")]),
                      (r"checkins\.csv", r"row 2", r"'date'", r"YYYY-MM-DD")), id="records-checkin-bad-date"),
    pytest.param(Case(RECORDS, _set_records("checkins.csv", [GOOD_CHK]),
                      (r"checkins\.csv", r"row 2", r"'checkin_id'", r"'C1' already exists")),
                 id="records-checkin-exists"),
    pytest.param(Case(RECORDS, _set_records("checkin_attendees.csv", [{"checkin_id": "C9", "name": "Bo",
                                                                       "side": "partner", "role": ""}]),
                      (r"checkin_attendees\.csv", r"row 2", r"'checkin_id'", r"C9")), id="records-orphan-child"),
    pytest.param(Case(RECORDS, _set_records("goals.csv", [dict(partner_id="P01", description="x", kpi_id="nope",
                                                               due_term="2025-26-Q4", entered_by="Ana")]),
                      (r"goals\.csv", r"row 2", r"'kpi_id'", r"nope")), id="records-goal-unknown-kpi"),
    pytest.param(Case(RECORDS, _set_records("investments.csv", text=",".join(GOOD_INV) + "\n\"P01,2025-26-Q1\n"),
                      (r"investments\.csv", r"row 2", r"never closed")), id="records-unbalanced-quote"),
    pytest.param(Case(lambda e: RECORDS(e, e.recs / "ledger.csv"), _set_records("ledger.csv", [GOOD_INV]),
                      (r"ledger\.csv", r"cannot tell what kind")), id="records-unknown-file-kind"),
    pytest.param(Case(RECORDS, lambda e: [p.unlink() for p in e.recs.iterdir()],
                      (r"recs", r"no records CSV files found")), id="records-empty-folder"),
    pytest.param(Case(lambda e: RECORDS(e, e.recs / "missing.csv"), _noop,
                      (r"missing\.csv", r"file not found")), id="records-file-missing"),
    pytest.param(Case(RECORDS, _set_records("investments.csv", [dict(GOOD_INV, partner_id="../x")]),
                      (r"investments\.csv", r"row 2", r"'partner_id'")), id="records-partner-traversal"),
]

KOBO_CASES = [
    pytest.param(Case(KOBO, _kobo_set("partner_id", "P99"),
                      (r"kobo\.csv", r"row 2", r"'partner_id'", r"'P99' is not a partner of the district")),
                 id="kobo-unknown-partner"),
    pytest.param(Case(KOBO, _kobo_set("partner_id", "../../x", 1),
                      (r"kobo\.csv", r"row 3", r"'partner_id'", r"not a valid ID")), id="kobo-partner-traversal"),
    pytest.param(Case(KOBO, _kobo_columns(lambda f: f.assign(**{"g_extra/q_new": "5"})),
                      (r"kobo\.csv", r"row 1", r"'g_extra/q_new'", r"--ignore-columns")), id="kobo-unknown-column"),
    pytest.param(Case(lambda e: KOBO(e, "--ignore-columns", "g_extra/q_new"),
                      _kobo_columns(lambda f: f.assign(**{"g_extra/q_new": "5", "other": "1"})),
                      (r"kobo\.csv", r"'other'")), id="kobo-ignore-columns-partial"),
    pytest.param(Case(KOBO, _kobo_set("d_ds2", "7"),
                      (r"kobo\.csv", r"row 2", r"d_ds2'", r"'7' is not a choice")), id="kobo-bad-choice"),
    pytest.param(Case(KOBO, _kobo_set("staff_hours_month", "ten"),
                      (r"kobo\.csv", r"row 2", r"staff_hours_month'", r"expected a number")), id="kobo-not-a-number"),
    pytest.param(Case(KOBO, _kobo_set("staff_hours_month", "2.5"),
                      (r"kobo\.csv", r"row 2", r"whole number")), id="kobo-not-whole"),
    pytest.param(Case(KOBO, _kobo_set("staff_hours_month", "5000", 1),
                      (r"kobo\.csv", r"row 3", r"staff_hours_month")), id="kobo-constraint"),
    pytest.param(Case(KOBO, _kobo_set("d_so1", ""),
                      (r"kobo\.csv", r"row 2", r"d_so1")), id="kobo-required-missing"),
    pytest.param(Case(KOBO, _kobo_set("role", "teacher"),
                      (r"kobo\.csv", r"row 2", r"'role'", r"'teacher'")), id="kobo-bad-role"),
    pytest.param(Case(KOBO, _kobo_columns(lambda f: f.drop(columns="role")),
                      (r"kobo\.csv", r"row 1", r"'role'", r"no 'role' column", r"--role")), id="kobo-no-role-column"),
    pytest.param(Case(KOBO, _kobo_set("_uuid", ""),
                      (r"kobo\.csv", r"row 2", r"'_uuid'", r"submission id is empty")), id="kobo-empty-uuid"),
    pytest.param(Case(KOBO, _kobo_set("_submission_time", "yesterday"),
                      (r"kobo\.csv", r"row 2", r"'_submission_time'", r"ISO 8601")), id="kobo-bad-submission-time"),
    pytest.param(Case(KOBO, lambda e: e.kobo.write_text("a,b\n1,2\n"),
                      (r"kobo\.csv", r"no column matches a question")), id="kobo-no-question-columns"),
    pytest.param(Case(KOBO, lambda e: e.kobo.write_bytes(b""),
                      (r"kobo\.csv", r"empty \(0 bytes\)")), id="kobo-zero-byte"),
    pytest.param(Case(KOBO, _kobo_columns(lambda f: f.rename(columns={"_index": "__version__"})),
                      (r"kobo\.csv", r"'__version__' appears twice")), id="kobo-duplicate-header"),
    pytest.param(Case(KOBO, lambda e: e.kobo.write_bytes(e.kobo.read_bytes().replace(b"Ana", b"Pe\xf1a")),
                      (r"kobo\.csv", r"row 2", r"not valid utf-8")), id="kobo-latin1"),
    pytest.param(Case(KOBO, _kobo_columns(lambda f: f.assign(**{
        next(c for c in f.columns if c.endswith("/organisation")): "x" * 50_000})),
                      (r"kobo\.csv", r"row 2", r"organisation'", r"50,000 characters")), id="kobo-answer-too-long"),
    pytest.param(Case(KOBO, lambda e: e.kobo.unlink(), (r"kobo\.csv", r"file not found")), id="kobo-missing-file"),
    pytest.param(Case(lambda e: KOBO(e, "--partner-id", "P77"), _noop,
                      (r"kobo\.csv", r"row 2", r"--partner-id", r"'P77'")), id="kobo-partner-option-unknown"),
]

INSTRUMENT_CASES = [
    pytest.param(Case(VALIDATE_FORM, lambda e: e.form.write_text("not a workbook"),
                      (r"form\.xlsx", r"cannot be read as an \.xlsx workbook")), id="form-not-xlsx"),
    pytest.param(Case(VALIDATE_FORM, lambda e: e.form.unlink(), (r"form\.xlsx", r"file not found")),
                 id="form-missing"),
    pytest.param(Case(VALIDATE_FORM, _form_cell("survey", "type", "d_ds1", "select_won likert4"),
                      (r"form\.xlsx", r"sheet 'survey'", r"row \d+", r"'type'", r"unknown question type")),
                 id="form-unknown-type"),
    pytest.param(Case(VALIDATE_FORM, _form_cell("survey", "fit::dimension", "d_ds1", "data sharing!"),
                      (r"form\.xlsx", r"sheet 'survey'", r"row \d+", r"'fit::dimension'")), id="form-bad-dimension"),
    pytest.param(Case(VALIDATE_FORM, _form_cell("survey", "relevant", "d_data_sharing_why", "${nope} <= 2"),
                      (r"form\.xlsx", r"sheet 'survey'", r"row \d+", r"'relevant'", r"nope")),
                 id="form-relevant-unknown-name"),
    pytest.param(Case(VALIDATE_FORM, _form_cell("survey", "name", "d_ds2", "d_ds1"),
                      (r"form\.xlsx", r"sheet 'survey'", r"row \d+", r"d_ds1")), id="form-duplicate-name"),
    pytest.param(Case(VALIDATE_FORM, _xlsform_edit(lambda n, t: t.replace(">type<", ">kind<", 1)
                                                   if n.endswith("sheet1.xml") else t),
                      (r"form\.xlsx", r"sheet 'survey'", r"row 1", r"'type'")), id="form-missing-type-column"),
    pytest.param(Case(lambda e: ["survey", "validate", e.form, "--previous-version", "2099010101"], _noop,
                      (r"form\.xlsx", r"version")), id="form-version-not-increasing"),
    pytest.param(Case(VALIDATE_FORM, _form_cell("survey", "constraint", "respondent_role", "string-length(. <= 120"),
                      (r"form\.xlsx", r"sheet 'survey'", r"row \d+", r"'constraint'")), id="form-bad-expression"),
    pytest.param(Case(KOBO, lambda e: e.form.write_text("not a workbook"),
                      (r"form\.xlsx", r"cannot be read")), id="kobo-bad-instrument"),
]

EXPORT_CASES = [
    pytest.param(Case(lambda e: ["records", "export", e.root / "district.yml", "--data-dir", e.dd], _noop,
                      (r"district\.yml", r"not a folder")), id="records-export-out-is-a-file"),
    pytest.param(Case(lambda e: ["survey", "export", "--out", e.root / "district.yml", "--data-dir", e.dd,
                                 "--instrument", e.form], _noop,
                      (r"district\.yml", r"not a folder")), id="survey-export-out-is-a-file"),
]

ALL = IMPORT_CASES + CONFIG_CASES + RECORDS_CASES + KOBO_CASES + INSTRUMENT_CASES + EXPORT_CASES


@pytest.mark.parametrize("case", ALL)
def test_bad_input_is_refused_cleanly(env, case, capsys):
    case.mutate(env)
    before = snapshot(env.root)
    rc, out, err = run_cli(case.argv(env), capsys)
    text = out + err
    assert rc == 2, text
    assert "Traceback" not in text
    assert err.startswith("error: "), err
    message = err[len("error: "):]
    for pattern in case.expect:
        assert re.search(pattern, message, re.IGNORECASE), f"{pattern!r} not in: {message[:2000]}"
    assert len(message) < 5000, "the message should be short (values are shortened)"
    assert snapshot(env.root) == before, "the command changed files or the store"


def test_there_are_at_least_90_cases():
    assert len(ALL) >= 90, len(ALL)


@pytest.mark.parametrize("case", [IMPORT_CASES[0], CONFIG_CASES[0], RECORDS_CASES[0], KOBO_CASES[0]])
def test_bad_input_through_a_real_process(env, case):
    """The same contract through ``python -m partner_analysis`` in a separate process."""
    case.mutate(env)
    before = snapshot(env.root)
    proc = subprocess.run([sys.executable, "-m", "partner_analysis", *map(str, case.argv(env))],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert re.search(case.expect[0], proc.stderr)
    assert snapshot(env.root) == before


STREAMED_IMPORT_CASES = [c for c in IMPORT_CASES if c.values[0].argv is IMPORT]


@pytest.mark.parametrize("case", STREAMED_IMPORT_CASES)
def test_bad_import_is_refused_the_same_when_streamed(env, case, capsys):
    """``--stream-above 0`` validates every table that qualifies in chunks (data/stream.py): same refusal.

    The same problems are named (the order may differ: a streamed table is checked after the
    others), with the same exit code, and nothing is written or lost.
    """
    case.mutate(env)
    before = snapshot(env.root)
    rc_whole, _, err_whole = run_cli(case.argv(env), capsys)
    rc, out, err = run_cli([*case.argv(env), "--stream-above", "0"], capsys)
    assert (rc, rc_whole) == (2, 2), out + err
    assert "Traceback" not in out + err
    assert err.splitlines()[0] == err_whole.splitlines()[0]
    assert sorted(err.splitlines()[1:]) == sorted(err_whole.splitlines()[1:])
    assert snapshot(env.root) == before, "the command changed files or the store"
