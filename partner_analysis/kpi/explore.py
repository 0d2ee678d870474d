"""Interactive outcome explorer for analysts (``notebooks/explore_outcomes.ipynb``).

All logic lives here so that the notebook holds none. :class:`OutcomeExplorer` computes the KPI panel once and,
when it opens, the comparison tables of every partner, programme and KPI for the terms of the window it shows
first (in the district's estimate design, so p-values and labels are the report's); a widget change then only
slices those tables and redraws. Other terms, schools and subgroups are computed the first time they are asked
for (a school or subgroup for the chosen partner only) and kept. Changing a widget redraws at once (the "Show" button redraws
too).

What an analyst sees: names, never codes (partners, programmes, schools, subgroups); one colour per group in
every chart (participants always the first colour of the colour-blind palette, comparison students the second);
a table with plain headers, percentages for shares and rounded values; a sentence instead of an empty chart when
every value is hidden; only terms that have started.

Privacy: suppression is on by default, and then nothing student-level is shown (distributions are drawn as
binned densities of groups of at least ``min_group_n`` students; numbers are formatted by
:mod:`partner_analysis.privacy`'s display rules). Student rows appear only after the analyst unticks "Protect
student privacy", which is meant for work inside the district, never for outputs that leave it.
"""
from __future__ import annotations

import datetime as dt
import html
import re
from typing import Sequence

import numpy as np
import pandas as pd

