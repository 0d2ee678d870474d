"""The report batch on the small demo district: outputs, failure isolation, --only-failed, leak scan, dask."""
from __future__ import annotations

import base64
import json
import re
import shutil
import zlib
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from partner_analysis.cli import main as cli_main
from partner_analysis.report.jobs import ReportJob

TERM = "2025-26-Q2"
K = 10
# One worker runs this file in order: later tests read the state the --only-failed test leaves.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("report_batch")]


@pytest.fixture(scope="module")
def broken_district(demo_dir, tmp_path_factory):
    """A copy of the demo district where P03's participation rows lost their start dates."""
    data = tmp_path_factory.mktemp("broken") / "district"
    shutil.copytree(demo_dir, data)
    part = pd.read_parquet(data / "participation.parquet")
    prog = pd.read_parquet(data / "programs.parquet")
    rows = part["program_id"].isin(prog.loc[prog["partner_id"] == "P03", "program_id"])
    part.to_parquet(data / "participation.good.parquet", index=False)
    part.loc[rows, "start_date"] = pd.NaT
    part.to_parquet(data / "participation.parquet", index=False)
    return data


@pytest.fixture(scope="module")
def first_run(broken_district, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    code = cli_main(["reports", str(broken_district), "--term", TERM, "--out", str(out), "--workers", "2",
                     "--no-progress"])
    return broken_district, out, code


def _partners(data: Path) -> list[str]:
    return pd.read_parquet(data / "partners.parquet")["partner_id"].astype(str).tolist()


def test_broken_partner_fails_alone_then_only_failed_redoes_it(first_run):
    data, out, code = first_run
    assert code != 0
    manifest = json.loads((out / TERM / "work" / "manifest.json").read_text())
    status = {r["partner_id"]: r for r in manifest["rows"]}
    assert set(status) == set(_partners(data))
    assert status["P03"]["status"] == "failed" and "start_date" in status["P03"]["error"]
    for pid, r in status.items():
        if pid != "P03":
            assert r["status"] == "ok", r
            assert (out / TERM / "release" / f"{pid}.html").exists() and (out / TERM / "work" / "notebooks" / f"{pid}.ipynb").exists()
    csv = pd.read_csv(out / TERM / "work" / "manifest.csv", dtype=str)
    assert sorted(csv["partner_id"]) == sorted(status)
    assert {"status", "seconds", "error", "failing_cell", "versions"} <= set(csv.columns)
    assert "papermill" in json.loads(csv["versions"].iloc[0])
    index = (out / TERM / "release" / "index.html").read_text()
    assert 'href="P01.html"' in index and 'href="P03.html"' not in index


    _only_failed_redoes_just_that_one(data, out)


def _only_failed_redoes_just_that_one(data, out):
    # Part of the test above: the order of the two steps matters, so they are one test.
    district_pages = ("index.html", "community_brief.html")  # rewritten on every run: they cover all partners
    before = {p.name: p.stat().st_mtime_ns for p in (out / TERM / "release").glob("*.html") if p.name not in district_pages}
    brief_before = (out / TERM / "release" / "community_brief.html").read_text()
    shutil.copy(data / "participation.good.parquet", data / "participation.parquet")
    code = cli_main(["reports", str(data), "--term", TERM, "--out", str(out), "--only-failed", "--no-progress"])
    assert code == 0
    after = {p.name: p.stat().st_mtime_ns for p in (out / TERM / "release").glob("*.html") if p.name not in district_pages}
    assert set(after) == set(before) | {"P03.html"}
    assert all(after[n] == before[n] for n in before)  # the others were not re-run
    brief_after = (out / TERM / "release" / "community_brief.html").read_text()
    assert 'href="P03.html"' not in brief_before and 'href="P03.html"' in brief_after
    manifest = json.loads((out / TERM / "work" / "manifest.json").read_text())
    assert manifest["ok"] and len(manifest["rows"]) == len(_partners(data))
    for pid in _partners(data):  # every partner now has HTML + executed notebook + a manifest row
        assert (out / TERM / "release" / f"{pid}.html").exists() and (out / TERM / "work" / "notebooks" / f"{pid}.ipynb").exists()
    assert not (out / TERM / "work" / "failed" / "P03.ipynb").exists()
    releases = [json.loads(line) for line in (out / "release_ledger.jsonl").read_text().splitlines()]
    assert "P03" in {e["partner_id"] for e in releases}  # released only now
    # partial rerun: the district pages still describe every partnership
    words = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
    assert f"worked with {words[len(_partners(data))]} community partners" in brief_after


class _Cells(HTMLParser):
    """Text of every table cell, with its column header."""

    def __init__(self):
        super().__init__()
        self.tables, self._cell, self._row, self._in = [], None, None, False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"head": [], "rows": []})
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell, self._in = "", True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None:
            self._row.append(self._cell.strip())
            self._in = False
        elif tag == "tr" and self.tables:
            t = self.tables[-1]
            (t["rows"] if t["head"] else t["head"]).append(self._row) if t["head"] else t["head"].extend(self._row)

    def handle_data(self, data):
        if self._in:
            self._cell += data


