"""Chart helpers in the seaborn style, for notebooks and reports.

Every function takes a tidy ``data`` frame and column names, draws on ``ax``
(or a new figure) and returns the ``Axes``, like seaborn's axes-level
functions. Each **requires** an ``alt`` text: a chart that cannot be described
cannot be published. The text and the data actually drawn (the chart's
"data-table twin") travel with the figure:

* ``ax.figure._pa_alt`` / ``ax._pa_alt``: the alt text (:func:`chart_alt`),
* ``ax._pa_data_table``: a tidy copy of what was drawn (:func:`chart_data`),

and :func:`figure_to_png_with_alt` turns a figure into the PNG bundle a
notebook displays with its alt text (no PNG metadata leaves).

Colours come from seaborn's ``colorblind`` palette and every series also
differs by marker, line style or hatch, so no chart relies on colour alone.
"""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .exceptions import ConfigError, check_argument

__all__ = ["plot_trend", "plot_distribution", "plot_comparison_bars", "plot_gap", "plot_stacked_bars",
           "figure_to_png_with_alt", "show_chart", "check_alt", "attach_chart", "new_axes", "chart_alt", "chart_data",
           "ChartResult", "chart_result", "PLACEHOLDER_ALTS", "MIN_ALT_LENGTH", "group_palette", "sparkline_svg"]

#: the shortest alt text accepted (a sentence, not a word)
MIN_ALT_LENGTH = 10
#: alt texts that describe nothing, nbconvert's placeholder among them (compared lower-case, without a final ".")
PLACEHOLDER_ALTS = ("no description has been provided for this image", "image", "chart", "figure", "plot", "graph")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_LINESTYLES = ("-", "--", ":", "-.")
_HATCHES = ("", "//", "..", "xx", "\\\\", "++", "oo", "--")

_DOC_DATA = "data : DataFrame\n        Tidy input, one row per drawn element; it is not modified."
_DOC_ALT = ("alt : str\n        Required. One or two sentences saying what the chart shows (its message), for screen "
            "readers and the report's alt attribute.")
_DOC_AX = "ax : matplotlib Axes, optional\n        Draw here; default a new figure."


@dataclass(frozen=True)
class ChartResult:
    """A drawn chart: its figure, alt text and data-table twin."""

    figure: Any
    alt: str
    data_table: pd.DataFrame


def check_alt(alt: Any) -> str:
    """``alt`` stripped, when it is real alt text; else :class:`ConfigError`.

    The one rule for every chart the toolkit draws or shows: at least :data:`MIN_ALT_LENGTH` characters
    (a sentence saying what the chart shows), and not a placeholder (:data:`PLACEHOLDER_ALTS`, such as
    nbconvert's "No description has been provided for this image", which passes axe but tells a reader
    nothing).
    """
    text = alt.strip() if isinstance(alt, str) else ""
    if len(text) < MIN_ALT_LENGTH or text.lower().rstrip(".") in PLACEHOLDER_ALTS:
        raise ConfigError(f"a chart needs real alt text that says what it shows, got {alt!r}", key="alt",
                          fix="Pass alt='Participants attended 94% of days, 2 points above the comparison group'")
    return text


def _check_columns(data: pd.DataFrame, *cols: str | None) -> None:
    if not isinstance(data, pd.DataFrame):
        raise ConfigError(f"data must be a pandas DataFrame, got {type(data).__name__}", key="data")
    missing = [c for c in cols if c is not None and c not in data.columns]
    if missing:
        raise ConfigError(f"columns {missing} are not in data", key="data", fix=f"Use some of {list(data.columns)}")


