"""Interactive outcome explorer for analysts (``notebooks/explore_outcomes.ipynb``).

All logic lives here so that the notebook holds none: :class:`OutcomeExplorer`
computes the KPI panel once, and on each "Show" recomputes the comparison for
the chosen partner/programme, KPI, terms, school and subgroup, draws the
trend (participants vs comparison with 95 % CIs) and the distribution, and
shows the comparison table.

Privacy: suppression is on by default, and then nothing student-level is
shown (distributions are drawn as binned densities of groups of at least
``min_group_n`` students). Student rows appear only after the analyst
unticks "Protect student privacy", which is meant for work inside the
district, never for outputs that leave it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..exceptions import ConfigError
from .compare import compare_partners
from .panel import compute_kpis, read_dataset_for_kpis

__all__ = ["OutcomeExplorer", "trend_frame", "SUBGROUP_CHOICES"]

#: students columns offered for disaggregation
SUBGROUP_CHOICES = ("frl", "ell", "swd", "gender", "race_ethnicity", "grade_level")
_ALL = "(all)"


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
    for side, label in (("t", "participants"), ("c", "comparison")):
        parts.append(pd.DataFrame({"term": rows["term"].to_numpy(), "group": label,
                                   "n": rows[f"n_{side}"].to_numpy(), "mean": rows[f"mean_{side}"].to_numpy(),
                                   "ci_low": rows[f"ci_low_{side}"].to_numpy(),
                                   "ci_high": rows[f"ci_high_{side}"].to_numpy()}))
    return pd.concat(parts, ignore_index=True)


class OutcomeExplorer:
    """Widgets over the KPI engine: pick, press "Show", read charts and the table.

    Parameters
    ----------
    dataset : Dataset
        Validated district data.
    term : str
        The term shown first (and the end of the default trend window).
    n_terms : int
        Terms in the default trend window (ending at ``term``).
    """

    def __init__(self, dataset, *, term: str, n_terms: int = 4):
        import ipywidgets as w

        self.dataset = dataset
        self.config = dataset.config
        self.config.term(term)
        self.arrays = compute_kpis(dataset)
        self.min_group_n = int(dict(self.config.privacy or {}).get("min_group_n", 10))
        programs = dataset["programs"]
        self._programs = {p: sorted(programs.loc[programs["partner_id"].astype(str) == p, "program_id"].astype(str))
                          for p in sorted(set(programs["partner_id"].astype(str)))}
        names = {}
        if "partners" in dataset:
            names = dict(zip(dataset["partners"]["partner_id"].astype(str), dataset["partners"]["name"].astype(str)))
        terms = list(self.arrays.term_ids)
        end = terms.index(term)
        style = {"description_width": "initial"}
        self.partner = w.Dropdown(options=[(f"{p} {names.get(p, '')}".strip(), p) for p in self._programs],
                                  description="Partner", style=style)
        self.program = w.Dropdown(description="Programme", style=style)
        self.kpi = w.Dropdown(options=[(k.label, k.id) for k in self.arrays.catalog], description="KPI", style=style)
        self.terms = w.SelectMultiple(options=terms, value=tuple(terms[max(0, end - n_terms + 1):end + 1]),
                                      description="Terms", rows=min(8, len(terms)), style=style)
        schools = sorted(set(dataset["students"]["school_id"].astype(str)))
        self.school = w.Dropdown(options=[("All schools", _ALL)] + [(s, s) for s in schools], description="School",
                                 style=style)
        subgroups = [c for c in SUBGROUP_CHOICES if c in dataset["students"].columns]
        self.subgroup = w.Dropdown(options=[("None", _ALL)] + [(c, c) for c in subgroups], description="Subgroup",
                                   style=style)
        self.privacy = w.Checkbox(value=True, description="Protect student privacy (suppress small groups)",
                                  style=style, indent=False)
        self.show_button = w.Button(description="Show", button_style="primary", tooltip="Compute and draw")
        self.status = w.HTML()
        self.output = w.Output()
        self.partner.observe(self._on_partner, names="value")
        self.show_button.on_click(lambda _: self.render())
        self._on_partner()
        self.widget = w.VBox([w.HBox([self.partner, self.program]), w.HBox([self.kpi, self.school, self.subgroup]),
                              self.terms, self.privacy, self.show_button, self.status, self.output])

    @classmethod
    def from_path(cls, data_dir, *, term: str, **kwargs) -> "OutcomeExplorer":
        """Open ``data_dir`` (daily attendance is streamed, not loaded) and build the explorer."""
        return cls(read_dataset_for_kpis(data_dir), term=term, **kwargs)

    def _on_partner(self, *_):
        progs = self._programs.get(self.partner.value, [])
        self.program.options = [("All programmes", "all")] + [(p, p) for p in progs]
        self.program.value = "all"

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
        frames = [compare_partners(self.dataset, term=t, partners=[self.partner.value], by_program=True,
                                   subgroup=self._subgroup, school=self._school, kpis=[self.kpi.value],
                                   arrays=self.arrays, suppress=self.privacy.value) for t in terms]
        table = pd.concat(frames, ignore_index=True)
        return table[table["program_id"] == self.program.value].reset_index(drop=True)

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
        from .compare import participation_matrix
        arr = self.arrays
        t = arr.term_index(term)
        units = participation_matrix(self.dataset, arr, partners=[self.partner.value], by_program=True)
        member = next(m for u, m in units.items() if u.program_id == self.program.value)[:, t]
        students = self.dataset["students"].set_index(self.dataset["students"]["student_id"].astype(str))
        students = students.reindex(arr.student_ids)
        keep = np.ones(len(arr.student_ids), dtype=bool)
        if self._school:
            keep &= (students["school_id"].astype(str) == self._school).to_numpy()
        cells = students["school_id"].astype(str) + "|" + students["grade_level"].astype(str)
        comp = cells.isin(set(cells[member & keep])).to_numpy() & ~member & keep
        value = arr.values[self.kpi.value][:, t]
        sel = (member & keep) | comp
        out = pd.DataFrame({"student_id": arr.student_ids[sel], "term": term,
                            "group": np.where(member[sel], "participants", "comparison"), "value": value[sel]})
        if self._subgroup:
            out[self._subgroup] = students[self._subgroup].to_numpy()[sel]
        return out.dropna(subset=["value"]).reset_index(drop=True)

    def render(self) -> None:
        """Recompute and redraw into ``self.output`` (the "Show" button)."""
        self.output.clear_output()
        self.status.value = ""
        try:
            bundles = self.bundles()
        except ConfigError as err:
            self.status.value = f"<b>Cannot show this:</b> {err}"
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
        html = self._table_html(table)
        out.append(({"text/html": html, "text/plain": "[comparison table]"}, {}))
        if not self.privacy.value:
            rows = self.student_rows().head(50)
            note = ("<p><b>Privacy protection is off:</b> student rows below are for use inside the district "
                    "only.</p>")
            out.append(({"text/html": note + rows.to_html(index=False), "text/plain": "[student rows]"}, {}))
        return out

    def figures(self, table: pd.DataFrame | None = None) -> list[tuple[dict, dict]]:
        """PNG bundles (with alt text) of the trend and the distribution for the current choices."""
        import matplotlib.pyplot as plt

        from .. import plots
        table = self.comparison_table() if table is None else table
        kpi = self.arrays.catalog[self.kpi.value]
        percent = kpi.kind == "binary" or kpi.unit in ("proportion", "share")
        out = []
        sub_values = ["all"] + ([v for v in table["subgroup_value"].astype(str).unique() if v != "all"]
                                if self._subgroup else [])
        for value in sub_values[:4]:
            tr = trend_frame(table, partner_id=self.partner.value, kpi_id=kpi.id, program_id=self.program.value,
                             subgroup_value=value)
            shown = tr.dropna(subset=["mean"])
            alt = _trend_alt(shown, kpi.label, percent, value)
            fig, ax = plt.subplots(figsize=(7, 3.6))
            plots.plot_trend(tr, x="term", y="mean", hue="group", ci_low="ci_low", ci_high="ci_high", alt=alt, ax=ax,
                             percent=percent, ylabel=kpi.label,
                             title=f"{kpi.label}: participants vs comparison" + ("" if value == "all" else
                                                                               f" ({self._subgroup} = {value})"))
            out.append(plots.figure_to_png_with_alt(fig))
            plt.close(fig)
        term = self.terms.value[-1]
        frame = self._groups_frame(term)
        sizes = frame.groupby("group")["value"].size()
        if kpi.kind == "continuous" and len(sizes) == 2 and sizes.min() >= self.min_group_n:
            fig, ax = plt.subplots(figsize=(7, 3.6))
            plots.plot_distribution(frame, x="value", hue="group", kind="hist", ax=ax,
                                    alt=f"Distribution of {kpi.label} in {term}: participants (n={sizes.get('participants', 0)})"
                                        f" and comparison (n={sizes.get('comparison', 0)}), as densities.",
                                    title=f"{kpi.label}, {term}")
            ax.set_xlabel(kpi.label)
            out.append(plots.figure_to_png_with_alt(fig))
            plt.close(fig)
        return out

    def _table_html(self, table: pd.DataFrame) -> str:
        cols = ["term", "subgroup", "subgroup_value", "n_t", "n_c", "mean_t", "mean_c", "difference", "design",
                "estimate", "effect_size", "es_ci_low", "es_ci_high", "mde", "p_val", "p_adj", "baseline_verdict",
                "evidence_label", "wording", "sample_status", "marker"]
        shown = table[[c for c in cols if c in table.columns]].copy()
        for c in ("mean_t", "mean_c", "difference", "estimate", "effect_size", "es_ci_low", "es_ci_high", "mde"):
            shown[c] = shown[c].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
        for c in ("p_val", "p_adj"):
            shown[c] = shown[c].map(lambda v: "" if pd.isna(v) else f"{v:.3g}")
        for c in ("n_t", "n_c"):
            shown[c] = shown[c].map(lambda v: "" if pd.isna(v) else f"{int(v)}")
        caption = ("<caption>Participants (t) vs comparison group (c). * fewer than "
                   f"{self.min_group_n} students; ‡ hidden to protect another cell.</caption>")
        return shown.to_html(index=False, na_rep="", escape=True).replace(">\n  <thead>", f">{caption}<thead>", 1)


def _trend_alt(shown: pd.DataFrame, label: str, percent: bool, subgroup_value: str) -> str:
    fmt = (lambda v: f"{v:.0%}") if percent else (lambda v: f"{v:.2f}")
    parts = []
    for group in ("participants", "comparison"):
        g = shown[shown["group"] == group]
        if len(g):
            parts.append(f"{group} {fmt(g['mean'].iloc[0])} in {g['term'].iloc[0]}"
                         + (f" to {fmt(g['mean'].iloc[-1])} in {g['term'].iloc[-1]}" if len(g) > 1 else ""))
    who = "" if subgroup_value == "all" else f" (subgroup {subgroup_value})"
    if not parts:
        return f"{label}{who}: every value is hidden because the groups are too small to show."
    return f"{label}{who} by term: " + "; ".join(parts) + ". Shaded bands are 95% confidence intervals."
