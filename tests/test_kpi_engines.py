"""The three engines of the KPI panel (memory, stream, dask) give identical panels and comparison tables,
and no partition boundary changes a number (issue #15)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partner_analysis.data.synth import make_demo_district
from partner_analysis.exceptions import ConfigError
from partner_analysis.kpi.catalog import catalog_for
from partner_analysis.kpi.compare import run_comparison
from partner_analysis.kpi.engines import (Engine, compute_panel, open_for_comparisons, panel_partition,
                                          plan_partitions)

TERM = "2025-26-Q2"


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    """A generated district written the streaming way, with small row groups, so students straddle them."""
    path = tmp_path_factory.mktemp("engines") / "d"
    make_demo_district(path, students=700, seed=15, with_records=False, stream=True)
    for name in ("attendance_daily", "course_grades"):
        f = path / f"{name}.parquet"
        table = pq.read_table(f)
        pq.write_table(table, f, row_group_size=3_001)
        assert pq.ParquetFile(f).metadata.num_row_groups > 5
    return path


@pytest.fixture(scope="module")
def memory(district):
    ds, arrays = compute_panel(district)
    return ds, arrays, _table(ds, arrays)


def _table(ds, arrays):
    # adjusted design with all three designs side by side, suppressed: every column of the CLI's table
    return run_comparison(ds, term=TERM, arrays=arrays, by_program=True, design="adjusted", robustness=True,
                          subgroup="frl").table


def _same_panel(a, b):
    assert a.term_ids == b.term_ids
    assert a.student_ids.equals(b.student_ids)
    assert list(a.values) == list(b.values) and list(a.catalog.ids) == list(b.catalog.ids)
    for k in a.values:
        np.testing.assert_array_equal(a.values[k], b.values[k], err_msg=k)
        np.testing.assert_array_equal(a.ytd[k], b.ytd[k], err_msg=k)
        np.testing.assert_array_equal(a.n_records[k], b.n_records[k], err_msg=k)
    np.testing.assert_array_equal(a.enrolled, b.enrolled)
    assert (a.prior_term, a.prev_term) == (b.prior_term, b.prev_term)


def test_the_reference_table_has_suppressed_and_tested_cells(memory):
    _, _, table = memory
    assert table["suppressed"].any() and (~table["suppressed"]).any()
    assert (table["design_status"].astype(str).str.startswith("fitted")).any()


@pytest.mark.parametrize("engine", [Engine("stream", partitions=4), Engine("stream", partition_by="school"),
                                    Engine("stream", rows_per_partition=50_000)],
                         ids=["student-blocks", "schools", "by-rows"])
def test_stream_engine_is_identical_to_memory(district, memory, engine):
    ds_m, arr_m, table_m = memory
    ds, arrays = compute_panel(district, engine=engine)
    _same_panel(arrays, arr_m)
    pd.testing.assert_frame_equal(_table(ds, arrays), table_m, check_exact=True)


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        yield cluster


def test_dask_engine_is_identical_to_memory(district, memory, cluster):
    import distributed
    _, arr_m, table_m = memory
    with distributed.Client(cluster) as client:
        ds, arrays = compute_panel(district, engine=Engine("dask", partitions=3), client=client)
    _same_panel(arrays, arr_m)
    pd.testing.assert_frame_equal(_table(ds, arrays), table_m, check_exact=True)


def test_kpis_command_gives_the_same_file_with_every_executor(district, cluster, tmp_path):
    from partner_analysis.cli import main
    args = ["kpis", str(district), "--term", TERM, "--by-program"]
    assert main(args + ["--out-file", str(tmp_path / "memory.csv")]) == 0
    assert main(args + ["--out-file", str(tmp_path / "stream.csv"), "--executor", "stream", "--partitions", "3"]) == 0
    assert main(args + ["--out-file", str(tmp_path / "dask.csv"), "--executor", "dask",
                        "--scheduler", cluster.scheduler_address]) == 0
    reference = (tmp_path / "memory.csv").read_bytes()
    assert len(reference) > 10_000
    assert (tmp_path / "stream.csv").read_bytes() == reference
    assert (tmp_path / "dask.csv").read_bytes() == reference


def test_kpis_command_refuses_a_scheduler_without_dask(district, tmp_path, capsys):
    from partner_analysis.cli import main
    code = main(["kpis", str(district), "--term", TERM, "--out-file", str(tmp_path / "t.csv"),
                 "--scheduler", "tcp://127.0.0.1:1"])
    assert code == 2
    assert "--executor dask" in capsys.readouterr().err
    assert not (tmp_path / "t.csv").exists()


def test_kept_terms_give_the_same_comparisons(district, memory):
    from partner_analysis.kpi.engines import comparison_terms
    ds_m, _, table_m = memory
    terms = comparison_terms(ds_m.config, TERM)
    assert len(terms) == 3
    ds, arrays = compute_panel(district, engine=Engine("stream", partitions=2), terms=terms, details=False)
    assert not arrays.ytd and not arrays.n_records
    dropped = [i for i, t in enumerate(arrays.term_ids) if t not in terms]
    assert all(np.isnan(v[:, dropped]).all() for v in arrays.values.values())
    pd.testing.assert_frame_equal(_table(ds, arrays), table_m, check_exact=True)
    _, mem_kept = compute_panel(district, terms=terms, details=False)  # the memory engine, cut the same way
    for k in arrays.values:
        np.testing.assert_array_equal(arrays.values[k], mem_kept.values[k])


@pytest.mark.parametrize("executor", ["memory", "stream"])
def test_computing_some_terms_gives_their_values_of_the_whole_panel(district, memory, executor):
    """A term computed alone (its records and those its year-to-date needs, nothing else read) has the values,
    year-to-date values, record counts and enrolment of the panel computed over every term."""
    from partner_analysis.kpi.panel import terms_needed
    _, full, _ = memory
    config = open_for_comparisons(district).config
    for j, term in enumerate(full.term_ids):
        _, arrays = compute_panel(district, engine=Engine(executor, partitions=3), terms=[term])
        for k in full.values:
            for name in ("values", "ytd", "n_records"):
                got, want = getattr(arrays, name)[k], getattr(full, name)[k]
                np.testing.assert_array_equal(got[:, j], want[:, j], err_msg=f"{term} {name} {k}")
                others = np.delete(got, j, axis=1)
                assert (np.isnan(others).all() if name != "n_records" else (others == 0).all()), (term, name, k)
        np.testing.assert_array_equal(arrays.enrolled[:, j], full.enrolled[:, j])
        assert not np.delete(arrays.enrolled, j, axis=1).any()
        # what was read: the term and the earlier terms of its school year
        need = terms_needed(config, [term])
        year = config.term(term).school_year
        assert need == [t.id for t in config.ordered_terms[:j + 1] if t.school_year == year]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 6))
def test_a_partition_boundary_never_changes_a_number(district, memory, seed, k):
    """Students dealt at random into k partitions: each partition's values are the district's, bit for bit."""
    _, arr_m, _ = memory
    ds = open_for_comparisons(district)
    rng = np.random.default_rng(seed)
    ids = np.asarray(arr_m.student_ids, dtype=object)
    which = rng.integers(0, k, len(ids))
    tables = ["attendance_daily", "attendance_terms", "course_grades", "engagement", "wbl_hours"]
    for p in range(k):
        members = sorted(ids[which == p])
        if not members:
            continue
        part = panel_partition(str(district), members, config=ds.config, catalog=catalog_for(ds), kpis=None,
                               tables=tables, keep_terms=None, details=True)
        rows = arr_m.student_ids.get_indexer(pd.Index(part["ids"]))
        assert sorted(part["ids"]) == members
        assert part["kpis"] == list(arr_m.values)
        for kid in arr_m.values:
            np.testing.assert_array_equal(part["values"][kid], arr_m.values[kid][rows], err_msg=kid)
            np.testing.assert_array_equal(part["ytd"][kid], arr_m.ytd[kid][rows], err_msg=kid)


def test_school_partitions_keep_schools_whole(memory):
    ds, _, _ = memory
    students = ds["students"]
    parts = plan_partitions(students, n=2, by="school")
    school = dict(zip(students["student_id"].astype(str), students["school_id"].astype(str)))
    seen = [{school[s] for s in p} for p in parts]
    assert len(parts) == 2 and not (seen[0] & seen[1])
    assert sorted(sum(parts, [])) == sorted(school)
    blocks = plan_partitions(students, n=3)
    assert [len(b) for b in blocks] == [234, 233, 233] and all(a[-1] < b[0] for a, b in zip(blocks, blocks[1:]))


@pytest.mark.parametrize("kwargs, key", [({"executor": "spark"}, "--executor"),
                                         ({"executor": "stream", "scheduler": "tcp://x:8786"}, "--scheduler"),
                                         ({"partitions": 0}, "--partitions"),
                                         ({"partition_by": "grade"}, "--partition-by")])
def test_engine_settings_are_checked(kwargs, key):
    with pytest.raises(ConfigError) as err:
        Engine(**kwargs)
    assert err.value.key == key


def test_a_table_stored_as_a_folder_of_parts_gives_the_same_panel(district, memory, tmp_path):
    """The streaming import stores a large table as ``<table>.parquet/part-*.parquet``, one part per hash bucket
    of students (partner_analysis.data.stream); the memory and stream engines read it as the one file."""
    import shutil
    copy = tmp_path / "d"
    shutil.copytree(district, copy)
    for name in ("attendance_daily", "course_grades", "engagement"):
        f = copy / f"{name}.parquet"
        table = pq.read_table(f)
        f.unlink()
        f.mkdir()
        bucket = pd.util.hash_array(table.column("student_id").to_numpy(zero_copy_only=False)) % 3
        for b in range(3):
            pq.write_table(table.filter(bucket == b), f / f"part-{b:05d}.parquet", row_group_size=2_000)
    ds_m, arr_m, table_m = memory
    for engine in (None, Engine("stream", partitions=4)):
        ds, arrays = compute_panel(copy, engine=engine) if engine else compute_panel(copy)
        _same_panel(arrays, arr_m)
        pd.testing.assert_frame_equal(_table(ds, arrays), table_m, check_exact=True)
    from partner_analysis.kpi.engines import comparison_terms
    terms = comparison_terms(ds_m.config, TERM)  # the comparisons' terms alone, read from the parts
    _, kept = compute_panel(copy, terms=terms, details=False)
    _, kept_m = compute_panel(district, terms=terms, details=False)
    for k in kept_m.values:
        np.testing.assert_array_equal(kept.values[k], kept_m.values[k], err_msg=k)


def test_daily_attendance_counted_early_for_other_terms_is_not_used(district, memory):
    """compute_kpis takes early counts (counted while the other tables are read) only for its own students and
    terms; counts made for other terms are set aside and the file is counted again."""
    from concurrent.futures import ThreadPoolExecutor

    from partner_analysis.kpi.panel import compute_kpis, count_daily_early, read_dataset_for_kpis
    _, full, _ = memory
    dataset = read_dataset_for_kpis(district)
    with ThreadPoolExecutor(1) as pool:
        wrong = count_daily_early(pool, district, terms=["2024-25-Q1"])
        arrays = compute_kpis(dataset, terms=[TERM], daily=wrong)
        right = count_daily_early(pool, district, terms=[TERM])
        again = compute_kpis(dataset, terms=[TERM], daily=right)
    j = full.term_index(TERM)
    for k in full.values:
        np.testing.assert_array_equal(arrays.values[k][:, j], full.values[k][:, j], err_msg=k)
        np.testing.assert_array_equal(again.values[k][:, j], full.values[k][:, j], err_msg=k)


def test_compact_arrays_hold_the_kept_terms_columns_of_the_whole_panel(district, memory):
    """compute_kpis(terms=..., compact=True), what each stream partition returns: only the kept terms'
    columns, equal to the whole panel's, with last year's and the previous term pointing within them."""
    from partner_analysis.kpi.engines import comparison_terms
    from partner_analysis.kpi.panel import compute_kpis
    ds, full, _ = memory
    kept = comparison_terms(ds.config, TERM)                 # this term, the previous one, the same one last year
    compact = compute_kpis(ds, terms=kept, compact=True)
    ids = [t for t in full.term_ids if t in set(kept)]
    assert compact.term_ids == tuple(ids) and len(ids) == 3
    cols = [full.term_ids.index(t) for t in ids]
    for k in full.values:
        for name in ("values", "ytd", "n_records"):
            np.testing.assert_array_equal(getattr(compact, name)[k], getattr(full, name)[k][:, cols], err_msg=k)
    np.testing.assert_array_equal(compact.enrolled, full.enrolled[:, cols])
    now = ids.index(TERM)
    assert compact.term_ids[compact.prev_term[now]] == ds.config.previous_term(TERM).id
    assert compact.term_ids[compact.prior_term[now]] == ds.config.same_term_last_year(TERM).id
    oldest = 0                                               # last year's term: neither its own last year nor its
    assert compact.prior_term[oldest] == -1 and compact.prev_term[oldest] == -1   # previous term was kept
