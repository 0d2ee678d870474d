"""Interactive outcome explorer for analysts (``notebooks/explore_outcomes.ipynb``).

All logic lives here so that the notebook holds none. :class:`OutcomeExplorer` computes the KPI panel once and,
when it opens, the comparison tables of every partner, programme and KPI for the terms of the window it shows
first (in the district's estimate design, so p-values and labels are the report's); the other terms offered
follow in a background thread (:meth:`OutcomeExplorer.wait_ready`). A school or subgroup is computed for the
chosen partner the first time it is asked for, and kept; a subgroup fits only its values' rows (one design fit
per KPI, programme and value, which is where the time goes) and reuses the partner's ``all`` rows. Tables are
kept unsuppressed and suppressed when shown, so they equal ``compare_partners``'s either way and turning privacy
off or on fits no model again. A widget change then takes the rows it needs by
positions precomputed per (term, partner, programme, KPI), and redraws two figures kept for the explorer's
life: their lines, bands, steps and texts change and each is drawn once to a PNG (no layout engine, no
second pass); the last drawings are kept by what they show, so going back to a view costs nothing.
(``benchmarks/explorer.py`` measures an update at 100,000 students.)

What an analyst sees: names, never codes (partners, programmes, schools, subgroups); one colour per group in
every chart (participants always the first colour of the colour-blind palette, comparison students the second);
a table with plain headers, percentages for shares and rounded values; a sentence instead of an empty chart when
every value is hidden; only terms that have started.

Privacy: suppression is on by default, and then nothing student-level is shown (distributions are drawn as
each group's share of students per bin, for groups of at least ``min_group_n`` students; numbers are formatted by
:mod:`partner_analysis.privacy`'s display rules). Student rows appear only after the analyst unticks "Protect
student privacy", which is meant for work inside the district, never for outputs that leave it.
"""
from __future__ import annotations

import datetime as dt
import html
import re
import textwrap
from collections import OrderedDict
from typing import Sequence

import numpy as np
import pandas as pd

from ..exceptions import ConfigError
from .compare import participation_matrix, run_comparison, suppress_table
from .panel import compute_kpis, read_dataset_for_kpis

__all__ = ["OutcomeExplorer", "trend_frame", "SUBGROUP_CHOICES", "SUBGROUP_LABELS", "GROUPS"]

#: students columns offered for disaggregation
SUBGROUP_CHOICES = ("frl", "ell", "swd", "gender", "race_ethnicity", "grade_level")
#: what the analyst reads for each of them
SUBGROUP_LABELS = {"frl": "Free or reduced-price lunch", "ell": "English learners",
                   "swd": "Students with disabilities", "gender": "Gender", "race_ethnicity": "Race/ethnicity",
                   "grade_level": "Grade level"}
#: the two groups of every chart, in the order that fixes their colours
GROUPS = ("participants", "comparison")
_ALL = "(all)"
_PLAIN = re.compile(r"-?[\d,]+(\.\d+)?%?")
_ALL_PARTNERS = "*"


def trend_frame(table: pd.DataFrame, *, partner_id: str, kpi_id: str, program_id: str = "all",
                subgroup_value: str = "all") -> pd.DataFrame:
    """Participants and comparison per term from stacked comparison tables, tidy for :func:`plots.plot_trend`.

    Returns
    -------
    DataFrame
        ``term``, ``group`` ("participants" / "comparison"), ``n``, ``mean``,
        ``ci_low``, ``ci_high``; suppressed values stay NaN.
    """
    rows = table[(table["partner_id"] == partner_id) & (table["program_id"] == program_id)
                 & (table["kpi_id"] == kpi_id) & (table["subgroup_value"].astype(str) == subgroup_value)]
    parts = []
    for side, label in zip(("t", "c"), GROUPS):
        parts.append(pd.DataFrame({"term": rows["term"].to_numpy(), "group": label,
                                   "n": rows[f"n_{side}"].to_numpy(), "mean": rows[f"mean_{side}"].to_numpy(),
                                   "ci_low": rows[f"ci_low_{side}"].to_numpy(),
                                   "ci_high": rows[f"ci_high_{side}"].to_numpy()}))
    return pd.concat(parts, ignore_index=True)


def _started_terms(config, term_ids: Sequence[str], enrolled: np.ndarray, today: dt.date) -> list[str]:
    """Terms that have started by ``today`` and hold any enrolment (future terms are not offered)."""
    has_data = enrolled.any(axis=0)
    return [t for i, t in enumerate(term_ids) if config.term(t).start <= today and has_data[i]]


