"""Attacks on published output only: the ``release/`` folder (issue #9, "Done when" (a)-(e)).

Every attack reads the readers' HTML and nothing else; ground truth (exact counts in ``work/``) is used only
to check that the attacker's constraints are right (the true values must be feasible) and to score success.

* (a) every value of every trend row equals the value that term's own release displays, or is not shown;
* (b) an exact integer solver over all linked cells of one release recovers no suppressed count below the
  minimum (see :func:`_feasible` for what it is given and what "recover" means);
* (c) two successive releases with 1, 2 and 5 students added or removed recover no group under the minimum;
* (d) no published share of students violates the profile's top/bottom coding (5 < shown % < 95);
* (e) the leak scan of ``release/`` finds no student ID, and ``work/`` is refused as publishable.

The demo district runs through the real batch (papermill, one kernel per partner). Generated small districts
(hypothesis) render the same report sections in-process (:func:`_render_release`: the functions the report
notebook calls, without a kernel) so that many districts fit in the suite; ``PA_ATTACK_EXAMPLES=200`` runs
200 of them by hand.
"""
from __future__ import annotations

import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from partner_analysis import privacy
from partner_analysis.kpi.catalog import load_catalog
from partner_analysis.report import bundle as B

Q1, Q2 = "2025-26-Q1", "2025-26-Q2"
K, MIN_X = 10, 3  # public profile: min_group_n, min_numerator (privacy.md §5)
EXAMPLES = int(os.environ.get("PA_ATTACK_EXAMPLES", "3"))
pytestmark = pytest.mark.slow


# ------------------------------------------------------------------------------------------ reading HTML
class _Tables(HTMLParser):
    """Every table of a page: caption, header row and body rows (cell texts)."""

    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self._cell = None
        self._row = None
        self._in_caption = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"caption": "", "head": [], "rows": []})
        elif tag == "caption":
            self._in_caption = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "caption":
            self._in_caption = False
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self.tables and self._row is not None:
            t = self.tables[-1]
            (t["rows"] if t["head"] else t["head"]).append(self._row) if t["head"] else t["head"].extend(self._row)
            self._row = None

    def handle_data(self, data):
        if self._in_caption and self.tables:
            self.tables[-1]["caption"] += data
        elif self._cell is not None:
            self._cell += data


def _tables(path: Path) -> list[dict]:
    p = _Tables()
    p.feed(path.read_text(encoding="utf-8"))
    return p.tables


def _table(path: Path, caption_start: str) -> dict | None:
    return next((t for t in _tables(path) if t["caption"].startswith(caption_start)), None)


def _label(cell: str) -> str:
    return cell.rstrip("*‡").strip()


def _binary_labels() -> set[str]:
    return {k.label for k in load_catalog() if k.kind == "binary"}


# ------------------------------------------------------------------------------------------ releases
def _render_release(data: Path, term: str, root: Path, *, recipients=("public",)) -> Path:
    """Bundles, then each partner's report sections as the notebook renders them, into ``root/term/release``.

    The same library calls as ``notebooks/quarterly_report.ipynb`` (view.*_html, board, story) without a
    kernel; the district pages and the ledger entry as in :func:`partner_analysis.report.batch.run_reports`.
    """
    from partner_analysis.report import view
    from partner_analysis.report.board import render_board
    from partner_analysis.report.brief import write_brief
    from partner_analysis.report.html import page_shell
    from partner_analysis.report.index import write_index
    from partner_analysis.report.narrative import render_story
    from partner_analysis.report.release import data_hashes, prepare_layout, record_release

    layout = prepare_layout(root, term)
    infos = B.build_bundles(data, term=term, out=layout.bundles, ledger=layout.ledger)
    rows = []
    for info in infos:
        if not info.ok:
            rows.append({"partner_id": info.partner_id, "status": "failed", "stage": "bundle", "html": ""})
            continue
        b = B.load_bundle(info.path)
        body = "".join(f(b) for f in (view.title_html, render_board, render_story, view.outcomes_html,
                                       view.fit_html, view.investments_html, view.checkins_html, view.goals_html,
                                       view.notes_html))
        (layout.release / f"{info.partner_id}.html").write_text(page_shell(body, title=info.partner_id),
                                                               encoding="utf-8")
        rows.append({"partner_id": info.partner_id, "status": "ok", "html": f"{info.partner_id}.html"})
        record_release(layout, partner_id=info.partner_id, files=[f"{info.partner_id}.html"],
                       cells=B.read_cells(info.path), profile="public", recipients=recipients,
                       parameters={"data_dir": str(data)}, data=data_hashes(data), versions={})
    write_brief(layout.release, rows=rows, term=term, work_dir=layout.work)
    write_index(layout.release, rows=rows, term=term, work_dir=layout.work)
    return layout.release