def test_outputs_hold_no_student_ids_and_no_small_counts(first_run):
    data, out, _ = first_run
    ids = set(pd.read_parquet(data / "students.parquet")["student_id"].astype(str))
    pattern = re.compile(r"(?<![0-9A-Za-z])(" + "|".join(map(re.escape, sorted(ids))) + r")(?![0-9A-Za-z])")
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".html" for p in files) and any(p.suffix == ".ipynb" for p in files)
    for f in files:
        text = f.read_bytes().decode("utf-8", errors="replace")
        texts = [text]
        if f.suffix == ".ipynb":  # also look inside embedded images' text chunks
            for cell in nbformat.read(f, as_version=4).cells:
                for o in cell.get("outputs", []):
                    if "image/png" in o.get("data", {}):
                        texts.append(_png_text(base64.b64decode(o["data"]["image/png"])))
        for t in texts:
            m = pattern.search(_strip_images(t))
            assert m is None, f"{f}: student id {m.group(0)}"
        assert "student_id" not in text, f
    try:  # the toolkit's own scanner must agree (it also decodes embedded PNGs)
        from partner_analysis.privacy import scan_outputs
    except ImportError:
        pass
    else:
        assert scan_outputs([out], sorted(ids)) == []
    for html in (out / TERM / "release").glob("*.html"):
        p = _Cells()
        p.feed(html.read_text())
        for t in p.tables:
            count_cols = [i for i, h in enumerate(t["head"]) if "(n)" in h or "taking part" in h]
            for row in t["rows"]:
                for i in count_cols:
                    cell = row[i]
                    assert cell in (f"<{K}", f"fewer than {K}", "none") or int(cell.replace(",", "")) >= K, \
                        (html.name, cell)
        for m in re.finditer(r"About (\d+) students", html.read_text()):
            assert int(m.group(1)) >= K


def _strip_images(text: str) -> str:
    # base64 image payloads are random text; leak scan of images goes through _png_text instead
    return re.sub(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+", "", re.sub(r'"image/png": "[^"]*"', "", text))


def _png_text(png: bytes) -> str:
    """Text chunks (tEXt/zTXt/iTXt) of a PNG."""
    out, i = [], 8
    while i + 8 <= len(png):
        n = int.from_bytes(png[i:i + 4], "big")
        kind = png[i + 4:i + 8]
        body = png[i + 8:i + 8 + n]
        if kind == b"tEXt":
            out.append(body.decode("latin-1"))
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            out.append(key.decode("latin-1") + zlib.decompress(rest[1:]).decode("latin-1"))
        elif kind == b"iTXt":
            out.append(body.decode("utf-8", errors="replace"))
        i += 12 + n
    return "\n".join(out)


def test_executed_notebooks_validate_and_carry_no_parameters(first_run):
    data, out, _ = first_run
    for f in (out / TERM / "work" / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(f, as_version=4)
        nbformat.validate(nb)
        assert "parameters" not in nb.metadata.get("papermill", {})
        tags = {t for c in nb.cells for t in c.metadata.get("tags", [])}
        assert not tags & {"parameters", "injected-parameters"}


def test_releases_lists_by_partner_term_recipient_and_verifies(first_run, capsys):
    data, out, _ = first_run
    capsys.readouterr()
    assert cli_main(["releases", "--out", str(out), "--term", TERM, "--csv"]) == 0
    ledger = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out), dtype=str)
    assert set(ledger["partner_id"]) >= (set(_partners(data)) - {"P03"}) | {"district"}
    assert list(ledger.columns[:3]) == ["partner_id", "term", "recipients"] and set(ledger["recipients"]) == {"public"}
    entry = [json.loads(line) for line in (out / "release_ledger.jsonl").read_text().splitlines()][-1]
    assert {f["path"].rsplit("/", 1)[-1] for f in entry["files"]} == {"index.html", "community_brief.html"}
    # the most recent partner release: made from the data as they are now (an earlier release, made before the
    # --only-failed step repaired participation.parquet, is rightly "not reproducible from the data")
    partner_rows = ledger[ledger["partner_id"] != "district"]
    latest = partner_rows.loc[partner_rows["release_id"].str.rsplit("-", n=1).str[-1].idxmax()]
    release_id, partner = latest["release_id"], latest["partner_id"]
    assert cli_main(["releases", "--out", str(out), "--verify", release_id]) == 0
    said = capsys.readouterr().out
    assert "files unchanged" in said and "reproducible from the data: yes" in said
    changed = out / "changed_data"
    shutil.copytree(data, changed)
    (changed / "district.yml").write_text((changed / "district.yml").read_text() + "\n# edited\n")
    assert cli_main(["releases", "--out", str(out), "--verify", release_id, "--data-dir", str(changed)]) == 0
    assert "reproducible from the data: no (1 data file(s) changed" in capsys.readouterr().out
    html = out / TERM / "release" / f"{partner}.html"
    html.write_text(html.read_text() + "<!-- edited -->")
    assert cli_main(["releases", "--out", str(out), "--verify", release_id]) == 1
    assert "changed" in capsys.readouterr().out


def test_notebook_failure_names_the_cell(demo_dir, tmp_path):
    from partner_analysis.report import batch
    from partner_analysis.report.bundle import build_bundles

    info = build_bundles(demo_dir, term=TERM, partners=["P01"], out=tmp_path / TERM / "bundles")[0]
    (info.path / "participation.csv").write_text("tampered\n")
    job = ReportJob(**{"parameters": {"partner_id": "P01", "term": TERM, "bundle_path": str(info.path)},
           "template": str(batch.default_template()), "out_dir": str(tmp_path / TERM), "release_dir": str(tmp_path / "release"), "formats": ("html",),
           "timeout": 120, "cwd": str(info.path), "lang": "en", "site": "", "title": "t"})
    row = batch._run_one(job).as_dict()
    assert row["status"] == "failed" and row["failing_cell"] == 3 and "altered" in row["error"]
    assert "partner_analysis.report import view" in row["failing_source"]
    assert (tmp_path / TERM / "failed" / "P01.ipynb").exists()
    assert not (tmp_path / "release" / "P01.html").exists()


def test_dask_executor_runs_the_same_batch(demo_dir, tmp_path):
    distributed = pytest.importorskip("distributed")
    from partner_analysis.report.batch import dask_executor, run_reports

    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None) as cl:
        with dask_executor(cl.scheduler_address) as ex:
            m = run_reports(demo_dir, term=TERM, out=tmp_path, partners=["P01", "P02"], executor=ex, progress=False)
    assert m.ok and [r["partner_id"] for r in m.rows] == ["P01", "P02"]
    assert (tmp_path / TERM / "release" / "P02.html").exists()


