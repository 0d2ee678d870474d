"""Streaming import, each distinct value of a chunk checked once (``StreamOptions.per_value``).

The per-value path must write exactly what the row-wise path writes (same parts, same row groups,
same schema and pandas metadata: compared byte for byte) and refuse exactly what it refuses, with
the same messages and spreadsheet rows. The files here have no blank records, so the per-value path
really runs (a spy on :func:`~partner_analysis.data.stream.per_value_chunk` counts the chunks it
took); a chunk holding a problem goes through the row-wise path, which names the row.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from partner_analysis.data import stream
from partner_analysis.data.dataset import read_dataset
from partner_analysis.data.load import import_source
from partner_analysis.data.stream import StreamOptions
from sis_attendance import DAYS, N_STUDENTS, column_map
from partner_analysis.exceptions import InputDataError

FAST = StreamOptions(above=0, block_bytes=2 * 1024, bucket_bytes=8 * 1024)
ROWWISE = StreamOptions(above=0, block_bytes=2 * 1024, bucket_bytes=8 * 1024, per_value=False)
MAP = column_map(";")


def _records() -> list[list[str]]:
    """One record per student and school day, in file order (the spreadsheet row is the index + 2)."""
    codes = "PPPPAETP"
    return [[f"S{s:04d}", day.strftime("%m/%d/%Y"), codes[(s * 3 + d) % len(codes)]]
            for s in range(N_STUDENTS) for d, day in enumerate(DAYS)]


def _write(folder: Path, records: list[list[str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "map.yml").write_text(MAP, encoding="utf-8")
    pd.DataFrame({"Student Number": [f"S{s:04d}" for s in range(N_STUDENTS)], "School Code": "0101",
                  "Grade": "10"}).to_csv(folder / "students.csv", index=False)
    lines = ["Student Number;Att Date;Att Code"] + [";".join(r) for r in records]
    (folder / "attendance.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def taken(monkeypatch) -> list[bool]:
    """Per chunk offered to the per-value path: whether it took it (the real function runs)."""
    seen: list[bool] = []
    real = stream.per_value_chunk

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        seen.append(result is not None)
        return result

    monkeypatch.setattr(stream, "per_value_chunk", spy)
    return seen


def _import(folder: Path, out: Path, options):
    return import_source(folder, map_path=folder / "map.yml", out=out, stream=options)


def _refusal(folder: Path, out: Path, options) -> InputDataError:
    with pytest.raises(InputDataError) as info:
        _import(folder, out, options)
    return info.value


def _parts(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "attendance_daily.parquet").glob("*.parquet"))}


def test_the_per_value_path_writes_the_row_wise_parts_byte_for_byte(tmp_path, taken):
    folder = _write(tmp_path / "src", _records())
    assert (folder / "attendance.csv").stat().st_size > 10 * FAST.block_bytes
    fast = _import(folder, tmp_path / "a", FAST)
    assert len(taken) > 10 and all(taken)  # every chunk went the per-value way
    slow = _import(folder, tmp_path / "b", ROWWISE)
    assert len(taken) > 10 and all(taken)  # (the row-wise import never offers one)
    a, b = _parts(tmp_path / "a"), _parts(tmp_path / "b")
    assert len(a) > 1 and a.keys() == b.keys()
    assert {k: hashlib.sha256(v).hexdigest() for k, v in a.items()} == \
        {k: hashlib.sha256(v).hexdigest() for k, v in b.items()}
    assert fast.rows == slow.rows and fast.rows["attendance_daily"] == len(_records())
    # and both hold what the whole-file import stores
    part = next(iter(sorted((tmp_path / "a" / "attendance_daily.parquet").glob("*.parquet"))))
    assert pq.ParquetFile(part).metadata.num_row_groups > 1  # one row group per chunk and part
    whole = _import(folder, tmp_path / "c", None)
    assert whole.rows == fast.rows
    key = ["student_id", "date"]
    x = read_dataset(tmp_path / "a")["attendance_daily"].sort_values(key).reset_index(drop=True)
    y = read_dataset(tmp_path / "c")["attendance_daily"].sort_values(key).reset_index(drop=True)
    assert dict(x.dtypes.astype(str)) == dict(y.dtypes.astype(str))
    pd.testing.assert_frame_equal(x.astype(object), y.astype(object))


@pytest.mark.parametrize("column, bad, header", [(1, "02/30/2026", "Att Date"), (2, "Q", "Att Code"),
                                                 (0, "S9999", "Student Number")],
                         ids=["impossible-date", "unknown-code", "unknown-student"])
def test_a_bad_value_in_a_late_chunk_is_named_with_its_row_by_the_per_value_path(tmp_path, taken, column, bad,
                                                                                  header):
    records = _records()
    i = int(len(records) * 0.85)
    records[i][column] = bad
    folder = _write(tmp_path / "src", records)
    err = _refusal(folder, tmp_path / "dd", FAST)
    assert (Path(err.path).name, err.row, err.column, err.value) == ("attendance.csv", i + 2, header, bad)
    assert "row" in str(err) and err.fix
    assert sum(taken) > 10 and not all(taken)  # earlier chunks per value; the bad one row-wise
    assert str(err) == str(_refusal(folder, tmp_path / "dd", ROWWISE))
    assert str(err) == str(_refusal(folder, tmp_path / "dd", None))  # the whole-file import says the same
    assert not (tmp_path / "dd").exists()


def test_values_that_differ_as_text_but_not_as_data_repeat_a_key_inside_a_chunk(tmp_path, taken):
    """' 09/01/2025' (a space) and '9/1/2025' read as the same date: an exact repeat, dropped as the
    whole-file import drops it; with another status it is a conflict naming both rows."""
    records = _records()
    i = int(len(records) * 0.6)
    dup = [records[i][0], " " + records[i][1], records[i][2] + " "]
    folder = _write(tmp_path / "src", records[:i + 1] + [dup] + records[i + 1:])
    fast = _import(folder, tmp_path / "a", FAST)
    whole = _import(folder, tmp_path / "b", None)
    assert fast.dropped_duplicates["attendance_daily"] == whole.dropped_duplicates["attendance_daily"] == 1
    assert fast.rows == whole.rows
    assert _parts(tmp_path / "a") == _parts(_import(folder, tmp_path / "c", ROWWISE).out)

    day = pd.Timestamp(records[i][1])
    clash = [records[i][0], f"{day.month}/{day.day}/{day.year}", "A" if records[i][2] != "A" else "P"]
    folder = _write(tmp_path / "src2", records[:i + 1] + [clash] + records[i + 1:])
    err = _refusal(folder, tmp_path / "dd", FAST)
    assert err.row == i + 3 and f"also appears in row {i + 2}" in str(err)
    assert str(err) == str(_refusal(folder, tmp_path / "dd", None))


def test_a_blank_record_and_surrounding_spaces_go_the_row_wise_way_with_the_same_result(tmp_path, taken):
    records = _records()
    lines = ["Student Number;Att Date;Att Code"] + [";".join(r) for r in records]
    lines.insert(len(lines) // 2, ";;")  # a blank record: a row number, not a row
    folder = _write(tmp_path / "src", records)
    (folder / "attendance.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    fast = _import(folder, tmp_path / "a", FAST)
    assert not all(taken) and any(taken)
    slow = _import(folder, tmp_path / "b", ROWWISE)
    assert fast.rows == slow.rows and fast.rows["attendance_daily"] == len(records)
    assert _parts(tmp_path / "a") == _parts(tmp_path / "b")
    # a bad value after the blank record keeps its spreadsheet row (the blank one counts)
    lines[-3] = lines[-3].replace(";P", ";Z").replace(";A", ";Z").replace(";E", ";Z").replace(";T", ";Z")
    (folder / "attendance.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    err = _refusal(folder, tmp_path / "dd", FAST)
    assert (err.row, err.value) == (len(lines) - 2, "Z")
    assert str(err) == str(_refusal(folder, tmp_path / "dd", None))


def test_keys_repeated_across_chunks_taken_per_value_are_dropped_or_named_as_the_whole_file_import_does(
        tmp_path, taken):
    records = _records()
    exact = [list(records[10]), list(records[900])]  # far from the originals: other chunks
    folder = _write(tmp_path / "src", records + exact)
    fast = _import(folder, tmp_path / "a", FAST)
    assert all(taken)
    whole = _import(folder, tmp_path / "b", None)
    assert fast.dropped_duplicates["attendance_daily"] == whole.dropped_duplicates["attendance_daily"] == 2
    assert fast.rows == whole.rows
    assert _parts(tmp_path / "a") == _parts(_import(folder, tmp_path / "c", ROWWISE).out)

    clash = list(records[30])
    clash[2] = "A" if clash[2] != "A" else "P"
    folder = _write(tmp_path / "src2", records + [clash])
    err = _refusal(folder, tmp_path / "dd", FAST)
    assert err.row == len(records) + 2 and "also appears in row 32" in str(err)
    assert str(err) == str(_refusal(folder, tmp_path / "dd", None))


def test_a_header_the_map_names_but_the_file_lacks_stops_the_paced_reader_with_the_whole_file_message(tmp_path):
    """The first chunk raises while the reader is blocks ahead: the read stops (no thread waits on it)."""
    folder = _write(tmp_path / "src", _records())
    (folder / "map.yml").write_text(MAP.replace("status: Att Code", "status: Attendance Code"), encoding="utf-8")
    err = _refusal(folder, tmp_path / "dd", FAST)
    assert (Path(err.path).name, err.row, err.column) == ("attendance.csv", 1, "Attendance Code")
    assert str(err) == str(_refusal(folder, tmp_path / "dd", None))
    assert not (tmp_path / "dd").exists()


def test_two_files_of_one_table_per_value_equal_row_wise_and_a_bad_value_names_the_second_file(tmp_path, taken):
    records = _records()
    half = len(records) // 2
    folder = _write(tmp_path / "src", records[:half])
    lines = ["Student Number;Att Date;Att Code"] + [";".join(r) for r in records[half:]]
    (folder / "attendance2.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    second = MAP.split("  - table: attendance_daily")[1].replace("file: attendance.csv", "file: attendance2.csv")
    (folder / "map.yml").write_text(MAP + "  - table: attendance_daily" + second, encoding="utf-8")
    fast = _import(folder, tmp_path / "a", FAST)
    assert len(taken) > 10 and all(taken)
    assert fast.rows["attendance_daily"] == len(records)
    assert _parts(tmp_path / "a") == _parts(_import(folder, tmp_path / "b", ROWWISE).out)

    j = len(lines) - 5
    lines[j] = lines[j].rsplit(";", 1)[0] + ";X"
    (folder / "attendance2.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    err = _refusal(folder, tmp_path / "dd", FAST)
    assert (Path(err.path).name, err.row, err.column, err.value) == ("attendance2.csv", j + 1, "Att Code", "X")
    assert str(err) == str(_refusal(folder, tmp_path / "dd", None))


def test_a_free_text_column_the_map_does_not_name_keeps_the_per_value_path_and_its_result(tmp_path, taken):
    """A comment unique to every row is only looked at for blank records, not checked value by value."""
    records = _records()
    folder = _write(tmp_path / "src", records)
    lines = ["Student Number;Att Date;Att Code;Comment"] + [";".join(r) + f";note {k}" for k, r in enumerate(records)]
    (folder / "attendance.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    fast = _import(folder, tmp_path / "a", FAST)
    assert len(taken) > 10 and all(taken)
    assert fast.rows["attendance_daily"] == len(records)
    assert _parts(tmp_path / "a") == _parts(_import(folder, tmp_path / "b", ROWWISE).out)