from ..exceptions import ConfigError
from .compare import compare_partners, participation_matrix
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
    """

    def __init__(self, dataset, *, term: str, n_terms: int = 4, today: dt.date | None = None,
                 auto_update: bool = True):
        import ipywidgets as w

        self.dataset = dataset
        self.config = dataset.config
        self.config.term(term)
        self.arrays = compute_kpis(dataset)
        self.min_group_n = int(dict(self.config.privacy or {}).get("min_group_n", 10))
        self._cache: dict[tuple, pd.DataFrame] = {}
        self._units = participation_matrix(dataset, self.arrays, by_program=True)
        students = dataset["students"]
        self._students = students.set_index(students["student_id"].astype(str)).reindex(self.arrays.student_ids)
        self._school_of = self._students["school_id"].astype(str).to_numpy()
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
                                  style=style, indent=False)
        self.show_button = w.Button(description="Show", button_style="primary", tooltip="Compute and draw")
        self.status = w.HTML()
        self.output = w.Output()
        self.partner.observe(self._on_partner, names="value")
        self._on_partner()
        self.show_button.on_click(lambda _: self.render())
        self._precompute(self.terms.value)   # the window shown; other terms on first use
        if auto_update:
            for widget in (self.partner, self.program, self.kpi, self.terms, self.school, self.subgroup,
                           self.privacy):
                widget.observe(self._changed, names="value")
        self.widget = w.VBox([w.HBox([self.partner, self.program]), w.HBox([self.kpi, self.school, self.subgroup]),
                              self.terms, self.privacy, self.show_button, self.status, self.output])

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
    def _precompute(self, terms: Sequence[str]) -> None:
        """Every partner, programme and KPI for each term, suppressed (what the widgets slice)."""
        for t in terms:
            self._table_for(t, _ALL_PARTNERS, None, None, True)

    def _table_for(self, term: str, partner: str, subgroup: str | None, school: str | None,
                   suppress: bool) -> pd.DataFrame:
        whole = (term, _ALL_PARTNERS, subgroup, school, suppress)
        if whole in self._cache:
            table = self._cache[whole]
            return table if partner == _ALL_PARTNERS else table[table["partner_id"] == partner]
        key = (term, partner, subgroup, school, suppress)
        if key not in self._cache:
            partners = None if partner == _ALL_PARTNERS else [partner]
            self._cache[key] = compare_partners(self.dataset, term=term, partners=partners, by_program=True,
                                                subgroup=subgroup, school=school, arrays=self.arrays,
                                                suppress=suppress)
        return self._cache[key]

    # -- what is shown ---------------------------------------------------------------------------------
    @property
    def _subgroup(self) -> str | None:
        return None if self.subgroup.value == _ALL else self.subgroup.value

    @property
    def _school(self) -> str | None:
        return None if self.school.value == _ALL else self.school.value

    def comparison_table(self, terms: Sequence[str] | None = None) -> pd.DataFrame:
        """The comparison rows for the current choices, one block per term (suppressed unless privacy is off)."""
        terms = list(terms or self.terms.value)
        if not terms:
            raise ConfigError("choose at least one term", key="terms")
        frames = [self._table_for(t, self.partner.value, self._subgroup, self._school, self.privacy.value)
                  for t in terms]
        table = pd.concat(frames, ignore_index=True)
        keep = (table["program_id"] == self.program.value) & (table["kpi_id"] == self.kpi.value)
        return table[keep].reset_index(drop=True)

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

    def _groups_frame(self, term: str) -> pd.DataFrame:
        arr = self.arrays
        t = arr.term_index(term)
        member = next(m for u, m in self._units.items()
                      if u.partner_id == self.partner.value and u.program_id == self.program.value)[:, t]
        keep = np.ones(len(arr.student_ids), dtype=bool) if not self._school else self._school_of == self._school
        cell_has_member = np.zeros(self._n_cells + 1, dtype=bool)
        cell_has_member[self._cell_of[member & keep]] = True      # code -1 (unknown) lands on the spare slot
        cell_has_member[-1] = False
        comp = cell_has_member[self._cell_of] & ~member & keep
        value = arr.values[self.kpi.value][:, t]
        sel = ((member & keep) | comp) & ~np.isnan(value)
        group = pd.Categorical.from_codes(np.where(member[sel], 0, 1), categories=list(GROUPS))
        out = pd.DataFrame({"student_id": arr.student_ids[sel], "term": term, "group": group, "value": value[sel]})
        if self._subgroup:
            out[self._subgroup] = self._students[self._subgroup].to_numpy()[sel]
        return out

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

        A chart whose every value is hidden is replaced by a sentence saying so (an HTML bundle).
        """
        import matplotlib.pyplot as plt

        from .. import plots
        table = self.comparison_table() if table is None else table
        kpi = self.arrays.catalog[self.kpi.value]
        percent = kpi.kind == "binary" or kpi.unit in ("proportion", "share")
        colours = plots.group_palette(GROUPS)
        out = []
        sub_values = ["all"] + ([v for v in table["subgroup_value"].astype(str).unique() if v != "all"]
                                if self._subgroup else [])
        for value in sub_values[:4]:
            tr = trend_frame(table, partner_id=self.partner.value, kpi_id=kpi.id, program_id=self.program.value,
                             subgroup_value=value)
            shown = tr.dropna(subset=["mean"])
            who = "" if value == "all" else f" ({SUBGROUP_LABELS.get(self._subgroup, self._subgroup)}: " \
                                            f"{_value_label(self._subgroup, value)})"
            if shown.empty:
                out.append(_message(f"{kpi.label}{who}, {self._who()}: every value is hidden because fewer than "
                                    f"{self.min_group_n} students are in a group (or a smaller group would be "
                                    "revealed). Choose more terms, a whole partner or no subgroup."))
                continue
            fig, ax = plt.subplots(figsize=(7, 3.4), layout="constrained")
            plots.plot_trend(tr, x="term", y="mean", hue="group", ci_low="ci_low", ci_high="ci_high",
                             alt=_trend_alt(shown, kpi.label, percent, who), ax=ax, percent=percent,
                             ylabel=kpi.label, palette=colours,
                             title=f"{kpi.label}: participants vs comparison{who}")
            out.append(plots.figure_to_png_with_alt(fig, dpi=90, tight=False))
            plt.close(fig)
        term = self.terms.value[-1] if self.terms.value else None
        if term is None or kpi.kind != "continuous":
            return out
        frame = self._groups_frame(term)
        sizes = frame.groupby("group", observed=True)["value"].size()
        if len(sizes) == 2 and sizes.min() >= self.min_group_n:
            fig, ax = plt.subplots(figsize=(7, 3.4), layout="constrained")
            plots.plot_distribution(frame, x="value", hue="group", kind="hist", ax=ax, palette=colours,
                                    alt=f"Distribution of {kpi.label} in {term}: participants "
                                        f"(n={sizes.get(GROUPS[0], 0)}) and comparison "
                                        f"(n={sizes.get(GROUPS[1], 0)}), as densities.",
                                    title=f"{kpi.label}, {term}")
            ax.set_xlabel(kpi.label)
            out.append(plots.figure_to_png_with_alt(fig, dpi=90, tight=False))
            plt.close(fig)
        else:
            out.append(_message(f"No distribution of {kpi.label} in {term}: a group has fewer than "
                                f"{self.min_group_n} students."))
        return out

    def _table_html(self, table: pd.DataFrame) -> str:
        kpi = self.arrays.catalog[self.kpi.value]
        percent = kpi.kind == "binary" or kpi.unit in ("proportion", "share")
        shown = format_comparison(table, percent=percent, binary=kpi.kind == "binary", protect=self.privacy.value,
                                  profile=dict(self.config.privacy or {}), subgroup=self._subgroup)
        caption = (f"<caption>{html.escape(kpi.label)}, {html.escape(self._who())}: students taking part compared "
                   "with students in the same schools and grades who did not. * fewer than "
                   f"{self.min_group_n} students; ‡ hidden to protect another cell.</caption>")
        return shown.to_html(index=False, na_rep="", escape=True).replace(">\n  <thead>", f">{caption}<thead>", 1)