def test_batch_deck_holds_the_partners_whose_reports_succeeded(demo_dir, tmp_path):
    # the deck reads the bundles the brief and the index read (once per batch), keeping the ok reports
    pptx = pytest.importorskip("pptx")
    from partner_analysis.report.batch import run_reports
    from partner_analysis.report.deck import scan_deck

    m = run_reports(demo_dir, term=TERM, out=tmp_path, partners=["P01", "P04"], formats=("html", "pptx"),
                    workers=1, progress=False)
    assert m.ok
    (deck,) = (tmp_path / TERM / "release").glob("*.pptx")
    text = " ".join(shape.text_frame.text for slide in pptx.Presentation(deck).slides for shape in slide.shapes
                    if shape.has_text_frame)
    assert re.search(r"\b\d / 2 partnerships on track", text), text[:300]      # the two partners, no other
    assert scan_deck(deck, pd.read_parquet(demo_dir / "students.parquet")["student_id"].astype(str)) == []


def test_dead_kernel_is_retried_once(tmp_path):
    from nbformat.v4 import new_code_cell, new_notebook

    from partner_analysis.report import batch

    nb = new_notebook(cells=[new_code_cell('partner_id: str = "P01"', metadata={"tags": ["parameters"]}),
                             new_code_cell("import os\nos._exit(1)")],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    template = tmp_path / "dies.ipynb"
    nbformat.write(nb, template)
    job = ReportJob(**{"parameters": {"partner_id": "P01", "term": TERM, "bundle_path": str(tmp_path)},
           "template": str(template), "out_dir": str(tmp_path / "out"), "release_dir": str(tmp_path / "release"), "formats": ("html",), "timeout": 60,
           "cwd": str(tmp_path), "lang": "en", "site": "", "title": "t"})
    row = batch._run_one(job).as_dict()
    assert row["status"] == "failed" and row["attempts"] == 2 and "DeadKernel" in row["error"], row


def _goal_rows(html: str) -> list[list[str]]:
    import html as htmllib

    sec = re.search(r'<section aria-labelledby="goals">(.*?)</section>', html, re.S)
    assert sec, "no goals section"
    body = re.search(r"<tbody>(.*?)</tbody>", sec.group(1), re.S)
    return [[htmllib.unescape(re.sub(r"<[^>]+>", "", c)).strip()
             for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)]
            for tr in re.findall(r"<tr>(.*?)</tr>", body.group(1) if body else "", re.S)]