def new_axes(ax=None, figsize=(7, 4)):
    """``ax``, or the Axes of a new figure of ``figsize`` inches when ``ax`` is None."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def attach_chart(ax, alt: str, table: pd.DataFrame):
    """Attach ``alt`` and the data-table twin ``table`` to ``ax`` and its figure (read by :func:`chart_alt`,
    :func:`chart_data`, :func:`show_chart`); return ``ax``."""
    ax._pa_alt = alt
    ax.figure._pa_alt = alt
    ax._pa_data_table = table.reset_index(drop=True)
    ax.figure._pa_data_table = ax._pa_data_table
    return ax


def _finish(ax, alt: str, data: pd.DataFrame, *, columns: Sequence[str | None], hue: str | None,
            title: str | None):
    """Title, a legend naming ``hue``, and the twin table of the drawn ``columns`` (None ones skipped)."""
    if title:
        ax.set_title(title)
    if hue:
        ax.legend(title=hue.replace("_", " "), frameon=False)
    return attach_chart(ax, alt, data[[c for c in columns if c]].copy())


def _percent(axis) -> None:
    from matplotlib.ticker import PercentFormatter
    axis.set_major_formatter(PercentFormatter(1.0))


#: seaborn's "colorblind" palette (seaborn.palettes.SEABORN_PALETTES, seaborn 0.13), as hex. Kept here so a
#: report kernel draws its charts without importing seaborn (about 0.8 s of CPU per report, most of what a
#: report costs beyond its kernel); tests/test_plots.py checks it against seaborn itself.
COLORBLIND = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4", "#949494",
              "#ece133", "#56b4e9")


def _palette(n: int) -> list[tuple[float, float, float]]:
    """``n`` colours of the colour-blind palette as RGB tuples, repeating it past ten (as seaborn does)."""
    from matplotlib.colors import to_rgb
    return [to_rgb(COLORBLIND[i % len(COLORBLIND)]) for i in range(max(n, 1))]


def group_palette(levels: Sequence[str]) -> dict[str, tuple]:
    """A fixed colour per level (colour-blind palette, in the order given).

    Pass the result as ``palette=`` to every chart of a view so a group keeps its colour even when another group
    is missing from one chart (e.g. participants suppressed).
    """
    return dict(zip(levels, _palette(len(levels))))


def _colours(groups: list, palette: Mapping | None) -> list:
    if palette is None:
        return list(_palette(len(groups)))
    missing = [g for g in groups if g is not None and g not in palette]
    if missing:
        raise ConfigError(f"palette has no colour for {missing}", key="palette",
                          fix="Give a colour for every level, e.g. plots.group_palette(levels)")
    return [palette[g] if g is not None else _palette(1)[0] for g in groups]


def _box_orientation() -> dict:
    # seaborn 0.13 hands Axes.bxp ``vert=``, deprecated in Matplotlib 3.11; its plot keywords override its own,
    # so name the orientation the supported way. Matplotlib < 3.10 has no ``orientation`` and needs nothing.
    import matplotlib
    major, minor = (int(p) for p in matplotlib.__version__.split(".")[:2])
    return {"vert": None, "orientation": "vertical"} if (major, minor) >= (3, 10) else {}


def _levels(series: pd.Series) -> list:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return [c for c in series.cat.categories if c in set(series)]
    return list(dict.fromkeys(series.dropna()))


def chart_alt(obj) -> str | None:
    """The alt text attached to an Axes or Figure by this module (None if it has none)."""
    return getattr(obj, "_pa_alt", None) or getattr(getattr(obj, "figure", None), "_pa_alt", None)


def chart_data(obj) -> pd.DataFrame | None:
    """The data-table twin attached to an Axes or Figure."""
    return getattr(obj, "_pa_data_table", None)


def chart_result(ax) -> ChartResult:
    """Bundle an Axes drawn here into a :class:`ChartResult`."""
    alt = chart_alt(ax)
    if alt is None:
        raise ConfigError("this chart has no alt text", key="alt", fix="Draw it with a partner_analysis.plots function")
    return ChartResult(figure=ax.figure, alt=alt, data_table=chart_data(ax))


def plot_trend(data: pd.DataFrame, *, x: str, y: str, hue: str | None = None, alt: str,
               ci_low: str | None = None, ci_high: str | None = None, ax=None, title: str | None = None,
               ylabel: str | None = None, percent: bool = False, palette: Mapping | None = None, **kwargs):
    """Lines over ordered ``x`` (terms), one per ``hue`` level, with optional CI bands.

    Parameters
    ----------
    {data}
    x, y : str
        Columns of the horizontal axis (kept in order of appearance, or
        category order) and of the value.
    hue : str, optional
        Column whose levels get one line each (e.g. participants / comparison).
    {alt}
    ci_low, ci_high : str, optional
        Columns of the interval drawn as a shaded band and error bars.
    {ax}
    title, ylabel : str, optional
    percent : bool
        Show 0-1 values as percentages on the axis.
    palette : mapping, optional
        Colour per ``hue`` level (:func:`group_palette`); default the colour-blind palette in order of appearance.
    **kwargs
        Passed to ``Axes.plot``.

    Returns
    -------
    matplotlib Axes
    """
    alt = check_alt(alt)
    _check_columns(data, x, y, hue, ci_low, ci_high)
    ax = new_axes(ax)
    xs = _levels(data[x].astype(str))
    pos = {v: i for i, v in enumerate(xs)}
    groups = _levels(data[hue]) if hue else [None]
    colours = _colours(groups, palette)
    for i, g in enumerate(groups):
        d = data if g is None else data[data[hue] == g]
        d = d.assign(_x=d[x].astype(str).map(pos)).sort_values("_x")
        yv = d[y].to_numpy(dtype=float)
        ax.plot(d["_x"], yv, marker=_MARKERS[i % len(_MARKERS)], linestyle=_LINESTYLES[i % len(_LINESTYLES)],
                color=colours[i], label=None if g is None else str(g), **kwargs)
        if ci_low and ci_high:
            lo, hi = d[ci_low].to_numpy(dtype=float), d[ci_high].to_numpy(dtype=float)
            ax.fill_between(d["_x"], lo, hi, color=colours[i], alpha=0.15, linewidth=0)
            ax.errorbar(d["_x"], yv, yerr=[yv - lo, hi - yv], fmt="none", ecolor=colours[i], capsize=3, alpha=0.8)
    ax.set_xticks(range(len(xs)), xs, rotation=30 if len(xs) > 4 else 0, ha="right" if len(xs) > 4 else "center")
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(ylabel or y.replace("_", " "))
    if percent:
        _percent(ax.yaxis)
    return _finish(ax, alt, data, columns=(x, hue, y, ci_low, ci_high), hue=hue, title=title)


def plot_distribution(data: pd.DataFrame, *, x: str, hue: str | None = None, alt: str, kind: str = "hist",
                      ax=None, title: str | None = None, palette: Mapping | None = None, **kwargs):
    """Distribution of ``x`` by ``hue``: histogram, box plot or ECDF (seaborn).

    Student-level values stay inside the district: use this in analysts'
    notebooks, not in shared reports (the twin table holds only summary rows:
    n, mean, quartiles per group, never individual values).

    Parameters
    ----------
    {data}
    x : str
        The value column.
    hue : str, optional
    {alt}
    kind : {{"hist", "box", "ecdf"}}
    {ax}
    palette : mapping, optional
        Colour per ``hue`` level (:func:`group_palette`).
    **kwargs
        Passed to ``seaborn.histplot``, ``boxplot`` or ``ecdfplot``.

    Returns
    -------
    matplotlib Axes
    """
    import seaborn as sns
    alt = check_alt(alt)
    _check_columns(data, x, hue)
    check_argument("kind", kind, ("hist", "box", "ecdf"), key="kind")
    ax = new_axes(ax)
    levels = _levels(data[hue]) if hue else None
    palette = dict(zip(levels, _colours(levels, palette))) if hue else None
    if kind == "hist":
        sns.histplot(data=data, x=x, hue=hue, hue_order=levels, palette=palette, stat="density",
                     common_norm=False, element="step", ax=ax, **kwargs)
    elif kind == "box":
        kwargs = {**_box_orientation(), **kwargs}
        if hue:
            sns.boxplot(data=data, x=hue, y=x, order=levels, hue=hue, hue_order=levels, palette=palette, ax=ax,
                        showfliers=False, **kwargs)
        else:
            sns.boxplot(data=data, y=x, ax=ax, showfliers=False, **kwargs)
    else:
        sns.ecdfplot(data=data, x=x, hue=hue, hue_order=levels, palette=palette, ax=ax, **kwargs)
    if title:
        ax.set_title(title)
    grouped = data.groupby(hue, observed=True)[x] if hue else data[[x]].assign(_all="all").groupby("_all")[x]
    twin = grouped.describe()[["count", "mean", "25%", "50%", "75%"]].reset_index()
    return attach_chart(ax, alt, twin)


def plot_comparison_bars(data: pd.DataFrame, *, x: str, y: str, hue: str | None = None, alt: str,
                         ci_low: str | None = None, ci_high: str | None = None, orient: str = "h", ax=None,
                         title: str | None = None, percent: bool = False, **kwargs):
    """Grouped bars: one group per ``x`` (e.g. KPI), one bar per ``hue`` level, optional CI whiskers.

    Rows whose ``y`` is missing (suppressed) are left out of the bars and kept
    out of the twin table.

    Parameters
    ----------
    {data}
    x, y : str
        Category and value columns.
    hue : str, optional
    {alt}
    ci_low, ci_high : str, optional
    orient : {{"h", "v"}}
        Horizontal bars (default: long labels read better) or vertical.
    {ax}
    percent : bool
        Format the value axis as percentages of 1.
    **kwargs
        Passed to ``Axes.barh`` / ``Axes.bar``.

    Returns
    -------
    matplotlib Axes
    """
    alt = check_alt(alt)
    _check_columns(data, x, y, hue, ci_low, ci_high)
    check_argument("orient", orient, ("h", "v"), key="orient")
    drawn = data[data[y].notna()]
    cats = _levels(drawn[x].astype(str))
    groups = _levels(drawn[hue]) if hue else [None]
    ax = new_axes(ax, figsize=(7, 0.8 + 0.45 * max(len(cats), 1) * max(len(groups), 1) ** 0.5)
               if orient == "h" else (7, 4))
    width = 0.8 / len(groups)
    colours = _palette(len(groups))
    base = np.arange(len(cats))
    for i, g in enumerate(groups):
        d = drawn if g is None else drawn[drawn[hue] == g]
        d = d.set_index(d[x].astype(str)).reindex(cats)
        vals = d[y].to_numpy(dtype=float)
        where = base - 0.4 + width * (i + 0.5)
        err = None
        if ci_low and ci_high:
            err = np.vstack([vals - d[ci_low].to_numpy(dtype=float), d[ci_high].to_numpy(dtype=float) - vals])
        style = dict(color=colours[i], hatch=_HATCHES[i % len(_HATCHES)], edgecolor="black", linewidth=0.5,
                     label=None if g is None else str(g), **kwargs)
        if orient == "h":
            ax.barh(where, vals, height=width, xerr=err, capsize=3, **style)
        else:
            ax.bar(where, vals, width=width, yerr=err, capsize=3, **style)
    if orient == "h":
        ax.set_yticks(base, cats)
        ax.invert_yaxis()
        ax.set_xlabel(y.replace("_", " "))
        value_axis = ax.xaxis
    else:
        ax.set_xticks(base, cats, rotation=30, ha="right")
        ax.set_ylabel(y.replace("_", " "))
        value_axis = ax.yaxis
    if percent:
        _percent(value_axis)
    return _finish(ax, alt, drawn, columns=(x, hue, y, ci_low, ci_high), hue=hue, title=title)


def plot_gap(data: pd.DataFrame, *, dimension: str, side: str, value: str, alt: str, ax=None,
             sides: Sequence[str] | None = None, title: str | None = None, xlim: tuple[float, float] | None = None,
             **kwargs):
    """Dumbbell chart of a gap: per ``dimension``, one marker per ``side`` joined by a line.

    Used for partner fit (district vs partner score per dimension) and any
    two-sided comparison.

    Parameters
    ----------
    {data}
    dimension : str
        Row labels (one row of the chart per value).
    side : str
        Column naming the side (e.g. ``"district"`` / ``"partner"``).
    value : str
        The score.
    {alt}
    {ax}
    sides : list of str, optional
        Order of the sides (default order of appearance).
    xlim : (float, float), optional
        Axis range (e.g. the scale 1-5).
    **kwargs
        Passed to ``Axes.scatter``.

    Returns
    -------
    matplotlib Axes
    """
    alt = check_alt(alt)
    _check_columns(data, dimension, side, value)
    dims = _levels(data[dimension].astype(str))
    sides = list(sides) if sides is not None else _levels(data[side])
    ax = new_axes(ax, figsize=(7, 0.8 + 0.5 * max(len(dims), 1)))
    wide = data.assign(_d=data[dimension].astype(str)).pivot_table(index="_d", columns=side, values=value,
                                                                   aggfunc="mean").reindex(dims)
    ypos = np.arange(len(dims))
    present = [s for s in sides if s in wide.columns]
    if len(present) >= 2:
        lo = wide[present].min(axis=1).to_numpy(dtype=float)
        hi = wide[present].max(axis=1).to_numpy(dtype=float)
        ax.hlines(ypos, lo, hi, color="0.6", linewidth=2, zorder=1)
    colours = _palette(len(sides))
    for i, s in enumerate(sides):
        if s in wide.columns:
            ax.scatter(wide[s].to_numpy(dtype=float), ypos, s=70, marker=_MARKERS[i % len(_MARKERS)],
                       color=colours[i], edgecolor="black", linewidth=0.5, label=str(s), zorder=2, **kwargs)
    ax.set_yticks(ypos, dims)
    ax.invert_yaxis()
    ax.set_xlabel(value.replace("_", " "))
    if xlim:
        ax.set_xlim(*xlim)
    if title:
        ax.set_title(title)
    ax.legend(frameon=False, loc="best")
    twin = wide.reindex(columns=present).reset_index().rename(columns={"_d": dimension})
    if len(present) >= 2:
        twin["gap"] = twin[present[1]] - twin[present[0]]
    return attach_chart(ax, alt, twin)


def plot_stacked_bars(data: pd.DataFrame, *, x: str, y: str, hue: str, alt: str, normalize: bool = False,
                      orient: str = "v", ax=None, title: str | None = None, **kwargs):
    """Stacked bars: ``y`` summed per ``x`` and ``hue`` (e.g. investment by category per term).

    Parameters
    ----------
    {data}
    x : str
        Bar categories.
    y : str
        Values to stack.
    hue : str
        Stack segments.
    {alt}
    normalize : bool
        Stack shares of each bar's total instead of values.
    orient : {{"v", "h"}}
    {ax}
    **kwargs
        Passed to ``Axes.bar`` / ``Axes.barh``.

    Returns
    -------
    matplotlib Axes
    """
    alt = check_alt(alt)
    _check_columns(data, x, y, hue)
    check_argument("orient", orient, ("h", "v"), key="orient")
    cats = _levels(data[x].astype(str))
    segs = _levels(data[hue])
    wide = (data.assign(_x=data[x].astype(str)).pivot_table(index="_x", columns=hue, values=y, aggfunc="sum",
                                                             observed=True)
            .reindex(index=cats, columns=segs).fillna(0.0))
    if normalize:
        totals = wide.sum(axis=1).replace(0, np.nan)
        wide = wide.div(totals, axis=0).fillna(0.0)
    ax = new_axes(ax)
    bottom = np.zeros(len(cats))
    colours = _palette(len(segs))
    pos = np.arange(len(cats))
    for i, s in enumerate(segs):
        vals = wide[s].to_numpy(dtype=float)
        style = dict(color=colours[i], hatch=_HATCHES[i % len(_HATCHES)], edgecolor="black", linewidth=0.5,
                     label=str(s), **kwargs)
        if orient == "v":
            ax.bar(pos, vals, bottom=bottom, **style)
        else:
            ax.barh(pos, vals, left=bottom, **style)
        bottom = bottom + vals
    if orient == "v":
        ax.set_xticks(pos, cats, rotation=30 if len(cats) > 4 else 0, ha="right" if len(cats) > 4 else "center")
        ax.set_ylabel(("share of " if normalize else "") + y.replace("_", " "))
    else:
        ax.set_yticks(pos, cats)
        ax.set_xlabel(("share of " if normalize else "") + y.replace("_", " "))
    if normalize:
        _percent(ax.yaxis if orient == "v" else ax.xaxis)
    if title:
        ax.set_title(title)
    ax.legend(title=hue.replace("_", " "), frameon=False, bbox_to_anchor=(1.0, 1.0), loc="upper left")
    twin = wide.reset_index().rename(columns={"_x": x})
    twin.columns = [str(c) for c in twin.columns]
    return attach_chart(ax, alt, twin)


def figure_to_png_with_alt(fig, *, alt: str | None = None, dpi: int = 110, tight: bool = True,
                           compress_level: int = 6) -> tuple[dict, dict]:
    """PNG display bundle of a figure (or Axes) with its alt text.

    Returns ``(data, metadata)`` for
    ``IPython.display.display(data, metadata=metadata, raw=True)``: ``data``
    holds base64 ``image/png`` and a ``text/plain`` fallback naming the alt
    text; ``metadata["image/png"]["alt"]`` is what nbconvert templates put in
    the ``alt`` attribute. The PNG carries no text metadata (no software tag,
    nothing about the data). ``tight=False`` saves the figure as laid out (draw it with
    ``layout="constrained"``): one drawing pass instead of two, for views that redraw on every change.
    ``compress_level`` is zlib's (0-9, Pillow's PNG option): 1 takes about a third less time to encode for about
    a tenth more bytes, for views that redraw on every change; the pixels are the same (PNG is lossless).

    Raises
    ------
    ConfigError
        No alt text given or attached, or a placeholder such as "chart".
    """
    fig = getattr(fig, "figure", fig)
    text = check_alt(alt if alt is not None else chart_alt(fig))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None, metadata={"Software": None},
                pil_kwargs={"compress_level": compress_level})
    width = int(fig.get_size_inches()[0] * dpi)
    data = {"image/png": base64.b64encode(buf.getvalue()).decode("ascii"), "text/plain": f"[chart: {text}]"}
    return data, {"image/png": {"alt": text, "width": width}}


def show_chart(fig, *, alt: str | None = None, twin_html: str | None = None) -> None:
    """Display a figure (or Axes) in a notebook as a PNG with its alt text, then its data-table twin; close it.

    Parameters
    ----------
    fig : matplotlib Figure or Axes
    alt : str, optional
        Default: the alt text attached by the ``plot_*`` function (:func:`chart_alt`).
    twin_html : str, optional
        The chart's data as an accessible HTML table (captioned), shown below the image.

    Raises
    ------
    ConfigError
        No real alt text (:func:`check_alt`); nothing is displayed.
    """
    import matplotlib.pyplot as plt
    from IPython.display import HTML, display
    fig = getattr(fig, "figure", fig)
    data, metadata = figure_to_png_with_alt(fig, alt=alt)
    plt.close(fig)
    display(data, metadata=metadata, raw=True)
    if twin_html:
        display(HTML(twin_html))


for _f in (plot_trend, plot_distribution, plot_comparison_bars, plot_gap, plot_stacked_bars):
    if _f.__doc__:  # None under python -OO
        _f.__doc__ = _f.__doc__.format(data=_DOC_DATA, alt=_DOC_ALT, ax=_DOC_AX)


def sparkline_svg(values: Sequence[float | None], *, labels: Sequence[str], alt: str, width: int = 132,
                  height: int = 36, colour: str = "#1f4e79") -> str:
    """A small inline SVG line of the last terms, with its accessible text (``role="img"``, ``<title>``).

    Parameters
    ----------
    values : sequence of float or None
        The levels to draw, oldest first: pass the **displayed** (rounded)
        values; None leaves a gap (a hidden level is never drawn).
    labels : sequence of str
        One label per value (terms), read by the title's description.
    alt : str
        What the line shows in words (every value); required, as for every chart.

    Returns
    -------
    str
        ``<svg>`` markup; escaped text; no external resources.
    """
    import html as _html
    alt = check_alt(alt)
    if len(values) != len(labels):
        raise ConfigError(f"sparkline_svg needs one label per value, got {len(labels)} for {len(values)}",
                          key="labels")
    pts = [(i, float(v)) for i, v in enumerate(values) if v is not None and np.isfinite(float(v))]
    pad = 5
    n = max(len(values) - 1, 1)
    body = ""
    if pts:
        lo, hi = min(v for _, v in pts), max(v for _, v in pts)
        span = (hi - lo) or 1.0
        xy = [(pad + i * (width - 2 * pad) / n, height - pad - (v - lo) / span * (height - 2 * pad)
               if hi != lo else height / 2) for i, v in pts]
        # a line only joins neighbouring terms; a hidden term breaks it
        runs, cur = [], [xy[0]]
        for (i0, _), (i1, _), p1 in zip(pts, pts[1:], xy[1:]):
            if i1 == i0 + 1:
                cur.append(p1)
            else:
                runs.append(cur)
                cur = [p1]
        runs.append(cur)
        for run in runs:
            if len(run) > 1:
                body += ('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                         % (colour, " ".join(f"{x:.1f},{y:.1f}" for x, y in run)))
        body += "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{3.5 if k == len(xy) - 1 else 2.5}" fill="{colour}"/>'
                        for k, (x, y) in enumerate(xy))
    t = _html.escape(alt, quote=True)
    return (f'<svg class="spark" role="img" aria-label="{t}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}"><title>{t}</title>{body}</svg>')