def _stack_units(base: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    """``all`` rows and a subgroup's value rows in the order of one comparison call with that subgroup: unit
    (partner, programme) by unit, its ``all`` rows first (suppression reads the rows in this order)."""
    units = {u: i for i, u in enumerate(dict.fromkeys(zip(base["partner_id"], base["program_id"])))}
    both = pd.concat([base, values], ignore_index=True)
    unit = np.array([units[u] for u in zip(both["partner_id"], both["program_id"])])
    part = np.repeat([0, 1], [len(base), len(values)])
    return both.iloc[np.lexsort((part, unit))].reset_index(drop=True)


def _value_label(column: str, value) -> str:
    text = str(value)
    if column in ("frl", "ell", "swd"):
        return {"True": "yes", "False": "no", "1": "yes", "0": "no"}.get(text, text)
    if column == "grade_level":
        return f"grade {text}"
    return text


class OutcomeExplorer:
    """Widgets over the KPI engine: pick, read charts and the table.

    Parameters
    ----------
    dataset : Dataset
        Validated district data.
    term : str
        The term shown first (and the end of the default trend window).
    n_terms : int
        Terms in the default trend window (ending at ``term``).
    today : date, optional
        Terms starting after this day are not offered (default: today).
    auto_update : bool
        Redraw when a widget changes (default); ``False`` waits for "Show".
    background : bool
        Compute the tables of the terms outside the window shown first in a background thread (default), so the
        explorer opens sooner; ``False`` computes them before returning. :meth:`wait_ready` waits for them.
    """

    def __init__(self, dataset, *, term: str, n_terms: int = 4, today: dt.date | None = None,
                 auto_update: bool = True, background: bool = True):
        import ipywidgets as w

        self.dataset = dataset
        self.config = dataset.config
        self.config.term(term)
        self.arrays = compute_kpis(dataset)
        self.min_group_n = int(dict(self.config.privacy or {}).get("min_group_n", 10))
        self._cache: dict[tuple, pd.DataFrame] = {}    # tables shown: (term, partner, subgroup, school, suppress)
        self._raw: dict[tuple, pd.DataFrame] = {}      # their unsuppressed rows: (term, partner, subgroup, school)
        self._units = participation_matrix(dataset, self.arrays, by_program=True)
        students = dataset["students"]
        self._students = students.set_index(students["student_id"].astype(str)).reindex(self.arrays.student_ids)
        self._school_of = self._students["school_id"].astype(str).to_numpy()
        # schools as integer codes and participation by (partner, programme): a selection is array indexing
        self._school_code, school_ids = pd.factorize(self._school_of)
        self._school_index = {str(s): i for i, s in enumerate(school_ids)}
        self._unit_of = {(u.partner_id, u.program_id): m for u, m in self._units.items()}
        self._bins: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
        self._rows: dict[tuple, dict] = {}
        self._charts = None
        from .. import privacy
        self._profile = privacy.PrivacyProfile.from_config(dict(self.config.privacy or {}))
        # school × grade cells as integer codes: the comparison group of a selection is a table look-up
        self._cell_of, cells = pd.factorize(self._students["school_id"].astype(str) + "|"
                                            + self._students["grade_level"].astype(str))
        self._n_cells = len(cells)
        programs = dataset["programs"]
        self._programs = {p: sorted(programs.loc[programs["partner_id"].astype(str) == p, "program_id"].astype(str))
                          for p in sorted(set(programs["partner_id"].astype(str)))}
        self._program_names = dict(zip(programs["program_id"].astype(str),
                                       programs.get("name", programs["program_id"]).astype(str)))
        self._partner_names = {}
        if "partners" in dataset:
            self._partner_names = dict(zip(dataset["partners"]["partner_id"].astype(str),
                                           dataset["partners"]["name"].astype(str)))
        school_names = {}
        if "schools" in dataset:
            school_names = dict(zip(dataset["schools"]["school_id"].astype(str),
                                    dataset["schools"]["name"].astype(str)))
        self._school_names = school_names
        terms = _started_terms(self.config, self.arrays.term_ids, self.arrays.enrolled, today or dt.date.today())
        if term not in terms:
            raise ConfigError(f"term {term!r} has not started or holds no data", key="term",
                              fix=f"Use one of {terms}")
        end = terms.index(term)
        style = {"description_width": "initial"}
        self.partner = w.Dropdown(options=[(self._partner_names.get(p, p), p) for p in self._programs],
                                  description="Partner", style=style)
        self.program = w.Dropdown(description="Programme", style=style)
        self.kpi = w.Dropdown(options=[(k.label, k.id) for k in self.arrays.catalog], description="KPI", style=style)
        self.terms = w.SelectMultiple(options=terms, value=tuple(terms[max(0, end - n_terms + 1):end + 1]),
                                      description="Terms", rows=min(8, len(terms)), style=style)
        schools = sorted(set(self._school_of) - {"nan", "<NA>"})
        self.school = w.Dropdown(options=[("All schools", _ALL)] + [(school_names.get(s, s), s) for s in schools],
                                 description="School", style=style)
        subgroups = [c for c in SUBGROUP_CHOICES if c in students.columns]
        self.subgroup = w.Dropdown(options=[("None", _ALL)] + [(SUBGROUP_LABELS[c], c) for c in subgroups],
                                   description="Subgroup", style=style)
        self.privacy = w.Checkbox(value=True, description="Protect student privacy (suppress small groups)",
                                  style=style, indent=False, layout=w.Layout(width="auto"))
        self.show_button = w.Button(description="Show", button_style="primary", tooltip="Compute and draw")
        self.status = w.HTML()
        self.output = w.Output()
        self.partner.observe(self._on_partner, names="value")
        self._on_partner()
        self.show_button.on_click(lambda _: self.render())
        # the window shown now, the other terms offered in the background; a school or subgroup on first use
        self._precompute(self.terms.value)
        self._background = None
        later = [t for t in terms if t not in self.terms.value]
        if background and later:
            import threading
            self._background = threading.Thread(target=self._precompute, args=(later, True), daemon=True,
                                                name="outcome-explorer-precompute")
            self._background.start()
        else:
            self._precompute(later)
        if auto_update:
            for widget in (self.partner, self.program, self.kpi, self.terms, self.school, self.subgroup,
                           self.privacy):
                widget.observe(self._changed, names="value")
        self.widget = w.VBox([w.HBox([self.partner, self.program]), w.HBox([self.kpi, self.school, self.subgroup]),
                              self.terms, self.privacy, self.show_button, self.status, self.output])
        if auto_update:
            self.render()   # the view of the first choices, so the output area is never empty

    @classmethod
    def from_path(cls, data_dir, *, term: str, **kwargs) -> "OutcomeExplorer":
        """Open ``data_dir`` (daily attendance is streamed, not loaded) and build the explorer."""
        return cls(read_dataset_for_kpis(data_dir), term=term, **kwargs)

    def _on_partner(self, *_):
        progs = self._programs.get(self.partner.value, [])
        self._resetting = True   # the programme list changes with the partner: draw once, after both
        try:
            self.program.options = [("All programmes", "all")] + [(self._program_names.get(p, p), p) for p in progs]
            self.program.value = "all"
        finally:
            self._resetting = False

    def _changed(self, change) -> None:
        if not getattr(self, "_resetting", False):
            self.render()

    # -- the tables widgets slice ----------------------------------------------------------------------
    def _precompute(self, terms: Sequence[str], quiet: bool = False) -> None:
        """Every partner, programme and KPI for each term, suppressed (what the widgets slice).

        ``quiet`` (the background thread): an error stops the precomputation silently; the term is then computed
        when asked for, in the foreground, where its error is shown.
        """
        for t in terms:
            try:
                self._table_for(t, _ALL_PARTNERS, None, None, True)
            except Exception:
                if not quiet:
                    raise
                return

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until every term offered is precomputed; False if ``timeout`` (seconds) passed first."""
        if self._background is not None:
            self._background.join(timeout)
            return not self._background.is_alive()
        return True

    def _table_for(self, term: str, partner: str, subgroup: str | None, school: str | None,
                   suppress: bool) -> pd.DataFrame:
        """The comparison table shown, suppressed or not: made from the kept unsuppressed rows (so turning
        privacy off or on fits no model again), as ``compare_partners(..., suppress=suppress)`` gives it."""
        whole = (term, _ALL_PARTNERS, subgroup, school, suppress)
        if whole in self._cache:
            table = self._cache[whole]
            return table if partner == _ALL_PARTNERS else table[table["partner_id"] == partner]
        key = (term, partner, subgroup, school, suppress)
        if key not in self._cache:
            raw = self._raw_table(term, partner, subgroup, school)
            self._cache[key] = suppress_table(self.dataset, raw, self._profile) if suppress else raw
        return self._cache[key]

    def _raw_table(self, term: str, partner: str, subgroup: str | None, school: str | None) -> pd.DataFrame:
        """Unsuppressed rows, kept. A subgroup's are its values' rows alone (one design fit per KPI, programme
        and value) stacked with the ``all`` rows of the same partner and school, which are computed once: they
        are the rows of that partner without a subgroup (:func:`~partner_analysis.kpi.compare.run_comparison`,
        ``subgroup_only``)."""
        whole = (term, _ALL_PARTNERS, subgroup, school)
        if whole in self._raw:
            table = self._raw[whole]
            return table if partner == _ALL_PARTNERS else table[table["partner_id"] == partner].reset_index(drop=True)
        key = (term, partner, subgroup, school)
        if key not in self._raw:
            common = dict(term=term, partners=None if partner == _ALL_PARTNERS else [partner], by_program=True,
                          school=school, arrays=self.arrays, suppress=False, profile=self._profile)
            if subgroup is None:
                table = run_comparison(self.dataset, **common).table
            else:
                values = run_comparison(self.dataset, subgroup=subgroup, subgroup_only=True, **common).table
                table = _stack_units(self._raw_table(term, partner, None, school), values)
            self._raw[key] = table
        return self._raw[key]

    # -- what is shown ---------------------------------------------------------------------------------
    @property
    def _subgroup(self) -> str | None:
        return None if self.subgroup.value == _ALL else self.subgroup.value

    @property
    def _school(self) -> str | None:
        return None if self.school.value == _ALL else self.school.value

    def _view(self, terms: Sequence[str]) -> tuple[pd.DataFrame, dict]:
        """The cached tables of ``terms`` for the current subgroup, school and privacy as one frame, with its row
        positions per (term, partner, programme, KPI): a widget change takes rows, it does not filter frames."""
        subgroup, school, suppress = self._subgroup, self._school, self.privacy.value
        whole = all((t, _ALL_PARTNERS, subgroup, school, suppress) in self._cache for t in terms)
        key = (subgroup, school, suppress, _ALL_PARTNERS if whole else self.partner.value)
        frame, index, held = self._rows.get(key, (None, {}, ()))
        missing = [t for t in terms if t not in held]
        if missing:
            tables = ([] if frame is None else [frame]) + [self._table_for(t, key[3], subgroup, school, suppress)
                                                           for t in missing]
            frame = pd.concat(tables, ignore_index=True)
            index = frame.groupby(["term", "partner_id", "program_id", "kpi_id"], sort=False,
                                  observed=True).indices
            self._rows[key] = (frame, index, held + tuple(missing))
        return frame, index

    def comparison_table(self, terms: Sequence[str] | None = None) -> pd.DataFrame:
        """The comparison rows for the current choices, one block per term (suppressed unless privacy is off)."""
        terms = list(terms or self.terms.value)
        if not terms:
            raise ConfigError("choose at least one term", key="terms")
        frame, index = self._view(terms)
        want = (self.partner.value, self.program.value, self.kpi.value)
        empty = np.zeros(0, dtype=np.intp)
        rows = np.concatenate([index.get((t,) + want, empty) for t in terms])
        return frame.iloc[rows].reset_index(drop=True)

    def student_rows(self, term: str | None = None) -> pd.DataFrame:
        """Student-level KPI values of participants and comparison students (privacy off only).

        Raises
        ------
        ConfigError
            While "Protect student privacy" is ticked.
        """
        if self.privacy.value:
            raise ConfigError("student rows are shown only with privacy protection turned off", key="privacy",
                              fix="Untick 'Protect student privacy' (for work inside the district only)")
        return self._groups_frame(term or self.terms.value[-1])

    def _selection(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Boolean masks over students: participants of the chosen unit and their comparison group in ``term``."""
        t = self.arrays.term_index(term)
        member = self._unit_of[(self.partner.value, self.program.value)][:, t]
        if self._school:
            member = member & (self._school_code == self._school_index.get(self._school, -2))
        cell_has_member = np.zeros(self._n_cells + 1, dtype=bool)
        cell_has_member[self._cell_of[member]] = True      # code -1 (unknown) lands on the spare slot
        cell_has_member[-1] = False
        comp = cell_has_member[self._cell_of] & ~member
        if self._school:
            comp &= self._school_code == self._school_index.get(self._school, -2)
        return member, comp

    def _groups_frame(self, term: str) -> pd.DataFrame:
        arr = self.arrays
        member, comp = self._selection(term)
        value = arr.values[self.kpi.value][:, arr.term_index(term)]
        sel = (member | comp) & ~np.isnan(value)
        group = pd.Categorical.from_codes(np.where(member[sel], 0, 1), categories=list(GROUPS))
        out = pd.DataFrame({"student_id": arr.student_ids[sel], "term": term, "group": group, "value": value[sel]})
        if self._subgroup:
            out[self._subgroup] = self._students[self._subgroup].to_numpy()[sel]
        return out

    def _binned(self, kpi_id: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Each student's bin of ``kpi_id`` in ``term`` (-1: no value) and the bin edges, made once per pair."""
        key = (kpi_id, term)
        if key not in self._bins:
            value = self.arrays.values[kpi_id][:, self.arrays.term_index(term)]
            finite = np.isfinite(value)
            lo, hi = (float(value[finite].min()), float(value[finite].max())) if finite.any() else (0.0, 1.0)
            hi = hi if hi > lo else lo + 1.0
            edges = np.linspace(lo, hi, _BINS + 1)
            idx = np.full(len(value), -1, dtype=np.int16)
            idx[finite] = np.minimum(((value[finite] - lo) / (hi - lo) * _BINS).astype(np.int16), _BINS - 1)
            self._bins[key] = (idx, edges)
        return self._bins[key]

    def render(self) -> None:
        """Recompute and redraw into ``self.output`` (every widget change, and the "Show" button)."""
        self.status.value = ""
        try:
            bundles = self.bundles()
        except ConfigError as err:
            self.output.outputs = ()
            self.status.value = f"<b>Cannot show this:</b> {html.escape(str(err))}"
            return
        # set outputs directly: works in a kernel and when widgets are driven from plain Python (tests)
        self.output.outputs = tuple({"output_type": "display_data", "data": data, "metadata": metadata}
                                    for data, metadata in bundles)

    def show(self, table: pd.DataFrame | None = None) -> None:
        """Display the charts and the table for the current choices in the running cell."""
        from IPython.display import display

        for data, metadata in self.bundles(table):
            display(data, metadata=metadata, raw=True)

    def bundles(self, table: pd.DataFrame | None = None) -> list[tuple[dict, dict]]:
        """Display bundles (data, metadata): the charts, the comparison table and, with privacy off, student rows."""
        table = self.comparison_table() if table is None else table
        out = self.figures(table)
        out.append(({"text/html": self._table_html(table), "text/plain": "[comparison table]"}, {}))
        if not self.privacy.value:
            rows = self.student_rows().head(50)
            note = ("<p><b>Privacy protection is off:</b> student rows below are for use inside the district "
                    "only.</p>")
            out.append(({"text/html": note + rows.to_html(index=False), "text/plain": "[student rows]"}, {}))
        return out

    def _who(self) -> str:
        partner = self._partner_names.get(self.partner.value, self.partner.value)
        if self.program.value != "all":
            partner += f", {self._program_names.get(self.program.value, self.program.value)}"
        return partner

    def figures(self, table: pd.DataFrame | None = None) -> list[tuple[dict, dict]]:
        """Chart bundles (PNG with alt text) of the trend and the distribution for the current choices.

        A chart whose every value is hidden is replaced by a sentence saying so (an HTML bundle). The charts are
        drawn on figures kept by the explorer: a change updates their lines, bands and texts, then draws once.
        """
        table = self.comparison_table() if table is None else table
        kpi = self.arrays.catalog[self.kpi.value]
        percent = kpi.kind == "binary" or kpi.unit in ("proportion", "share")
        if self._charts is None:
            from .. import plots
            colours = plots.group_palette(GROUPS)
            self._charts = (_TrendChart(colours), _DistributionChart(colours))
        trend, distribution = self._charts
        out = []
        if self._school and self.terms.value and not any(self._selection(t)[0].any() for t in self.terms.value):
            # nobody to hide: say so rather than "every value is hidden" (a count of zero names no student)
            school = self._school_names.get(self._school, self._school)
            return [_message(f"{self._who()} has no participants at {school} in the terms chosen. Choose another "
                             "school or all schools.")]
        subgroup_of = table["subgroup_value"].astype(str).to_numpy()
        sub_values = ["all"] + ([v for v in dict.fromkeys(subgroup_of) if v != "all"] if self._subgroup else [])
        for value in sub_values[:4]:
            rows = table[subgroup_of == value]
            who = "" if value == "all" else f" ({SUBGROUP_LABELS.get(self._subgroup, self._subgroup)}: " \
                                            f"{_value_label(self._subgroup, value)})"
            series = {g: {k: rows[f"{k}_{side}"].to_numpy(dtype=float) for k in ("mean", "ci_low", "ci_high")}
                      for side, g in zip(("t", "c"), GROUPS)}
            terms = rows["term"].astype(str).tolist()
            if not any(np.isfinite(s["mean"]).any() for s in series.values()):
                out.append(_message(f"{kpi.label}{who}, {self._who()}: every value is hidden because fewer than "
                                    f"{self.min_group_n} students are in a group (or a smaller group would be "
                                    "revealed). Choose more terms, a whole partner or no subgroup."))
                continue
            out.append(trend.draw(terms, series, percent=percent, ylabel=_UNIT_LABELS.get(kpi.unit, kpi.unit),
                                  title=f"{kpi.label}{who}",
                                  alt=_trend_alt(terms, series, kpi.label, percent, who)))
        term = self.terms.value[-1] if self.terms.value else None
        if term is None or kpi.kind != "continuous":
            return out
        idx, edges = self._binned(kpi.id, term)
        member, comp = self._selection(term)
        has = idx >= 0
        counts = {g: np.bincount(idx[mask & has], minlength=_BINS) for g, mask in zip(GROUPS, (member, comp))}
        sizes = {g: int(c.sum()) for g, c in counts.items()}
        if min(sizes.values()) >= self.min_group_n:
            out.append(distribution.draw(edges, counts, xlabel=kpi.label, title=f"{kpi.label}, {term}",
                                         percent=percent,
                                         alt=f"Distribution of {kpi.label} in {term}: participants "
                                             f"(n={sizes[GROUPS[0]]}) and comparison (n={sizes[GROUPS[1]]}), "
                                             f"as each group's share of students in {_BINS} equal bins."))
        else:
            out.append(_message(f"No distribution of {kpi.label} in {term}: a group has fewer than "
                                f"{self.min_group_n} students."))
        return out

    def _table_html(self, table: pd.DataFrame) -> str:
        kpi = self.arrays.catalog[self.kpi.value]
        percent = kpi.kind == "binary" or kpi.unit in ("proportion", "share")
        shown = format_comparison(table, percent=percent, binary=kpi.kind == "binary", protect=self.privacy.value,
                                  profile=self._profile, subgroup=self._subgroup)
        caption = (f"<caption>{html.escape(kpi.label)}, {html.escape(self._who())}: students taking part compared "
                   "with students in the same schools and grades who did not. * fewer than "
                   f"{self.min_group_n} students; ‡ hidden to protect another cell.</caption>")
        table_html = shown.to_html(index=False, na_rep="", escape=True, classes="pa-comparison")
        # the term on one line: a wrapped "2024-25-Q3" reads as two values
        style = "<style>.pa-comparison td:first-child { white-space: nowrap; }</style>"
        return style + table_html.replace(">\n  <thead>", f">{caption}<thead>", 1)


def format_comparison(table: pd.DataFrame, *, percent: bool, binary: bool = False, protect: bool,
                      profile=None, subgroup: str | None = None) -> pd.DataFrame:
    """The comparison rows as an analyst reads them: plain headers, percentages, rounded values.

    With ``protect`` the numbers pass through :mod:`partner_analysis.privacy`'s display rules (rounded counts,
    markers; shares of students — ``binary`` KPIs — top/bottom-coded); without it they are exact (inside the
    district only). ``percent`` shows 0-1 values as percentages: a share of students for a binary KPI, a mean
    rate (attendance) otherwise. ``profile`` is a :class:`~partner_analysis.privacy.PrivacyProfile` or the
    ``privacy`` section of ``district.yml`` (default: the public profile).

    Returns
    -------
    DataFrame
        Term, [subgroup], Participants, Comparison students, Participants' value, Comparison value,
        Difference, [Adjusted difference], Effect size (95% CI), Smallest detectable effect, Chance (adjusted p),
        Evidence, Reading, Note — all text.
    """
    from .. import privacy
    if not protect:
        prof = None
    elif isinstance(profile, privacy.PrivacyProfile):
        prof = profile
    else:
        prof = privacy.PrivacyProfile.from_config(dict(profile or {}))

    missing = pd.isna

    def count(v):
        if missing(v):
            return ""
        return privacy.format_count(v, prof) if prof else f"{int(v):,}"

    def value(mean, n):
        if missing(mean):
            return prof.primary_marker if prof and (missing(n) or n < prof.min_group_n) else ""
        if binary:   # a share of students: small numerators and extreme shares are coded
            return privacy.format_percent(round(float(mean) * float(n)), n, prof) if prof else f"{mean:.1%}"
        if percent:  # a mean rate: the group size rule only
            return f"{mean:.0%}" if prof else f"{mean:.1%}"
        return privacy.format_mean(mean, n, prof) if prof else f"{mean:.2f}"

    def difference(row, column="difference"):
        if missing(row.get(column)):
            return ""
        if not percent:
            return f"{row[column]:+.2f}"
        points = f"{100 * row[column]:+.0f}"
        return f"{points} point" if points in ("+1", "-1") else f"{points} points"

    def mde(row):
        if missing(row.get("mde")):
            return ""
        return f"{row['mde']:.2f} SD"

    def effect(row):
        if missing(row["effect_size"]):
            return ""
        es = (privacy.format_effect(row["effect_size"], row["n_t"], row["n_c"], prof) if prof
              else f"{row['effect_size']:.2f}")
        if missing(row.get("es_ci_low")) or missing(row.get("es_ci_high")):
            return es
        return f"{es} ({row['es_ci_low']:.2f} to {row['es_ci_high']:.2f})"

    def chance(p):
        if missing(p):
            return ""
        return "<0.001" if p < 0.001 else f"{p:.3f}"

    def text(v):
        return "" if missing(v) else str(v)

    # plain Python rows of the columns read (DataFrame.to_dict walks all ~60 columns: slow in a redraw)
    columns = [c for c in ("term", "subgroup_value", "n_t", "n_c", "mean_t", "mean_c", "difference", "estimate",
                           "effect_size", "es_ci_low", "es_ci_high", "mde", "p_adj", "evidence_label", "wording",
                           "marker") if c in table]
    rows = [dict(zip(columns, values)) for values in zip(*(table[c].tolist() for c in columns))]
    adjusted = "design" in table and (table["design"].astype(str) != "raw").any()
    out: dict[str, list] = {"Term": [str(r["term"]) for r in rows]}
    if subgroup:
        out[SUBGROUP_LABELS.get(subgroup, subgroup)] = [
            "all students" if str(r["subgroup_value"]) == "all" else _value_label(subgroup, r["subgroup_value"])
            for r in rows]
    out["Participants"] = [count(r["n_t"]) for r in rows]
    out["Comparison students"] = [count(r["n_c"]) for r in rows]
    shown_t = [value(r["mean_t"], r["n_t"]) for r in rows]
    shown_c = [value(r["mean_c"], r["n_c"]) for r in rows]
    # a coded or hidden value ("≤5%", "*") must not come back through a difference or an effect size
    plain = [bool(_PLAIN.fullmatch(a)) and bool(_PLAIN.fullmatch(b)) for a, b in zip(shown_t, shown_c)]
    out["Participants' value"] = shown_t
    out["Comparison value"] = shown_c
    out["Difference"] = [difference(r) if ok else "" for ok, r in zip(plain, rows)]
    if adjusted:
        # the model's difference, adjusted for prior achievement and background (kpi.designs)
        out["Adjusted difference"] = [difference(r, "estimate") if ok else "" for ok, r in zip(plain, rows)]
    out["Effect size (95% CI)"] = [effect(r) if ok else "" for ok, r in zip(plain, rows)]
    out["Smallest detectable effect"] = [mde(r) for r in rows]
    out["Chance (adjusted p)"] = [chance(r["p_adj"]) for r in rows]
    out["Evidence"] = [text(r.get("evidence_label")) for r in rows]
    out["Reading"] = [text(r["wording"]) for r in rows]
    out["Note"] = [text(r["marker"]) for r in rows]
    return pd.DataFrame(out)


def _message(text: str) -> tuple[dict, dict]:
    body = html.escape(text)
    return {"text/html": f'<p role="status" class="pa-message">{body}</p>', "text/plain": text}, {}


def _trend_alt(terms: list[str], series: dict, label: str, percent: bool, who: str) -> str:
    fmt = (lambda v: f"{v:.0%}") if percent else (lambda v: f"{v:.2f}")
    parts = []
    for group in GROUPS:
        shown = [i for i, v in enumerate(series[group]["mean"]) if np.isfinite(v)]
        if shown:
            first, last = shown[0], shown[-1]
            mean = series[group]["mean"]
            parts.append(f"{group} {fmt(mean[first])} in {terms[first]}"
                         + (f" to {fmt(mean[last])} in {terms[last]}" if last != first else ""))
    return f"{label}{who} by term: " + "; ".join(parts) + ". Shaded bands are 95% confidence intervals."


#: what the vertical axis of a trend reads, by KPI unit (the title names the KPI)
_UNIT_LABELS = {"proportion": "rate", "share": "share of students", "points": "points", "credits": "credits",
                "score": "score", "hours": "hours"}
#: dots per inch of the explorer's charts (7 x 3.4 inches: 630 x 306 pixels)
_DPI = 90
#: bins of the distribution chart
_BINS = 20
#: drawings each chart keeps
_KEEP = 64


class _Chart:
    """A figure kept between updates: its artists change, then it is drawn once to a PNG bundle.

    The last ``_KEEP`` drawings are kept by what they show, so going back to a view does not draw again.
    """

    def __init__(self, colours: dict):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator, PercentFormatter, ScalarFormatter

        self.figure = Figure(figsize=(7, 3.4), dpi=_DPI)
        FigureCanvasAgg(self.figure)
        # fixed margins (no layout engine): room for rotated term labels below and the legend on the right
        self.ax = self.figure.add_axes((0.13, 0.24, 0.65, 0.62))
        self.colours = colours
        self._formatters = {True: PercentFormatter(1.0), False: ScalarFormatter()}
        self._percent = None
        self._drawn: OrderedDict[tuple, tuple[dict, dict]] = OrderedDict()
        self.ax.yaxis.set_major_locator(MaxNLocator(nbins=5))

    def _kept(self, key: tuple, draw) -> tuple[dict, dict]:
        if key in self._drawn:
            self._drawn.move_to_end(key)
        else:
            self._drawn[key] = draw()
            if len(self._drawn) > _KEEP:
                self._drawn.popitem(last=False)
        return self._drawn[key]

    def _set_percent(self, percent: bool) -> None:
        if percent != self._percent:
            self.ax.yaxis.set_major_formatter(self._formatters[percent])
            self._percent = percent

    def _set_title(self, title: str) -> None:
        # left-aligned over the axes and wrapped: a long KPI label with a subgroup is never cut at the edge
        self.ax.set_title("\n".join(textwrap.wrap(title, 80)), loc="left", fontsize=10)

    def _bundle(self, alt: str) -> tuple[dict, dict]:
        from .. import plots
        # zlib level 1: the same pixels, encoded in a fraction of the default level's time (a redraw per change)
        data, metadata = plots.figure_to_png_with_alt(self.figure, alt=alt, dpi=_DPI, tight=False, compress_level=1)
        # JupyterLab and Voila draw image/png without the metadata's alt text: the HTML twin carries it
        data["text/html"] = (f'<img src="data:image/png;base64,{data["image/png"]}" alt="{html.escape(alt)}" '
                             f'width="{metadata["image/png"]["width"]}">')
        return data, metadata


class _TrendChart(_Chart):
    """Participants and comparison by term: a line with markers and a shaded 95% interval per group."""

    def __init__(self, colours: dict):
        super().__init__(colours)
        x = np.arange(2.0)
        self.lines, self.bands = {}, {}
        for group, marker, style in zip(GROUPS, ("o", "s"), ("-", "--")):
            self.bands[group] = self.ax.fill_between(x, x, x, color=colours[group], alpha=0.15, linewidth=0)
            (self.lines[group],) = self.ax.plot(x, x, marker=marker, linestyle=style, color=colours[group],
                                                label=group)
        self.ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))

    def draw(self, terms: list[str], series: dict, *, percent: bool, ylabel: str, title: str, alt: str
             ) -> tuple[dict, dict]:
        key = (tuple(terms), percent, ylabel, title, alt) + tuple(
            series[g][k].tobytes() for g in GROUPS for k in ("mean", "ci_low", "ci_high"))
        return self._kept(key, lambda: self._draw(terms, series, percent=percent, ylabel=ylabel, title=title,
                                                  alt=alt))

    def _draw(self, terms, series, *, percent, ylabel, title, alt):
        x = np.arange(len(terms), dtype=float)
        values = []
        for group in GROUPS:
            mean, lo, hi = (series[group][k] for k in ("mean", "ci_low", "ci_high"))
            lo, hi = np.where(np.isfinite(mean), lo, np.nan), np.where(np.isfinite(mean), hi, np.nan)
            self.lines[group].set_data(x, mean)
            self.bands[group].set_data(x, lo, hi)
            values += [mean, lo, hi]
        shown = np.concatenate(values)
        shown = shown[np.isfinite(shown)]
        low, high = float(shown.min()), float(shown.max())
        pad = 0.08 * (high - low) if high > low else max(abs(high) * 0.05, 0.01)
        self.ax.set_ylim(low - pad, high + pad)
        self.ax.set_xlim(-0.3, len(terms) - 0.7)
        tilt = len(terms) > 4
        self.ax.set_xticks(x, terms, rotation=30 if tilt else 0, ha="right" if tilt else "center")
        self._set_percent(percent)
        self.ax.set_ylabel(ylabel)
        self._set_title(title)
        return self._bundle(alt)