# ------------------------------------------------------------------------------------------ the solver
def _count_range(text: str, n_max: int) -> np.ndarray:
    """Group sizes consistent with a displayed count: nearest 5 (public), "<10", "none"."""
    t = text.replace(",", "").strip()
    if t == "none":
        return np.array([0])
    if t.startswith("<"):
        return np.arange(1, int(t[1:]))
    if t.isdigit():
        r = int(t)
        return np.arange(max(r - 2, 0), r + 3)  # nearest 5, halves up: r-2.5 <= n < r+2.5
    return np.arange(0, n_max + 1)


def _level_ok(text: str, x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Which (x, n) a displayed share of students allows (whole percent, coded bounds); anything else: all."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(n > 0, 100.0 * x / n, np.nan)
    t = text.strip()
    m = re.fullmatch(r"(\d+)%", t)
    if m:
        v = int(m.group(1))
        # privacy.display shows values just outside the 5/95 codes one step outwards (5.2 % -> "6%")
        low = 5.0 if v == 6 else v - 0.5
        high = 95.0 if v == 94 else v + 0.5
        return (pct >= low - 1e-9) & (pct <= high + 1e-9)
    m = re.fullmatch(r"([≤≥<>])(\d+)%", t)
    if m:
        v = int(m.group(2))
        return {"≤": pct <= v + 1e-9, "≥": pct >= v - 1e-9, "<": pct < v, ">": pct > v}[m.group(1)]
    return np.ones(np.broadcast(x, n).shape, bool)


def _diff_ok(text: str, d: np.ndarray) -> np.ndarray:
    m = re.fullmatch(r"([+-]\d+) percentage points?", text.strip())
    if m:
        v = int(m.group(1))
        return (d >= v - 0.5 - 1e-9) & (d <= v + 0.5 + 1e-9)
    if text.strip() == "no change":
        return np.abs(d) <= 0.5 + 1e-9
    return np.ones(d.shape, bool)


def _feasible(row: list[str], n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact integer enumeration over one outcome of a release's comparison table.

    Given: the participants' and the comparison group's displayed counts (nearest 5 / "<10") and displayed
    shares, and the displayed difference in percentage points; unknowns are the integers n_t, x_t, n_c,
    x_c with 0 <= x <= n <= n_max (n_max: students in the district). The relation participants +
    comparison = all students adds nothing here: the all-students figure is not published. Returns the
    feasible (n_t, x_t) and (n_c, x_c) pairs after joint filtering by the difference (a difference that is
    the shown levels' own difference adds nothing and filters nothing).
    """
    _, nt_text, lt_text, nc_text, lc_text, diff_text = row[:6]
    pairs = []
    for n_text, l_text in ((nt_text, lt_text), (nc_text, lc_text)):
        ns = _count_range(n_text, n_max)
        n = np.repeat(ns, ns + 1)
        x = np.concatenate([np.arange(v + 1) for v in ns])
        keep = _level_ok(l_text, x, n)
        pairs.append((n[keep], x[keep]))
    (nt, xt), (nc, xc) = pairs
    if _diff_ok(diff_text, np.array([0.0])).all() and not re.search(r"\d|no change", diff_text):
        return np.stack([nt, xt], 1), np.stack([nc, xc], 1)
    # privacy.format_change writes a raw difference as the difference of the two levels as shown (the reader's
    # own subtraction): it then adds nothing to the levels, and filtering by it as if it were round(pt - pc)
    # would reject the truth. Only a difference that is not the shown levels' (an adjusted one) is used.
    shown = [re.fullmatch(r"(\d+)%", t.strip()) for t in (lt_text, lc_text)]
    if all(shown):
        derived = int(shown[0].group(1)) - int(shown[1].group(1))
        if _diff_ok(diff_text, np.array([float(derived)])).all() and (derived != 0 or diff_text == "no change"):
            return np.stack([nt, xt], 1), np.stack([nc, xc], 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pt = np.where(nt > 0, 100.0 * xt / nt, np.nan)
        pc = np.where(nc > 0, 100.0 * xc / nc, np.nan)
    ok = _diff_ok(diff_text, pt[:, None] - pc[None, :])
    it, ic = ok.any(1), ok.any(0)
    return np.stack([nt[it], xt[it]], 1), np.stack([nc[ic], xc[ic]], 1)


def _recovered(pairs: np.ndarray) -> bool:
    """A hidden group is recovered when its size is pinned below K, or its numerator (or complement) is
    confined below ``min_numerator`` (every feasible x < 3, or every n - x < 3) with n >= 1."""
    if not len(pairs):
        return False
    n, x = pairs[:, 0], pairs[:, 1]
    if np.unique(n).size == 1 and 0 < n[0] < K:
        return True
    pos = n > 0
    return bool(pos.any() and ((x[pos] < MIN_X).all() or ((n - x)[pos] < MIN_X).all()))


# ------------------------------------------------------------------------------------------ the attacks
def attack_trend(release_now: Path, release_then: Path, then_term: str) -> list[str]:
    """(a) trend values for ``then_term`` equal that term's own release, or are not shown."""
    problems = []
    for html in sorted(release_now.glob("P*.html")):
        trend = _table(html, "Participating students over time")
        own = _table(release_then / html.name, "Participating students compared")
        if trend is None or own is None:
            continue
        col = next(i for i, h in enumerate(trend["head"]) if then_term in h)
        shown = {_label(r[0]): r[2] for r in own["rows"]}
        for r in trend["rows"]:
            v = r[col]
            if privacy.shown_plainly(v) or v[:1] in "≤≥<>":
                if shown.get(_label(r[0])) != v:
                    problems.append(f"{html.name} {r[0]}: trend {v!r}, own release {shown.get(_label(r[0]))!r}")
    return problems


def attack_solver(release: Path, n_max: int) -> list[str]:
    """(b) exact enumeration over each outcome; returns the recovered hidden groups."""
    problems = []
    binary = _binary_labels()
    for html in sorted(release.glob("P*.html")):
        comp = _table(html, "Participating students compared")
        if comp is None:
            continue
        for row in comp["rows"]:
            if _label(row[0]) not in binary:
                continue
            t, c = _feasible(row, n_max)
            for name, pairs, level in (("participants", t, row[2]), ("comparison", c, row[4])):
                if not privacy.shown_plainly(level) and _recovered(pairs):
                    problems.append(f"{html.name} {row[0]} {name}: hidden group recovered ({level!r})")
    return problems


def attack_participation(release: Path, n_max: int) -> list[str]:
    """(b) the participation table: programme counts and their "All programs" total.

    Given: each programme's displayed count and the total's (nearest 5, "<10", "none"); relations: every
    programme has at most as many students as the total, and the total has at most the sum of the programmes
    (a student may take part in two). A hidden programme count is recovered when its feasible interval has
    width 0.
    """
    problems = []
    for html in sorted(release.glob("P*.html")):
        t = _table(html, "Students taking part in")
        if t is None:
            continue
        ranges = {r[0]: _count_range(r[-1], n_max) for r in t["rows"]}
        total = ranges.pop("All programs", None)
        if total is None:
            continue
        for name, rng in ranges.items():
            if len(rng) > 1 and rng.max() < K:  # a hidden ("<10") programme
                others = sum(int(v.max()) for k, v in ranges.items() if k != name)
                low = max(int(rng.min()), int(total.min()) - others)
                high = min(int(rng.max()), int(total.max()))
                if low == high:
                    problems.append(f"{html.name} programme {name}: {low} students recovered")
    return problems


def attack_truth_feasible(release: Path, bundles: Path, n_max: int) -> int:
    """Sanity check of the solver: the true counts must be feasible. Returns the number of cells checked."""
    checked = 0
    for html in sorted(release.glob("P*.html")):
        comp = _table(html, "Participating students compared")
        if comp is None:
            continue
        truth = B.load_bundle(bundles / html.stem).table("kpi_comparison").set_index("kpi_label")
        for row in comp["rows"]:
            lab = _label(row[0])
            if lab not in _binary_labels() or lab not in truth.index:
                continue
            t, c = _feasible(row, n_max)
            r = truth.loc[lab]
            for pairs, nn, mm in ((t, r["n_t"], r["mean_t"]), (c, r["n_c"], r["mean_c"])):
                if pd.isna(nn) or pd.isna(mm):
                    continue
                x = round(mm * nn)
                assert ((pairs[:, 0] == nn) & (pairs[:, 1] == x)).any(), (html.name, lab, nn, x, row)
                checked += 1
    return checked


def attack_differencing(before: Path, after: Path, changed: int, n_max: int,
                        truth: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> list[str]:
    """(c) knowing that ``changed`` students were added (or removed), subtract two releases' levels.

    For each outcome shown plainly for participants in both releases, enumerate (n1, x1, x2) with
    n2 = n1 + changed; the changed students' count with the outcome is d = x2 - x1. Recovered when every
    feasible d is the same value (the changed group, fewer than K students, is described exactly).
    """
    problems = []
    binary = _binary_labels()
    for html in sorted(after.glob("P*.html")):
        a, b = _table(before / html.name, "Participating students compared"), _table(html, "Participating "
                                                                                            "students compared")
        if a is None or b is None:
            continue
        rows_a = {_label(r[0]): r for r in a["rows"]}
        for rb in b["rows"]:
            lab = _label(rb[0])
            ra = rows_a.get(lab)
            if lab not in binary or ra is None:
                continue
            if not (privacy.shown_plainly(ra[2]) and privacy.shown_plainly(rb[2])):
                continue
            n1 = _count_range(ra[1], n_max)
            n1 = n1[(n1 + changed >= 0) & np.isin(n1 + changed, _count_range(rb[1], n_max))]
            ds = set()
            for n in n1:
                x1 = np.arange(n + 1)[_level_ok(ra[2], np.arange(n + 1), np.full(n + 1, n))]
                n2 = n + changed
                x2 = np.arange(n2 + 1)[_level_ok(rb[2], np.arange(n2 + 1), np.full(n2 + 1, n2))]
                d = (x2[None, :] - x1[:, None]).ravel()
                ds |= set(d[(d >= min(0, changed)) & (d <= max(0, changed))].tolist()) if changed else set()
            if changed and len(ds) == 1 and _premise_holds(truth, html.stem, lab, changed):
                problems.append(f"{html.name} {lab}: the {abs(changed)} changed students recovered (d={ds})")
    return problems


def _premise_holds(truth, partner: str, label: str, changed: int) -> bool:
    """Scoring only: did the participants' group of this outcome really change by ``changed`` students?"""
    if truth is None:
        return True
    kid = {k.label: k.id for k in load_catalog()}[label]
    n = []
    for cells in truth:
        c = cells[(cells["partner_id"] == partner) & (cells["kpi_id"] == kid) & (cells["term"] == Q2)
                  & (cells["group"] == "participants") & (cells["statistic"] == "level")]
        n.append(float(c["n"].iloc[0]) if len(c) else np.nan)
    return n[1] - n[0] == changed


def _cells(bundles: Path) -> pd.DataFrame:
    return pd.concat([B.read_cells(p) for p in sorted(bundles.iterdir()) if (p / "bundle.json").exists()],
                     ignore_index=True)


def attack_coding(release: Path) -> list[str]:
    """(d) every plainly shown share of students lies strictly between 5 % and 95 %."""
    problems = []
    binary = _binary_labels()
    for html in sorted(release.glob("*.html")):
        for t in _tables(html):
            for r in t["rows"]:
                if not r or _label(r[0]) not in binary:
                    continue
                for cell in r[1:]:
                    m = re.fullmatch(r"(\d+)%", cell.strip())
                    if m and not (5 < int(m.group(1)) < 95):
                        problems.append(f"{html.name} [{t['caption'][:30]}] {r[0]}: {cell}")
    return problems


def attack_leaks(release: Path, student_ids) -> list[str]:
    """(e) student IDs in the release, and the release must be publishable while work/ is not."""
    privacy.check_publishable(release)
    with pytest.raises(privacy.PrivateFolderError):
        privacy.check_publishable(release.parent / "work")
    return [f"{leak.file}: {leak.kind}" for leak in privacy.scan_outputs(release, student_ids)]


def _student_ids(data: Path) -> list[str]:
    return pd.read_parquet(data / "students.parquet")["student_id"].astype(str).tolist()


def _change_participants(data: Path, partner: str, delta: int) -> None:
    """Add ``delta`` students to (or, negative, remove them from) one of the partner's programs in Q2."""
    prog = pd.read_parquet(data / "programs.parquet")
    part = pd.read_parquet(data / "participation.parquet")
    mine = prog.loc[prog["partner_id"] == partner, "program_id"]
    from partner_analysis.config import load_config

    q2 = load_config(data / "district.yml").term(Q2)
    start = pd.Timestamp(q2.start)
    active = part["program_id"].isin(mine) & (part["start_date"] <= pd.Timestamp(q2.end)) & (
        part["end_date"].isna() | (part["end_date"] >= start))
    if delta > 0:
        inside = set(part.loc[part["program_id"].isin(mine), "student_id"])
        new = [s for s in _student_ids(data) if s not in inside][:delta]
        template = dict(part[part["program_id"] == mine.iloc[0]].iloc[0])
        template.update(start_date=start, end_date=pd.NaT)  # taking part in Q2, so the group really grows
        part = pd.concat([part, pd.DataFrame([dict(template, student_id=s) for s in new])], ignore_index=True)
        part["start_date"] = pd.to_datetime(part["start_date"])
    else:
        who = part.loc[active, "student_id"].drop_duplicates().iloc[:-delta]
        part = part[~part["student_id"].isin(who) | ~part["program_id"].isin(mine)]
    part.to_parquet(data / "participation.parquet", index=False)


def run_all_attacks(data: Path, root: Path, *, render=_render_release) -> dict[str, int]:
    """Every attack on one district; returns counts (asserts on problems)."""
    n_max = len(_student_ids(data))
    rel1 = render(data, Q1, root)
    rel2 = render(data, Q2, root)
    problems = attack_trend(rel2, rel1, Q1) + attack_solver(rel2, n_max) + attack_solver(rel1, n_max)
    problems += attack_participation(rel1, n_max) + attack_participation(rel2, n_max)
    problems += attack_coding(rel1) + attack_coding(rel2)
    problems += attack_leaks(rel2, _student_ids(data)) + attack_leaks(rel1, _student_ids(data))
    checked = attack_truth_feasible(rel2, root / Q2 / "work" / "bundles", n_max)
    partners = pd.read_parquet(data / "partners.parquet")["partner_id"].astype(str).tolist()
    diffs = 0
    for delta in (1, 2, 5, -1, -2, -5):
        snap = root.parent / f"{root.name}_{delta}"
        shutil.copytree(rel2, snap)  # what readers kept from the release before
        cells_before = _cells(root / Q2 / "work" / "bundles")
        _change_participants(data, partners[0], delta)
        rel2 = render(data, Q2, root)
        problems += attack_differencing(snap, rel2, delta, n_max,
                                        truth=(cells_before, _cells(root / Q2 / "work" / "bundles")))
        diffs += 1
    assert not problems, "\n".join(problems)
    return {"cells_checked": checked, "differencing_rounds": diffs}


# ------------------------------------------------------------------------------------------ tests
def _batch_render(data: Path, term: str, root: Path, partners=None) -> Path:
    from partner_analysis.report.batch import run_reports
    m = run_reports(data, term=term, out=root, workers=2, progress=False, partners=partners)
    assert m.ok, [r["error"] for r in m.rows if r["status"] != "ok"]
    return root / term / "release"


def test_attacks_on_the_demo_district_release(demo_dir, tmp_path):
    """The demo district through the real batch for Q1 and Q2; differencing rounds in-process."""
    data = tmp_path / "district"
    shutil.copytree(demo_dir, data)
    root = tmp_path / "reports"
    n_max = len(_student_ids(data))
    rel1 = _batch_render(data, Q1, root)
    rel2 = _batch_render(data, Q2, root)
    problems = attack_trend(rel2, rel1, Q1) + attack_solver(rel1, n_max) + attack_solver(rel2, n_max)
    problems += attack_participation(rel1, n_max) + attack_participation(rel2, n_max)
    problems += attack_coding(rel1) + attack_coding(rel2)
    problems += attack_leaks(rel1, _student_ids(data)) + attack_leaks(rel2, _student_ids(data))
    assert not problems, "\n".join(problems)
    assert attack_truth_feasible(rel2, root / Q2 / "work" / "bundles", n_max) > 20
    # a second real release of Q2, one student more in P01's program
    snap = tmp_path / "kept"
    shutil.copytree(rel2, snap)
    cells_before = _cells(root / Q2 / "work" / "bundles")
    _change_participants(data, "P01", 1)
    rel2b = _batch_render(data, Q2, root, partners=["P01"])  # a partial rerun: only P01's report changes
    assert not attack_differencing(snap, rel2b, 1, n_max, truth=(cells_before, _cells(root / Q2 / "work" / "bundles")))
    assert (snap / "P01.html").read_text() != (rel2b / "P01.html").read_text()


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(students=st.integers(150, 320), partners=st.integers(2, 4), seed=st.integers(0, 10_000))
def test_attacks_on_generated_small_districts(tmp_path_factory, students, partners, seed):
    from partner_analysis.data.synth import make_demo_district

    base = tmp_path_factory.mktemp("gen")
    data = base / "district"
    make_demo_district(data, students=students, partners=partners, seed=seed, with_records=False)
    result = run_all_attacks(data, base / "reports")
    assert result["cells_checked"] > 0
