"""Bundles of a batch built in one pass: the same bytes as built alone, store read once, reports started early.

:func:`partner_analysis.report.bundle.open_bundles` does once per batch what is the same for every
partner (dataset, KPI comparisons, one store query per table for all partners) and builds each
partner's bundle when the batch asks for it; :func:`~partner_analysis.report.batch.run_reports`
submits a partner's report as soon as its bundle exists. These tests hold the batched results to
the per-partner ones and check that reports start before the last bundle is written.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

TERM = "2025-26-Q2"
pytestmark = [pytest.mark.xdist_group("report_batch")]


@pytest.fixture(scope="module")
def wide_dir(demo_dir, tmp_path_factory) -> Path:
    """The demo district (8 partners with records) widened to 12: four partners without any records."""
    from partner_analysis.data.synth_partners import add_partners
    out = tmp_path_factory.mktemp("wide") / "district"
    shutil.copytree(demo_dir, out)
    return add_partners(out, partners=12, seed=3)


@pytest.fixture(scope="module")
def comparisons(wide_dir):
    from partner_analysis.data.dataset import read_dataset
    from partner_analysis.kpi.compare import compare_partners
    ds = read_dataset(wide_dir)
    pids = [str(p) for p in ds["partners"]["partner_id"]]
    return ds.config, pids, compare_partners(ds, term=TERM, partners=pids, suppress=True)


def _same_tables(batched: dict, alone: dict) -> None:
    assert list(batched) == list(alone)
    for name in alone:
        pd.testing.assert_frame_equal(batched[name], alone[name], check_exact=True, obj=name)


def test_records_read_once_equal_each_partner_read_alone(wide_dir, comparisons):
    from partner_analysis.records.summary import summaries_for_bundles, summary_for_bundle
    from partner_analysis.store import Store

    config, pids, kpi = comparisons
    store = Store(wide_dir / "records" / "records.sqlite", create=False)
    try:
        batched = summaries_for_bundles(store, config, term=TERM, partner_ids=pids, kpi_table=kpi)
        with_goals = 0
        for pid in pids:
            alone = summary_for_bundle(store, config, term=TERM, partner_id=pid,
                                       kpi_table=kpi[kpi["partner_id"].astype(str) == pid])
            with_goals += bool(len(alone["goals"]))
            _same_tables(batched(pid), alone)
        # both kinds were compared: partners with records (the demo's) and without (the added ones)
        assert 0 < with_goals < len(pids)
        with pytest.raises(KeyError):
            batched("not-a-partner")
    finally:
        store.close()


def test_fit_answers_read_once_equal_each_partner_read_alone(wide_dir, comparisons):
    from partner_analysis.fit.results import summaries_for_bundles, summary_for_bundle
    from partner_analysis.store import Store

    _, pids, _ = comparisons
    store = Store(wide_dir / "records" / "records.sqlite", create=False)
    try:
        batched = summaries_for_bundles(store, pids)
        answered = 0
        for pid in pids:
            alone = summary_for_bundle(store, pid)
            answered += bool(len(alone["fit_dimensions"]))
            _same_tables(batched(pid), alone)
        assert 0 < answered < len(pids)
    finally:
        store.close()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_bundle_built_in_the_batch_pass_is_the_bundle_built_alone(wide_dir, tmp_path):
    """Every table and published cell, byte for byte; the manifest too, but for the time it was built."""
    from partner_analysis.report.bundle import build_bundles, open_bundles

    stream = open_bundles(wide_dir, term=TERM, out=tmp_path / "all")
    assert len(stream) == 12
    infos = list(stream)
    assert [i.partner_id for i in infos] == list(stream.partners) and all(i.ok for i in infos)
    with pytest.raises(RuntimeError):
        list(stream)  # one pass
    for pid in ("P02", "P0011"):  # a demo partner with records and fit answers, an added one with none
        alone = build_bundles(wide_dir, term=TERM, partners=[pid], out=tmp_path / f"alone-{pid}")[0]
        assert alone.ok
        a, b = _files(tmp_path / "all" / pid), _files(alone.path)
        assert set(a) == set(b) and len(a) > 10
        for name in a:
            if name == "bundle.json":
                ma, mb = json.loads(a[name]), json.loads(b[name])
                ma.pop("built_at"), mb.pop("built_at")
                assert ma == mb
            else:
                # byte for byte, kpi_comparison.csv too: a count column is written whole ("52") whether or
                # not the pass also held another partner whose count is hidden (NaN made it "52.0")
                assert a[name] == b[name], name


class _Watching(cf.Executor):
    """A process pool that notes, at each submit, how many bundles had been written by then."""

    def __init__(self, bundles: Path):
        self.pool = cf.ProcessPoolExecutor(max_workers=2)
        self.bundles = bundles
        self.seen: list[int] = []

    def submit(self, fn, /, *args, **kwargs):
        self.seen.append(len(list(self.bundles.glob("*/bundle.json"))))
        return self.pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, **kw):
        self.pool.shutdown(wait=wait, **kw)


@pytest.mark.slow
def test_reports_are_submitted_as_their_bundles_are_written(demo_dir, tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    from partner_analysis.report.batch import run_reports

    template = tmp_path / "minimal.ipynb"
    nbformat.write(new_notebook(cells=[
        new_code_cell('partner_id: str = "P01"\nterm: str = "2025-26-Q2"\nbundle_path: str = ""\nlang: str = "en"',
                      metadata={"tags": ["parameters"]}),
        new_markdown_cell("# Partnership report"),
        new_code_cell("from pathlib import Path\nprint(partner_id, sorted(p.name for p in Path(bundle_path).iterdir()))"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}), template)
    partners = ["P01", "P02", "P03"]
    ex = _Watching(tmp_path / "out" / TERM / "work" / "bundles")
    try:
        m = run_reports(demo_dir, term=TERM, out=tmp_path / "out", partners=partners, executor=ex, template=template,
                        progress=False, kernels_ahead=False)
    finally:
        ex.shutdown()
    assert m.ok, [(r["stage"], r["error"]) for r in m.rows]
    assert [r["partner_id"] for r in m.rows] == partners
    # each report went to the pool right after its own bundle, before the next bundle was built
    assert ex.seen == [1, 2, 3]


def test_earlier_terms_are_linked_without_fitting_their_designs(wide_dir):
    """The bundles' KPI pass links each earlier term's participants' levels with the raw design (no fits).

    That is exact only because suppression hides a level from the groups' counts and levels, never from
    a design's fit: for every term and every design, the hidden levels and counts are the same, and the
    linked table equals the one linked with the earlier terms' tables computed with their own designs.
    """
    from partner_analysis import privacy
    from partner_analysis.data.dataset import read_dataset
    from partner_analysis.kpi.compare import compare_partners, compute_kpis
    from partner_analysis.privacy.linked import ROW_KEYS
    from partner_analysis.report.bundle import _kpi_all

    ds = read_dataset(wide_dir)
    arrays = compute_kpis(ds)
    pids = [str(p) for p in ds["partners"]["partner_id"]]
    columns = [*ROW_KEYS, "mean_t", "n_t"]
    tables = {}
    for term in ds.config.terms:
        by_design = {d: compare_partners(ds, term=term.id, partners=pids, suppress=True, arrays=arrays, design=d)
                     for d in ("raw", "adjusted", "matched")}
        for d in ("adjusted", "matched"):
            pd.testing.assert_frame_equal(by_design[d][columns], by_design["raw"][columns], check_exact=True,
                                          obj=f"{term.id} {d}")
        assert by_design["raw"]["mean_t"].isna().any() and by_design["raw"]["mean_t"].notna().any()
        tables[term.id] = by_design
    config = ds.config
    earlier = {"prev_term": config.previous_term(TERM), "last_year": config.same_term_last_year(TERM)}
    assert all(t is not None for t in earlier.values())
    default = compare_partners(ds, term=TERM, partners=pids, suppress=True, arrays=arrays)
    expected = privacy.link_earlier_terms(default, {name: compare_partners(
        ds, term=t.id, partners=pids, suppress=True, arrays=arrays) for name, t in earlier.items()})
    got, errors = _kpi_all(ds, term=TERM, partners=pids, profile=None)
    assert errors == {}
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert expected["prev_term_mean_t"].notna().any() and expected["last_year_mean_t"].notna().any()