class _DistributionChart(_Chart):
    """Each group's share of students per bin of the KPI, as steps (no student value is drawn)."""

    def __init__(self, colours: dict):
        super().__init__(colours)
        from matplotlib.ticker import PercentFormatter, ScalarFormatter

        edges = np.arange(3.0)
        self.steps = {group: self.ax.stairs(np.zeros(2), edges, color=colours[group], linestyle=style,
                                           linewidth=1.6, label=group)
                      for group, style in zip(GROUPS, ("-", "--"))}
        self.ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        self.ax.set_ylabel("share of the group")
        self._set_percent(True)   # the vertical axis: shares of each group
        self._x_formatters = {True: PercentFormatter(1.0), False: ScalarFormatter()}
        self._x_percent = None

    def draw(self, edges: np.ndarray, counts: dict, *, xlabel: str, title: str, alt: str, percent: bool
             ) -> tuple[dict, dict]:
        key = (edges.tobytes(), xlabel, title, alt, percent) + tuple(c.tobytes() for c in counts.values())
        return self._kept(key, lambda: self._draw(edges, counts, xlabel=xlabel, title=title, alt=alt,
                                                  percent=percent))

    def _draw(self, edges, counts, *, xlabel, title, alt, percent):
        top = 0.0
        for group, c in counts.items():
            share = c / c.sum()
            self.steps[group].set_data(share, edges)
            top = max(top, float(share.max()))
        if percent != self._x_percent:
            self.ax.xaxis.set_major_formatter(self._x_formatters[percent])
            self._x_percent = percent
        self.ax.set_xlim(edges[0], edges[-1])
        self.ax.set_ylim(0, 1.08 * top)
        self.ax.set_xlabel(xlabel)
        self._set_title(title)
        return self._bundle(alt)
