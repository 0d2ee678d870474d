"""Chart output for reports: every image carries real alt text and a data-table twin.

Used until (and beside) :mod:`partner_analysis.plots`: :func:`chart_bundle`
refuses a figure without alt text, and returns the PNG with the
``{"image/png": {"alt": ...}}`` output metadata that the report template reads.
"""
from __future__ import annotations

import base64
import io

import pandas as pd

from ..exceptions import ConfigError
from ._html import PALETTE, PERCENT_UNITS, table

__all__ = ["chart_bundle", "show_chart", "plot_kpi_comparison", "PLACEHOLDER_ALT"]

#: nbconvert's placeholder; it passes axe but tells a reader nothing, so it counts as missing.
PLACEHOLDER_ALT = "No description has been provided for this image"


def _check_alt(alt: str | None) -> str:
    text = (alt or "").strip()
    if len(text) < 10 or text == PLACEHOLDER_ALT or text.lower() in ("image", "chart", "figure", "plot"):
        raise ConfigError(f"a chart needs real alt text describing what it shows, got {alt!r}", key="alt",
                          fix="Describe the chart's message in a sentence")
    return text


def chart_bundle(fig, *, alt: str, dpi: int = 110) -> tuple[dict, dict]:
    """PNG data and output metadata for ``IPython.display.display(data, metadata=..., raw=True)``.

    Raises
    ------
    ConfigError
        When ``alt`` is empty, generic or nbconvert's placeholder.
    """
    text = _check_alt(alt)
    buf = io.BytesIO()
    # No metadata in the PNG: nothing but pixels leaves.
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    data = {"image/png": base64.b64encode(buf.getvalue()).decode("ascii"), "text/plain": f"[chart: {text}]"}
    width, height = fig.get_size_inches() * dpi
    return data, {"image/png": {"alt": text, "width": int(width)}}


def show_chart(fig, *, alt: str, twin: pd.DataFrame | None = None, caption: str = "Data for the chart") -> None:
    """Display a figure with alt text, then its data-table twin, and close the figure."""
    import matplotlib.pyplot as plt
    from IPython.display import HTML, display

    data, meta = chart_bundle(fig, alt=alt)
    plt.close(fig)
    display(data, metadata=meta, raw=True)
    if twin is not None and len(twin):
        display(HTML(table(twin.astype(str).values.tolist(), columns=list(twin.columns), caption=caption)))


def plot_kpi_comparison(data: pd.DataFrame, *, ax=None):
    """Horizontal bars: participants vs comparison group for share-type KPIs (suppressed rows left out).

    Parameters
    ----------
    data : DataFrame
        Bundle ``kpi_comparison`` rows (``kpi_label``, ``unit``, ``kind``, ``mean_t``, ``mean_c``).
    ax : matplotlib Axes, optional

    Returns
    -------
    (Axes, DataFrame, str)
        The axes, the twin table actually drawn, and a generated alt text.
    """
    import matplotlib.pyplot as plt

    rows = data[(data["unit"].astype(str).isin(PERCENT_UNITS) | (data["kind"].astype(str) == "binary"))
                & data["mean_t"].notna() & data["mean_c"].notna()]
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 0.6 + 0.55 * max(len(rows), 1)))
    labels = rows["kpi_label"].astype(str).tolist()
    y = range(len(rows))
    h = 0.38
    ax.barh([i - h / 2 for i in y], 100 * rows["mean_t"], height=h, color=PALETTE["participants"],
            label="Participants")
    ax.barh([i + h / 2 for i in y], 100 * rows["mean_c"], height=h, color=PALETTE["comparison"],
            label="Comparison group", hatch="//", edgecolor="white")
    ax.set_yticks(list(y), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("Percent of students")
    ax.legend(loc="lower right", frameon=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    twin = pd.DataFrame({"Outcome": labels,
                         "Participants": [f"{100 * v:.0f}%" for v in rows["mean_t"]],
                         "Comparison group": [f"{100 * v:.0f}%" for v in rows["mean_c"]]})
    parts = [f"{lab}: participants {t}, comparison {c}" for lab, t, c in
             zip(twin["Outcome"], twin["Participants"], twin["Comparison group"])]
    alt = ("Bar chart comparing participating students with a comparison group. " + "; ".join(parts) + "."
           if parts else "Bar chart with no reportable outcomes.")
    return ax, twin, alt
