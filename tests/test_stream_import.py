"""Streaming import (data/stream.py): a CSV validated in chunks, written as partitioned parquet.

Every test reads a file many times larger than the chunk size (``block_bytes`` of a few KiB), with
quoted values that span lines and blank lines, so a record's spreadsheet row differs from its line
number and from its position in its chunk. The expected rows are counted here from the records
written (header = row 1, a blank line is a row, a quoted multi-line value is one row), and the
streamed import is compared with the whole-file import of the same files.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from partner_analysis.data.dataset import read_dataset
from partner_analysis.data.load import import_source
from partner_analysis.data.stream import StreamOptions
from sis_attendance import DAYS, N_STUDENTS, column_map
from partner_analysis.data.validate import ImportValidationError
from partner_analysis.exceptions import InputDataError

SMALL = StreamOptions(above=0, block_bytes=2 * 1024)
MAP = column_map()


def _records() -> list[list[str] | None]:
    """Attendance records in file order; None is a blank line. Every 7th record has a two-line note."""
    out: list[list[str] | None] = []
    codes = "PPPPAETP"
    for s in range(N_STUDENTS):
        for d, day in enumerate(DAYS):
            note = "called home\nno answer" if (s * len(DAYS) + d) % 7 == 0 else ""
            out.append([f"S{s:04d}", day.strftime("%m/%d/%Y"), codes[(s + d) % len(codes)], note])
        if s % 9 == 4:
            out.append(None)
    return out


def _write(folder: Path, records: list[list[str] | None]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "map.yml").write_text(MAP, encoding="utf-8")
    pd.DataFrame({"Student Number": [f"S{s:04d}" for s in range(N_STUDENTS)], "School Code": "0101",
                  "Grade": "10"}).to_csv(folder / "students.csv", index=False)
    lines = ["Student Number,Att Date,Att Code,Note"]
    for r in records:
        lines.append("" if r is None else ",".join(r[:3]) + "," + (f'"{r[3]}"' if r[3] else ""))
    (folder / "attendance.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _row_of(records, index: int) -> int:
    """Spreadsheet row of ``records[index]``: the header is row 1, every record (blank ones too) one row."""
    return index + 2


def _line_of(records, index: int) -> int:
    """Physical line number of ``records[index]`` in the file (a two-line note takes two lines)."""
    return 2 + sum(1 + (r is not None and "\n" in r[3]) for r in records[:index])


def _late(records, fraction: float = 0.9) -> int:
    i = int(len(records) * fraction)
    while records[i] is None:
        i += 1
    return i


def _import(folder: Path, out: Path, stream):
    return import_source(folder, map_path=folder / "map.yml", out=out, stream=stream)


def _refusal(folder: Path, out: Path, stream) -> ImportValidationError | InputDataError:
    with pytest.raises(InputDataError) as info:
        _import(folder, out, stream)
    return info.value


def test_the_file_spans_many_chunks_and_rows_differ_from_lines(tmp_path):
    records = _records()
    folder = _write(tmp_path / "src", records)
    assert (folder / "attendance.csv").stat().st_size > 10 * SMALL.block_bytes
    i = _late(records)
    assert _line_of(records, i) > _row_of(records, i) + 50  # the multi-line notes matter


def test_an_error_in_a_late_chunk_names_its_spreadsheet_row(tmp_path):
    records = _records()
    i = _late(records)
    records[i][2] = "Q"
    folder = _write(tmp_path / "src", records)
    err = _refusal(folder, tmp_path / "dd", SMALL)
    assert (Path(err.path).name, err.row, err.column, err.value) == ("attendance.csv", _row_of(records, i),
                                                                     "Att Code", "Q")
    assert str(err) == str(_refusal(folder, tmp_path / "dd", None))  # the whole-file import says the same
    assert not (tmp_path / "dd").exists()


def test_a_reference_error_and_a_bad_date_in_different_chunks_are_both_named(tmp_path):
    records = _records()
    i, j = _late(records, 0.3), _late(records, 0.8)
    records[i][0] = "S9999"
    records[j][1] = "13/45/2025"
    folder = _write(tmp_path / "src", records)
    err = _refusal(folder, tmp_path / "dd", SMALL)
    found = {(e.row, e.column, e.value) for e in err.errors}
    assert found == {(_row_of(records, i), "Student Number", "S9999"), (_row_of(records, j), "Att Date", "13/45/2025")}


def test_a_key_repeated_with_other_values_in_another_chunk_names_both_rows(tmp_path):
    records = _records()
    first = 3
    clash = list(records[first])
    clash[2] = "A" if records[first][2] != "A" else "P"
    records.append(clash)
    folder = _write(tmp_path / "src", records)
    err = _refusal(folder, tmp_path / "dd", SMALL)
    assert err.row == _row_of(records, len(records) - 1)
    assert f"also appears in row {_row_of(records, first)}" in str(err)
    assert str(err) == str(_refusal(folder, tmp_path / "dd", None))


def test_exact_repeats_across_chunks_are_dropped_and_parts_equal_the_whole_file_import(tmp_path):
    records = _records()
    records += [list(records[5]), list(records[700])]  # exact repeats, far from the originals
    folder = _write(tmp_path / "src", records)
    streamed = _import(folder, tmp_path / "a", StreamOptions(above=0, block_bytes=2 * 1024, bucket_bytes=8 * 1024))
    whole = _import(folder, tmp_path / "b", None)
    parts = sorted((tmp_path / "a" / "attendance_daily.parquet").glob("*.parquet"))
    assert len(parts) > 1  # several hash buckets
    assert streamed.rows == whole.rows and streamed.dropped_duplicates == whole.dropped_duplicates
    assert streamed.dropped_duplicates["attendance_daily"] == 2
    a = read_dataset(tmp_path / "a")["attendance_daily"]
    b = read_dataset(tmp_path / "b")["attendance_daily"]
    assert dict(a.dtypes.astype(str)) == dict(b.dtypes.astype(str))
    key = ["student_id", "date"]
    pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True).astype(object),
                                  b.sort_values(key).reset_index(drop=True).astype(object))
    # one student's rows live in one part (what makes the per-part key check exact)
    owners = pd.concat([pd.read_parquet(p, columns=["student_id"]).assign(part=p.name) for p in parts])
    assert owners.groupby("student_id", observed=True)["part"].nunique().max() == 1


@pytest.mark.parametrize("spoil, expect", [
    (lambda line: line + ",extra,cells", r"values but the header has"),
    (lambda line: line.replace(",", ',"', 1), r"row \d+"),  # pandas reads on; pyarrow refuses it
], ids=["ragged-row", "unclosed-quote"])
def test_a_line_the_parser_refuses_is_named_as_the_whole_file_import_names_it(tmp_path, spoil, expect):
    import re
    records = _records()
    folder = _write(tmp_path / "src", records)
    path = folder / "attendance.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    i = _late(records)
    n = _line_of(records, i) - 1
    lines[n] = spoil(lines[n])
    path.write_text("\n".join(lines), encoding="utf-8")
    err = _refusal(folder, tmp_path / "dd", SMALL)
    assert re.search(expect, str(err))
    assert err.row is not None and str(err) == str(_refusal(folder, tmp_path / "dd", None))


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_failed_streamed_import_leaves_the_data_dir_as_it_was_and_layouts_replace_each_other(tmp_path):
    records = _records()
    folder = _write(tmp_path / "src", records)
    dd = tmp_path / "dd"
    _import(folder, dd, None)  # attendance_daily.parquet is a file
    (dd / "records").mkdir()
    (dd / "records" / "investments.csv").write_text("kept\n", encoding="utf-8")
    before = _snapshot(dd)
    bad = list(records)
    bad[_late(records)] = list(bad[_late(records)])
    bad[_late(records)][2] = "Q"
    _write(tmp_path / "bad", bad)
    _refusal(tmp_path / "bad", dd, SMALL)
    assert _snapshot(dd) == before

    _import(folder, dd, SMALL)  # the file becomes a folder of parts
    assert (dd / "attendance_daily.parquet").is_dir()
    streamed = read_dataset(dd)["attendance_daily"]
    _refusal(tmp_path / "bad", dd, SMALL)
    assert (dd / "attendance_daily.parquet").is_dir()
    _import(folder, dd, None)  # and back
    assert (dd / "attendance_daily.parquet").is_file()
    assert len(read_dataset(dd)["attendance_daily"]) == len(streamed) == sum(r is not None for r in records)
    assert (dd / "records" / "investments.csv").read_text(encoding="utf-8") == "kept\n"
    assert not [p for p in dd.iterdir() if p.name.startswith(".")]


def test_a_streamed_import_says_why_it_wrote_no_quality_page(tmp_path):
    """A profile without the streamed tables would call their KPIs impossible (issue #16's quality page)."""
    folder = _write(tmp_path / "src", _records())
    result = _import(folder, tmp_path / "out", SMALL)
    assert result.quality_path is None and not (tmp_path / "out" / "quality.html").exists()
    assert any("no data-quality page" in w and "partner-analysis quality" in w for w in result.warnings)
    whole = _import(folder, tmp_path / "whole", None)
    assert whole.quality_path is not None and whole.quality_path.exists()


def test_parts_are_sorted_by_student_keeping_each_students_file_order(tmp_path):
    """An export ordered by date (as SIS attendance exports often are) is stored with each part sorted by student,
    so the KPI engines' blocks of consecutive ids skip row groups by their id range; a student's rows keep the
    file's order, and the streaming engine's panel equals the in-memory one."""
    import pyarrow.parquet as pq

    from partner_analysis.kpi.engines import Engine, compute_panel

    by_date = sorted((r for r in _records() if r is not None), key=lambda r: (r[1][6:], r[1][:5]))
    by_date = [r[:3] + [""] for r in by_date]
    folder = _write(tmp_path / "src", by_date)
    _import(folder, tmp_path / "a", StreamOptions(above=0, block_bytes=2 * 1024, bucket_bytes=8 * 1024))
    parts = sorted((tmp_path / "a" / "attendance_daily.parquet").glob("*.parquet"))
    assert len(parts) > 1
    position = {(r[0], r[1]): i for i, r in enumerate(by_date)}
    for part in parts:
        t = pq.read_table(part).to_pandas()
        ids = t["student_id"].astype(str).tolist()
        assert ids == sorted(ids), part.name
        file_order = [position[(s, d.strftime("%m/%d/%Y"))] for s, d in zip(ids, t["date"])]
        for sid in set(ids):  # within a student, the rows are in the file's order
            mine = [p for s, p in zip(ids, file_order) if s == sid]
            assert mine == sorted(mine)
    _, memory = compute_panel(tmp_path / "a")
    _, stream = compute_panel(tmp_path / "a", engine=Engine("stream", partitions=3))
    for k in memory.values:
        np.testing.assert_array_equal(memory.values[k], stream.values[k], err_msg=k)
