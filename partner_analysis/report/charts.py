"""Chart output for reports: every image carries real alt text and a data-table twin.

Used until (and beside) :mod:`partner_analysis.plots`: :func:`chart_bundle`
refuses a figure without alt text, and returns the PNG with the
``{"image/png": {"alt": ...}}`` output metadata that the report template reads.
"""
from __future__ import annotations

import base64
import html
import io

import pandas as pd

from ..exceptions import ConfigError
from ._html import table

__all__ = ["chart_bundle", "show_chart", "PLACEHOLDER_ALT"]

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
        # the chart's data twin, one click away: its figures are in the alt text and the tables above, so it
        # does not lengthen the page (a phone scrolled past it twice)
        display(HTML(f'<details class="chart-data"><summary>{html.escape(caption)}</summary>'
                     + table(twin.astype(str).values.tolist(), columns=list(twin.columns), caption=caption)
                     + "</details>"))