def test_small_partner_goal_figures_stay_hidden_in_html_and_notebook(first_run):
    # A partner with fewer than K participants: its KPI values are hidden, so a goal on one of them may show
    # no value, attainment, expected progress or status ("met" would place the hidden value).
    data, out, _ = first_run
    checked = 0
    for folder in sorted((out / TERM / "work" / "bundles").iterdir()):
        part = pd.read_csv(folder / "participation.csv", dtype=str).set_index("program_id")
        goals_csv = folder / "goals.csv"
        if part.loc["all", "participants_display"] not in (f"<{K}", "none") or not goals_csv.exists():
            continue
        goals = pd.read_csv(goals_csv, dtype=str)
        kpi_goals = goals[goals["kpi_id"].notna()]
        if not len(kpi_goals):
            continue
        assert kpi_goals["status"].str.startswith("not shown").all()
        assert kpi_goals[["latest_value", "attainment", "expected"]].isna().all().all()
        pid = folder.name
        html = (out / TERM / "release" / f"{pid}.html").read_text()
        nb = nbformat.read(out / TERM / "work" / "notebooks" / f"{pid}.ipynb", as_version=4)
        nb_html = "".join("".join(o.get("data", {}).get("text/html", "")) for c in nb.cells
                          for o in c.get("outputs", []))
        for text in (html, nb_html):
            rows = [r for r in _goal_rows(text) if r[1]]  # rows naming an outcome are the KPI goals
            assert len(rows) == len(kpi_goals)
            assert all(c.startswith("not shown") for r in rows for c in r[-4:]), rows
            tile_goals = re.findall(r"<dt>Goal</dt><dd>([^<]*)</dd>", text)
            assert tile_goals and set(tile_goals) <= {"no goal set", "not shown (small group)", "not yet recorded"}
            story = re.search(r'<section aria-labelledby="story">(.*?)</section>', text, re.S).group(1)
            assert f"{len(kpi_goals)} not shown" in story
        checked += 1
    assert checked, "the demo district must hold a small partner with a KPI goal"


def test_kernel_output_goes_to_a_log_not_the_terminal(tmp_path, capfd):
    from nbformat.v4 import new_code_cell, new_notebook

    from partner_analysis.report import batch

    nb = new_notebook(cells=[new_code_cell('partner_id: str = "P01"', metadata={"tags": ["parameters"]}),
                             new_code_cell("import os\nos.write(2, b'kernel-stderr-marker\\n')\n"
                                           "raise ValueError('boom')")],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    template = tmp_path / "fails.ipynb"
    nbformat.write(nb, template)
    job = ReportJob(**{"parameters": {"partner_id": "P01", "term": TERM, "bundle_path": str(tmp_path)},
           "template": str(template), "out_dir": str(tmp_path / "out"), "release_dir": str(tmp_path / "release"), "formats": ("html",), "timeout": 60,
           "cwd": str(tmp_path), "lang": "en", "site": "", "title": "t"})
    row = batch._run_one(job).as_dict()
    err = capfd.readouterr().err
    assert row["status"] == "failed" and "ValueError: boom" in row["error"] and row["failing_cell"] is not None
    assert "kernel-stderr-marker" not in err and "IPKernelApp" not in err
    log = tmp_path / "out" / "failed" / "P01.kernel.log"
    assert "kernel-stderr-marker" in log.read_text()
    assert not (tmp_path / "out" / "tmp" / "P01.kernel.log").exists()


def test_partner_rerun_updates_only_its_row_of_the_district_pages(first_run):
    # Defect 5 of issue #9: `reports --partner P01` rewrote index.html and the brief for one partnership.
    data, out, _ = first_run
    assert cli_main(["reports", str(data), "--term", TERM, "--out", str(out), "--partner", "P01",
                     "--no-progress"]) in (0, 1)
    manifest = json.loads((out / TERM / "work" / "manifest.json").read_text())
    assert sorted(r["partner_id"] for r in manifest["rows"]) == sorted(_partners(data))
    index = (out / TERM / "release" / "index.html").read_text()
    for pid in _partners(data):
        assert f"({pid})" in index
    brief = (out / TERM / "release" / "community_brief.html").read_text()
    words = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
    built = [pid for pid in _partners(data) if (out / TERM / "work" / "bundles" / pid / "bundle.json").exists()]
    assert len(built) > 1 and f"worked with {words[len(built)]} community partners" in brief
    public = json.loads((out / TERM / "release" / "manifest.json").read_text())
    assert len(public["reports"]) == len(_partners(data)) and "error" not in json.dumps(public)