def format_comparison(table: pd.DataFrame, *, percent: bool, binary: bool = False, protect: bool,
                      profile: dict | None = None, subgroup: str | None = None) -> pd.DataFrame:
    """The comparison rows as an analyst reads them: plain headers, percentages, rounded values.

    With ``protect`` the numbers pass through :mod:`partner_analysis.privacy`'s display rules (rounded counts,
    markers; shares of students — ``binary`` KPIs — top/bottom-coded); without it they are exact (inside the
    district only). ``percent`` shows 0-1 values as percentages: a share of students for a binary KPI, a mean
    rate (attendance) otherwise.

    Returns
    -------
    DataFrame
        Term, [subgroup], Participants, Comparison students, Participants' value, Comparison value,
        Difference, [Adjusted difference], Effect size (95% CI), Smallest detectable effect, Chance (adjusted p),
        Evidence, Reading, Note — all text.
    """
    from .. import privacy
    prof = privacy.PrivacyProfile.from_config(dict(profile or {})) if protect else None

    def count(v):
        if pd.isna(v):
            return ""
        return privacy.format_count(v, prof) if prof else f"{int(v):,}"

    def value(mean, n):
        if pd.isna(mean):
            return prof.primary_marker if prof and (pd.isna(n) or n < prof.min_group_n) else ""
        if binary:   # a share of students: small numerators and extreme shares are coded
            return privacy.format_percent(round(float(mean) * float(n)), n, prof) if prof else f"{mean:.1%}"
        if percent:  # a mean rate: the group size rule only
            return f"{mean:.0%}" if prof else f"{mean:.1%}"
        return privacy.format_mean(mean, n, prof) if prof else f"{mean:.2f}"

    def difference(row, column="difference"):
        if column not in row or pd.isna(row[column]):
            return ""
        return f"{100 * row[column]:+.0f} points" if percent else f"{row[column]:+.2f}"

    def mde(row):
        if "mde" not in row or pd.isna(row["mde"]):
            return ""
        return f"{row['mde']:.2f} SD"

    def effect(row):
        if pd.isna(row["effect_size"]):
            return ""
        es = (privacy.format_effect(row["effect_size"], row["n_t"], row["n_c"], prof) if prof
              else f"{row['effect_size']:.2f}")
        if pd.isna(row.get("es_ci_low")) or pd.isna(row.get("es_ci_high")):
            return es
        return f"{es} ({row['es_ci_low']:.2f} to {row['es_ci_high']:.2f})"

    def chance(p):
        if pd.isna(p):
            return ""
        return "<0.001" if p < 0.001 else f"{p:.3f}"

    out = pd.DataFrame({"Term": table["term"].astype(str)})
    if subgroup:
        out[SUBGROUP_LABELS.get(subgroup, subgroup)] = [
            "all students" if str(v) == "all" else _value_label(subgroup, v) for v in table["subgroup_value"]]
    out["Participants"] = [count(v) for v in table["n_t"]]
    out["Comparison students"] = [count(v) for v in table["n_c"]]
    shown_t = [value(m, n) for m, n in zip(table["mean_t"], table["n_t"])]
    shown_c = [value(m, n) for m, n in zip(table["mean_c"], table["n_c"])]
    # a coded or hidden value ("≤5%", "*") must not come back through a difference or an effect size
    plain = [bool(_PLAIN.fullmatch(a)) and bool(_PLAIN.fullmatch(b)) for a, b in zip(shown_t, shown_c)]
    out["Participants' value"] = shown_t
    out["Comparison value"] = shown_c
    rows = [r for _, r in table.iterrows()]
    out["Difference"] = [difference(r) if ok else "" for ok, r in zip(plain, rows)]
    if "design" in table and (table["design"].astype(str) != "raw").any():
        # the model's difference, adjusted for prior achievement and background (kpi.designs)
        out["Adjusted difference"] = [difference(r, "estimate") if ok else "" for ok, r in zip(plain, rows)]
    out["Effect size (95% CI)"] = [effect(r) if ok else "" for ok, r in zip(plain, rows)]
    out["Smallest detectable effect"] = [mde(r) for r in rows]
    out["Chance (adjusted p)"] = [chance(p) for p in table["p_adj"]]
    out["Evidence"] = (table["evidence_label"].fillna("").astype(str).to_numpy() if "evidence_label" in table
                       else "")
    out["Reading"] = table["wording"].fillna("").astype(str).to_numpy()
    out["Note"] = table["marker"].fillna("").astype(str).to_numpy()
    return out


def _message(text: str) -> tuple[dict, dict]:
    body = html.escape(text)
    return {"text/html": f'<p role="status" class="pa-message">{body}</p>', "text/plain": text}, {}


def _trend_alt(shown: pd.DataFrame, label: str, percent: bool, who: str) -> str:
    fmt = (lambda v: f"{v:.0%}") if percent else (lambda v: f"{v:.2f}")
    parts = []
    for group in GROUPS:
        g = shown[shown["group"] == group]
        if len(g):
            parts.append(f"{group} {fmt(g['mean'].iloc[0])} in {g['term'].iloc[0]}"
                         + (f" to {fmt(g['mean'].iloc[-1])} in {g['term'].iloc[-1]}" if len(g) > 1 else ""))
    return f"{label}{who} by term: " + "; ".join(parts) + ". Shaded bands are 95% confidence intervals."
