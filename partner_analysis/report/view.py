"""What the report notebook calls: one function per section, each displaying HTML or a chart.

The notebook holds no logic: it opens its bundle and calls these in order.
Each ``*_html`` function is pure (bundle in, HTML string out) and tested
directly; the ``show_*`` functions only display.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Callable

import pandas as pd

from .. import privacy
from ..privacy import PERCENT_UNITS
from . import text as T
from ._html import drop_empty_columns, esc, goal_status_words, missing, not_recorded, section, table, yes_no
from .board import render_board
from .bundle import GOAL_NOT_SHOWN, Bundle, dimension_label, load_bundle
from .narrative import render_story

__all__ = ["open_report", "title_html", "outcomes_html", "fit_html", "investments_html", "checkins_html",
           "goals_html", "notes_html", "show_title", "show_board", "show_story", "show_outcomes", "show_fit",
           "show_investments", "show_checkins", "show_goals", "show_notes"]


def open_report(bundle_path: str, *, partner_id: str, term: str, lang: str = "en") -> Bundle:
    """Open the partner's bundle (the only data a report reads), set the report's language (its text and
    number formats, :mod:`.text`) and a non-interactive plot backend.

    An empty ``bundle_path`` (the template opened by hand, as JupyterLab opens it) previews the report from
    a bundle built for ``partner_id`` and ``term`` (:func:`preview_bundle`); the batch always passes its own.
    A preview is also styled as the published page is: the report style sheet, confined to the report's
    own outputs (:func:`.html.scoped_css`), is displayed once here and every section is displayed inside it.
    The batch's pages get the whole sheet from their export template instead.
    """
    import matplotlib
    matplotlib.use("Agg")
    T.set_language(lang)
    global _PREVIEW
    _PREVIEW = not bundle_path
    if _PREVIEW:
        from .html import scoped_css
        bundle_path = preview_bundle(partner_id, term)
        _display_html(f"<style>{scoped_css(PREVIEW_CLASS)}</style>")
    return load_bundle(bundle_path, partner_id=partner_id, term=term)


def preview_bundle(partner_id: str, term: str, data_dir: str | None = "") -> Path:
    """Build one partner's bundle from the district :func:`partner_analysis.district.find_data_dir` finds
    (``data_dir``, ``$PA_DATA_DIR``, the checkout's demo district) into a new temporary folder, never beside
    the notebook, and return its path. It is what the batch would build (aggregated, suppressed); nothing is
    released or recorded.

    Raises
    ------
    ConfigError
        No district found (the message says how to make one).
    InputDataError
        The bundle could not be built (the reason from :func:`.bundle.build_bundles`).
    """
    import tempfile

    from ..district import find_data_dir
    from ..exceptions import InputDataError
    from .bundle import build_bundles
    source = find_data_dir(data_dir)
    out = Path(tempfile.mkdtemp(prefix="pa-report-preview-"))
    info = build_bundles(source, term=term, partners=[partner_id], out=out)[0]
    if not info.ok:
        raise InputDataError(f"no report bundle for {partner_id} in {term}: {info.error}", path=source,
                             fix="Pass bundle_path, or choose a partner_id and term the district has")
    return info.path


PREVIEW_CLASS = "pa-report"
_PREVIEW = False  # set by open_report: True while the template is previewed by hand (no bundle_path)


def _previewed(text: str) -> str:
    """``text`` inside the preview's styled container while previewing (:func:`open_report`), else as it is.

    The container also opts out of the frontend's math typesetting (``mathjax_ignore``, JupyterLab 4;
    ``tex2jax_ignore``, older frontends): otherwise two amounts in one output ("District $5,724 · Partner
    $15,088") are typeset as one inline formula.
    """
    return f'<div class="{PREVIEW_CLASS} mathjax_ignore tex2jax_ignore">{text}</div>' if _PREVIEW else text


def _display_html(text: str) -> None:
    from IPython.display import HTML, display
    display(HTML(text if text.startswith("<style>") else _previewed(text)))


def title_html(bundle: Bundle) -> str:
    return (f'<h1>{esc(T.report_heading(bundle.partner_name, bundle.term))}</h1>'
            f'<p class="subtitle">{esc(bundle.meta.get("district", ""))} \u00b7 {esc(T.label("partner_word"))} '
            f'{esc(bundle.partner_id)} \u00b7 {esc(T.label("subtitle"))}</p>')


def _reader_table(frame: pd.DataFrame | None, caption: str, columns: list[tuple[str, str, object]],
                  *, empty: str | None = None) -> str:
    """A table for readers: chosen columns with human headers and formatters; all-blank columns dropped.

    ``columns`` holds (bundle column, header, formatter) triples; the first is
    the row header. Columns missing from the bundle are skipped.
    """
    if frame is None or not len(frame):
        return f"<p>{esc(T.empty_table(caption, empty or T.label('nothing_recorded')))}</p>"
    cols = [(c, h, f) for c, h, f in columns if c in frame.columns]
    rows = [[f(r[c]) if not missing(r[c]) else "" for c, _, f in cols] for _, r in frame.iterrows()]
    rows, heads = drop_empty_columns(rows, [h for _, h, _ in cols])
    return table(rows, columns=heads, caption=caption)


def _currency(bundle: Bundle) -> str:
    return str(bundle.meta.get("currency") or "USD")


def outcomes_html(bundle: Bundle) -> str:
    """Participation table and the KPI comparison table (n, effect size with CI, adjusted p)."""
    body = []
    part = bundle.table("participation")
    if part is not None and len(part):
        rows = [[r["program_name"] if r["program_id"] != "all" else T.label("all_programs"),
                 "" if missing(r["type"]) else T.code_words(r["type"]), T.figure(str(r["participants_display"]))]
                for _, r in part.iterrows()]
        body.append(table(rows, columns=[T.label("program"), T.label("type"), T.label("students_taking_part")],
                          caption=T.participation_caption(bundle.term)))
    kpi = bundle.table("kpi_comparison")
    if not bundle.has("kpi") or kpi is None:
        body.append(not_recorded(T.label("outcome_comparisons")))
    elif not len(kpi):
        body.append(f"<p>{esc(T.label('no_outcomes'))}</p>")
    else:
        rows = [comparison_cells(r, bundle.profile) for _, r in kpi.iterrows()]
        L = T.BOARD_LABELS
        body.append(table(rows, columns=[T.label("outcome"), T.label("participants_n"),
                                         T.label("participants_result"), T.label("similar_n"),
                                         T.label("similar_result"), T.label("difference"), T._(L["size_column"]),
                                         T._(L["chance_column"])],
                          caption=T.comparison_caption(bundle.term)))
    body.append(_trend_table(bundle))
    return section(T.label("outcomes"), "".join(body), id="outcomes")


def comparison_cells(r: pd.Series, profile: privacy.PrivacyProfile) -> list[str]:
    """One row of the comparison table as readers see it (every figure through :mod:`privacy.display`).

    The difference, effect size and p-value are shown only when both levels
    are shown plainly: next to a coded level ("≥95%") they would give it back.
    """
    unit, kind = r.get("unit"), r.get("kind")
    level = {g: privacy.format_level(r.get(f"mean_{g}"), r.get(f"n_{g}"), unit=unit, kind=kind, profile=profile)
             for g in ("t", "c")}
    diff = privacy.format_change(r.get("mean_t"), r.get("mean_c"), n_now=r.get("n_t"), n_before=r.get("n_c"),
                                 unit=unit, kind=kind, profile=profile, change=r.get("difference"))
    contrast = privacy.shown_plainly(diff) or diff == "no change"
    effect = privacy.format_effect(r.get("effect_size"), r.get("n_t"), r.get("n_c"), profile) if contrast else ""
    size = T.size_word(float(r["effect_size"])) if effect and privacy.shown_plainly(effect) else ""
    tested = contrast and str(r.get("sample_status", "tested")) == "tested" and not missing(r.get("p_adj"))
    chance = T.chance_word(float(r["p_adj"]) if tested else None) if contrast else T._(T.CHANCE_WORDS["untested"])
    return [f"{T.kpi_label(r.get('kpi_label', r['kpi_id']))}{'' if missing(r.get('marker')) else r['marker']}",
            T.figure(privacy.format_participants(r.get("n_t"), profile)), T.figure(level["t"]),
            T.figure(privacy.format_participants(r.get("n_c"), profile)), T.figure(level["c"]), T.figure(diff),
            size or T.figure(privacy.NOT_SHOWN), chance]


def _trend_table(bundle: Bundle) -> str:
    """Participants' level per KPI over the same term last year, the previous term and this term."""
    trend, kpi = bundle.table("kpi_trend"), bundle.table("kpi_comparison")
    if not bundle.has("kpi") or trend is None or not len(trend) or kpi is None:
        return ""
    whens = [w for w in ("same term last year", "previous term", "this term") if w in set(trend["when"])]
    units = kpi.set_index("kpi_id")[["unit", "kind"]].to_dict("index")
    rows = []
    for kid, g in trend.groupby("kpi_id", sort=False):
        u = units.get(kid, {})
        by = g.set_index("when")
        rows.append([T.kpi_label(g["kpi_label"].iloc[0])] + [T.figure(
            privacy.format_level(by["mean_t"].get(w), by["n_t"].get(w) if "n_t" in by.columns else None,
                                 unit=u.get("unit"), kind=u.get("kind"), profile=bundle.profile)
            if w in by.index else privacy.NOT_SHOWN)
            for w in whens])
    heads = [T.trend_heading(w, trend.loc[trend['when'] == w, 'term'].iloc[0]) for w in whens]
    return table(rows, columns=[T.label("outcome"), *heads], caption=T.label("over_time"))


def fit_html(bundle: Bundle) -> str:
    if not bundle.has("fit"):
        return section(T.label("fit"), not_recorded(T.label("fit_survey")), id="fit")
    dims = bundle.table("fit_dimensions")
    body = []
    if dims is not None and len(dims):
        rows = [[dimension_label(dims, r["dimension"]), T.figure(privacy.format_score(r.get("district_mean"))),
                 T.figure(privacy.format_score(r.get("partner_mean"))),
                 T.figure(privacy.format_score(r.get("gap"))),
                 "" if missing(r.get("gap_flag")) else T.code_words(r.get("gap_flag"))]
                for _, r in dims.iterrows()]
        body.append(table(rows, columns=[T.label("dimension"), T.label("district_view"), T.label("partner_view"),
                                         T.label("gap"), T.label("flag")],
                          caption=T.label("fit_caption")))
    prompts = bundle.table("fit_prompts")
    if prompts is not None and len(prompts):
        items = "".join(f"<li><strong>{esc(dimension_label(dims, r['dimension']))}:</strong> "
                        f"{esc(_fit_prompt(dims, r))}</li>" for _, r in prompts.iterrows())
        body.append(f"<h3>{esc(T.label('next_questions'))}</h3><ul>{items}</ul>")
    return section(T.label("fit"), "".join(body), id="fit")


def _fit_prompt(dims: pd.DataFrame | None, r: pd.Series) -> str:
    """The prompt in the report's language; a bundle built before prompts kept their parts has only English."""
    if missing(r.get("top_pair_gap")) or missing(r.get("district_statement")):
        return str(r["prompt"])
    partner = "" if missing(r.get("partner_statement")) else str(r["partner_statement"])
    return T.fit_prompt(dimension_label(dims, r["dimension"]), str(r["district_statement"]), partner,
                        float(r["top_pair_gap"]))


def investments_html(bundle: Bundle) -> str:
    """Contributions by term (money with the currency, whole hours, partner share) and by category this term."""
    if not bundle.has("investments"):
        return section(T.label("investments"), not_recorded(T.label("investments")), id="investments")
    cur = _currency(bundle)
    money = lambda v: T.figure(privacy.format_money(v, cur))  # noqa: E731
    L = T.label
    bal = _reader_table(bundle.table("investment_balance"), L("contributions_by_term"), [
        ("term", L("term"), str), ("district_value", L("district_contribution"), money),
        ("partner_value", L("partner_contribution"), money), ("total_value", L("total"), money),
        ("partner_share", L("partner_share"), lambda v: T.figure(privacy.format_share(v))),
        ("balance_band", L("balance"), T.code_words),
        ("change_partner_share", L("change_partner_share"), lambda v: T.figure(privacy.format_points(v))),
        ("district_hours", L("district_hours"), lambda v: T.figure(privacy.format_whole(v))),
        ("partner_hours", L("partner_hours"), lambda v: T.figure(privacy.format_whole(v)))])
    cat = bundle.table("investment_by_category")
    if cat is not None and len(cat):
        cat = cat.copy()
        if "category_label" in cat.columns:
            cat["category_label"] = cat["category_label"].fillna(cat.get("category"))
        else:
            cat["category_label"] = cat["category"].map(T.code_words)
        cat = cat.sort_values([c for c in ("party", "category_label") if c in cat.columns], kind="stable")
    by_cat = _reader_table(cat, T.category_caption(bundle.term), [
        ("category_label", L("category"), str), ("party", L("contributed_by"), lambda v: T.code_words(v).capitalize()),
        ("value", L("value"), money), ("hours", L("hours"), lambda v: T.figure(privacy.format_whole(v)))])
    return section(L("investments"), bal + by_cat, id="investments")


def checkins_html(bundle: Bundle) -> str:
    """Check-ins per term this school year and the actions still open (no internal ids)."""
    if not bundle.has("checkins"):
        return section(T.label("checkins"), not_recorded(T.label("checkins_n")), id="checkins")
    L = T.label
    status = _reader_table(bundle.table("checkin_status"), L("checkins_by_term"), [
        ("term", L("term"), str), ("held", L("checkin_held"), lambda v: T.code_words(yes_no(v))),
        ("n_checkins", L("checkins_n"), lambda v: T.figure(privacy.format_whole(v))),
        ("last_date", L("last_checkin"), T.date_text), ("status", L("status"), T.code_words)])
    actions = bundle.table("open_actions")
    if actions is not None and len(actions):
        actions = actions.copy()
        past = actions["past_due"] if "past_due" in actions.columns else pd.Series(False, index=actions.index)
        days = actions["days_past_due"] if "days_past_due" in actions.columns else pd.Series(pd.NA, index=actions.index)
        actions["overdue"] = [T.overdue_cell(not (missing(p) or not bool(p)), None if missing(d) else float(d))
                              for p, d in zip(past, days)]
    open_ = _reader_table(actions, L("open_actions"), [
        ("description", L("action"), str), ("owner", L("owner"), str),
        ("side", L("side"), lambda v: T.code_words(v).capitalize()), ("checkin_date", L("agreed_at"), T.date_text),
        ("due_date", L("due"), T.date_text), ("overdue", L("past_due"), str)], empty=L("none_open"))
    return section(L("checkins"), status + open_, id="checkins")


def goals_html(bundle: Bundle) -> str:
    """Goals with baseline, target and progress in the KPI's units; hidden goals read "not shown"."""
    if not bundle.has("goals"):
        return section(T.label("goals"), not_recorded(T.label("goals")), id="goals")
    goals = bundle.table("goals")
    if goals is None or not len(goals):
        return section(T.label("goals"), f"<p>{esc(T.label('no_goals'))}</p>", id="goals")
    kpi = bundle.table("kpi_comparison")
    info = ({} if kpi is None or not len(kpi) else
            {str(r["kpi_id"]): r for _, r in kpi.iterrows()})
    rows = []
    for _, g in goals.iterrows():
        kid = None if missing(g.get("kpi_id")) else str(g["kpi_id"])
        r = info.get(kid) if kid else None
        unit, kind = (r.get("unit"), r.get("kind")) if r is not None else (None, None)
        label = "" if kid is None else (T.kpi_label(r.get("kpi_label")) if r is not None and not missing(r.get("kpi_label"))
                                        else T.code_words(kid))
        hidden = str(g.get("status")) == GOAL_NOT_SHOWN or (
            r is not None and (bool(not missing(r.get("suppressed")) and r.get("suppressed"))
                               or missing(r.get("mean_t"))) and kid is not None)

        n_goal = r.get("n_t") if r is not None else None

        def level(v):
            if missing(v):
                return ""
            if unit or kind:
                return T.figure(privacy.format_level(v, n_goal, unit=unit, kind=kind, profile=bundle.profile))
            return T.figure(privacy.format_score(v))

        if hidden:
            latest = attain = expected = T.label("not_shown")
            status = T.goal_words(GOAL_NOT_SHOWN)
        else:
            latest = level(g.get("latest_value"))
            attain = T.figure(privacy.format_share(g.get("attainment")))
            expected = T.figure(privacy.format_share(g.get("expected"))) if not missing(g.get("attainment")) else ""
            status = T.goal_words(goal_status_words(g.get("status"), g.get("source")))
        rows.append([str(g.get("description") or ""), label, level(g.get("baseline")), level(g.get("target")),
                     "" if missing(g.get("due_term")) else str(g["due_term"]), latest, attain, expected, status])
    L = T.label
    rows, heads = drop_empty_columns(rows, [L("goal"), L("outcome"), L("baseline"), L("target"), L("due"),
                                            L("latest_value"), L("progress"), L("expected"), L("status")])
    return section(L("goals"), table(rows, columns=heads, caption=L("goals_caption")), id="goals")


def notes_html(bundle: Bundle) -> str:
    k = bundle.min_group_n
    markers = bundle.meta.get("profile", {}).get("markers", {"primary": "*", "complementary": "‡"})
    items = [*T.data_notes(k, markers.get("primary", "*"), markers.get("complementary", "\u2021")),
             *T.methods_note(k)[:4]]
    body = f"<h3>{esc(T.label('data_notes'))}</h3><ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"
    return section(T._(T.BOARD_LABELS["methods"]), body, id="notes")


def _shows(render: Callable[[Bundle], str], what: str) -> Callable[[Bundle], None]:
    """A ``show_*`` function: displays ``render(bundle)`` (the HTML of one part of the report) in the notebook."""
    def show(bundle: Bundle) -> None:
        _display_html(render(bundle))
    show.__doc__ = f"Display {what} of the partner report in the notebook."
    return show


show_title = _shows(title_html, "the title block")
show_board = _shows(render_board, "the board (page 1)")
show_story = _shows(render_story, "the story")
show_investments = _shows(investments_html, "the investments section")
show_checkins = _shows(checkins_html, "the check-ins section")
show_goals = _shows(goals_html, "the goals section")
show_notes = _shows(notes_html, "the methods note")


def show_outcomes(bundle: Bundle) -> None:
    """The outcomes section, then a chart with alt text and its data twin when shares can be drawn."""
    _display_html(outcomes_html(bundle))
    kpi = bundle.table("kpi_comparison")
    if not bundle.has("kpi") or kpi is None or not len(kpi):
        return
    drawable = _chart_rows(kpi, bundle.profile)
    if not len(drawable):
        return
    from .. import plots
    _, twin, alt = _kpi_chart_text(drawable)
    long = pd.concat([
        pd.DataFrame({"outcome": drawable["kpi_label"], "group": T.label("participants_group"),
                      "share": drawable["share_t"]}),
        pd.DataFrame({"outcome": drawable["kpi_label"], "group": T.label("comparison_group"),
                      "share": drawable["share_c"]})], ignore_index=True)
    ax = plots.plot_comparison_bars(long, x="outcome", y="share", hue="group", alt=alt, percent=True)
    ax.set_xlabel(T.label("share_of_students"))
    ax.set_ylabel("")
    if ax.get_legend() is not None:
        ax.get_legend().set_title(None)
    _show_chart(ax.figure, alt=alt, twin=twin, caption=T.label("chart_twin_outcomes"))


def _show_chart(fig, *, alt: str, twin: pd.DataFrame, caption: str) -> None:
    """The chart with its alt text (:func:`partner_analysis.plots.show_chart`), then its data as a captioned table
    one click away: its figures are in the alt text and the tables above, so it does not lengthen the page."""
    from .. import plots
    twin_html = None
    if twin is not None and len(twin):
        twin_html = (f'<details class="chart-data"><summary>{html.escape(caption)}</summary>'
                     + table(twin.astype(str).values.tolist(), columns=list(twin.columns), caption=caption)
                     + "</details>")
        twin_html = _previewed(twin_html)
    plots.show_chart(fig, alt=alt, twin_html=twin_html)


def _chart_rows(kpi: pd.DataFrame, profile: privacy.PrivacyProfile) -> pd.DataFrame:
    """Percentage KPIs whose two levels are both shown plainly, with the displayed text and its value.

    Bars are drawn at the displayed (rounded) value, never the exact one, and a
    KPI with a coded or hidden level is left out: a bar's length would give it
    back.
    """
    out = []
    for _, r in kpi.iterrows():
        if not (str(r.get("unit")) in PERCENT_UNITS or str(r.get("kind")) == "binary"):
            continue
        texts = [privacy.format_level(r.get(f"mean_{g}"), r.get(f"n_{g}"), unit=r.get("unit"), kind=r.get("kind"),
                                      profile=profile) for g in ("t", "c")]
        if not all(privacy.shown_plainly(t) and t.endswith("%") for t in texts):
            continue
        out.append({"kpi_label": T.kpi_label(r.get("kpi_label", r["kpi_id"])), "text_t": texts[0], "text_c": texts[1],
                    "share_t": float(texts[0].rstrip("%")) / 100, "share_c": float(texts[1].rstrip("%")) / 100})
    return pd.DataFrame(out, columns=["kpi_label", "text_t", "text_c", "share_t", "share_c"])


def _kpi_chart_text(rows: pd.DataFrame) -> tuple[None, pd.DataFrame, str]:
    twin = pd.DataFrame({T.label("outcome"): rows["kpi_label"].tolist(),
                         T.label("participants_group"): [T.figure(t) for t in rows["text_t"]],
                         T.label("comparison_group"): [T.figure(c) for c in rows["text_c"]]})
    return None, twin, T.chart_alt_outcomes(list(twin.itertuples(index=False, name=None)))


def _show_fit_chart(bundle: Bundle) -> None:
    dims = bundle.table("fit_dimensions")
    if dims is None or not len(dims) or dims[["district_mean", "partner_mean"]].isna().all().all():
        return
    from .. import plots
    label = dims["dimension_label"] if "dimension_label" in dims.columns else dims["dimension"]
    long = pd.concat([
        pd.DataFrame({"dimension": label.astype(str), "side": T._(T.BOARD_LABELS["district_side"]),
                      "score": dims["district_mean"]}),
        pd.DataFrame({"dimension": label.astype(str), "side": T._(T.BOARD_LABELS["partner_side"]),
                      "score": dims["partner_mean"]})],
        ignore_index=True).dropna()
    twin = long.pivot(index="dimension", columns="side", values="score").reindex(label.astype(str).unique())
    twin = twin.reset_index().rename(columns={"dimension": T.label("dimension")})
    for c in (T._(T.BOARD_LABELS["district_side"]), T._(T.BOARD_LABELS["partner_side"])):
        if c in twin.columns:
            twin[c] = twin[c].map(lambda v: "" if missing(v) else T.figure(privacy.format_score(v)))
    gap = dims.assign(absgap=dims["gap"].abs()).sort_values("absgap", ascending=False).iloc[0]
    alt = T.chart_alt_fit(len(twin), str(gap.get('dimension_label', gap['dimension'])),
                          T.figure(privacy.format_score(gap['district_mean'])),
                          T.figure(privacy.format_score(gap['partner_mean'])))
    ax = plots.plot_gap(long, dimension="dimension", side="side", value="score", alt=alt)
    ax.set_xlim(1, 5)  # the survey's full 1-5 scale: a narrow axis makes small gaps look large
    ax.set_xticks([1, 2, 3, 4, 5])
    ax.set_xlabel(T.label("fit_axis"))
    _show_chart(ax.figure, alt=alt, twin=twin, caption=T.label("chart_twin_fit"))


def show_fit(bundle: Bundle) -> None:
    _display_html(fit_html(bundle))
    if bundle.has("fit"):
        _show_fit_chart(bundle)
