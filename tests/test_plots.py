"""Chart helpers: required alt text, the data-table twin, and what is drawn (artists, not pixels)."""
from __future__ import annotations

import base64
import io

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from partner_analysis import plots
from partner_analysis.exceptions import ConfigError

TERMS = ["2025-26-Q1", "2025-26-Q2", "2025-26-Q3"]


@pytest.fixture
def trend():
    return pd.DataFrame({"term": TERMS * 2, "group": ["participants"] * 3 + ["comparison"] * 3,
                         "mean": [0.91, 0.93, 0.94, 0.90, 0.90, 0.89],
                         "ci_low": [0.89, 0.91, 0.92, 0.89, 0.89, 0.88],
                         "ci_high": [0.93, 0.95, 0.96, 0.91, 0.91, 0.90]})


ALT = "Participants' attendance rose from 91% to 94% while the comparison group stayed near 90%."


@pytest.mark.parametrize("alt", ["", "   ", None, "chart", "No description has been provided for this image"])
def test_every_chart_refuses_missing_or_placeholder_alt(trend, alt):
    with pytest.raises(ConfigError, match="alt"):
        plots.plot_trend(trend, x="term", y="mean", hue="group", alt=alt)
    with pytest.raises(ConfigError, match="alt"):
        plots.plot_comparison_bars(trend, x="term", y="mean", hue="group", alt=alt)
    with pytest.raises(ConfigError, match="alt"):
        plots.plot_distribution(trend, x="mean", alt=alt)
    with pytest.raises(ConfigError, match="alt"):
        plots.plot_gap(trend, dimension="term", side="group", value="mean", alt=alt)
    with pytest.raises(ConfigError, match="alt"):
        plots.plot_stacked_bars(trend, x="term", y="mean", hue="group", alt=alt)


def test_plot_trend_draws_one_line_per_group_with_bands(trend):
    ax = plots.plot_trend(trend, x="term", y="mean", hue="group", ci_low="ci_low", ci_high="ci_high", alt=ALT,
                          percent=True)
    assert isinstance(ax, plt.Axes)
    lines = [ln for ln in ax.get_lines() if ln.get_label() in ("participants", "comparison")]
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0].get_ydata(), [0.91, 0.93, 0.94])
    assert lines[0].get_marker() != lines[1].get_marker()  # not colour alone
    assert len(ax.collections) >= 2  # CI bands
    assert [t.get_text() for t in ax.get_xticklabels()] == TERMS
    assert plots.chart_alt(ax) == ALT and plots.chart_alt(ax.figure) == ALT
    assert plots.chart_data(ax).shape == (6, 5)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["participants", "comparison"]


def test_plot_trend_draws_on_a_given_axes_and_keeps_input(trend):
    before = trend.copy()
    fig, (a1, a2) = plt.subplots(1, 2)
    out = plots.plot_trend(trend, x="term", y="mean", hue="group", alt=ALT, ax=a2)
    assert out is a2 and not a1.get_lines()
    pd.testing.assert_frame_equal(trend, before)


def test_missing_columns_are_named(trend):
    with pytest.raises(ConfigError, match="nope"):
        plots.plot_trend(trend, x="term", y="nope", alt=ALT)


def test_comparison_bars_leave_out_suppressed_rows():
    d = pd.DataFrame({"kpi_label": ["Attendance", "Attendance", "Chronic absence", "Chronic absence"],
                      "group": ["participants", "comparison"] * 2, "mean": [0.94, 0.91, np.nan, 0.2],
                      "lo": [0.92, 0.90, np.nan, 0.18], "hi": [0.96, 0.92, np.nan, 0.22]})
    ax = plots.plot_comparison_bars(d, x="kpi_label", y="mean", hue="group", ci_low="lo", ci_high="hi", alt=ALT,
                                    percent=True)
    widths = sorted(round(p.get_width(), 3) for p in ax.patches if not np.isnan(p.get_width()))
    assert widths == [0.2, 0.91, 0.94]
    assert len(plots.chart_data(ax)) == 3
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Attendance", "Chronic absence"]
    hatches = {p.get_hatch() for p in ax.patches}
    assert len(hatches) == 2
    v = plots.plot_comparison_bars(d, x="kpi_label", y="mean", hue="group", alt=ALT, orient="v")
    assert sorted(round(p.get_height(), 3) for p in v.patches if not np.isnan(p.get_height())) == [0.2, 0.91, 0.94]


def test_distribution_kinds_and_twin_holds_summaries_only(rng):
    d = pd.DataFrame({"gpa": rng.normal(3, 0.5, 200), "group": np.repeat(["participants", "comparison"], 100)})
    for kind in ("hist", "box", "ecdf"):
        ax = plots.plot_distribution(d, x="gpa", hue="group", kind=kind, alt=ALT)
        twin = plots.chart_data(ax)
        assert list(twin["count"]) == [100, 100]
        assert len(twin) == 2  # never the 200 individual values
        plt.close("all")
    with pytest.raises(ConfigError, match="kind"):
        plots.plot_distribution(d, x="gpa", kind="violin", alt=ALT)


def test_plot_gap_dumbbells():
    d = pd.DataFrame({"dimension": ["Shared goals", "Shared goals", "Communication", "Communication"],
                      "side": ["district", "partner", "district", "partner"], "score": [4.2, 3.1, 3.5, 3.6]})
    ax = plots.plot_gap(d, dimension="dimension", side="side", value="score", alt=ALT, xlim=(1, 5))
    twin = plots.chart_data(ax)
    assert list(twin["dimension"]) == ["Shared goals", "Communication"]
    np.testing.assert_allclose(twin["gap"], [3.1 - 4.2, 3.6 - 3.5])
    assert len(ax.collections) == 3  # the joining lines and one marker series per side
    assert ax.get_xlim() == (1, 5)


def test_stacked_bars_sum_and_normalize():
    d = pd.DataFrame({"term": ["Q1", "Q1", "Q2", "Q2", "Q2"], "category": ["staff", "space", "staff", "space", "staff"],
                      "value": [100.0, 50.0, 30.0, 10.0, 60.0]})
    ax = plots.plot_stacked_bars(d, x="term", y="value", hue="category", alt=ALT)
    twin = plots.chart_data(ax).set_index("term")
    assert twin.loc["Q2", "staff"] == 90.0 and twin.loc["Q1", "space"] == 50.0
    tops = {round(p.get_y() + p.get_height(), 6) for p in ax.patches}
    assert {150.0, 100.0} <= tops
    ax2 = plots.plot_stacked_bars(d, x="term", y="value", hue="category", alt=ALT, normalize=True)
    np.testing.assert_allclose(plots.chart_data(ax2)[["staff", "space"]].sum(axis=1), [1.0, 1.0])


def test_figure_to_png_with_alt(trend):
    ax = plots.plot_trend(trend, x="term", y="mean", hue="group", alt=ALT)
    data, meta = plots.figure_to_png_with_alt(ax.figure)
    png = base64.b64decode(data["image/png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert meta["image/png"]["alt"] == ALT and ALT in data["text/plain"]
    assert b"tEXt" not in png and b"matplotlib" not in png.lower()  # no metadata chunks leave
    res = plots.chart_result(ax)
    assert res.alt == ALT and res.figure is ax.figure and len(res.data_table) == 6
    bare = plt.figure()
    with pytest.raises(ConfigError, match="alt"):
        plots.figure_to_png_with_alt(bare)
    assert plots.figure_to_png_with_alt(bare, alt="An empty test figure with no data.")[1]["image/png"]["alt"]


def test_png_compress_level_keeps_pixels(trend):
    # the explorer encodes with zlib level 1 (faster): lossless, so the decoded image must be the default's
    from PIL import Image
    ax = plots.plot_trend(trend, x="term", y="mean", hue="group", alt=ALT)
    default, fast = (base64.b64decode(plots.figure_to_png_with_alt(ax.figure, compress_level=c)[0]["image/png"])
                     for c in (6, 1))
    assert default != fast and b"tEXt" not in fast
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(default))), np.asarray(Image.open(io.BytesIO(fast))))


@pytest.mark.parametrize("n", [1, 3, 10, 13])
def test_palette_is_seaborns_colorblind_palette(n):
    # the palette is kept in plots so a report never imports seaborn; seaborn itself is the oracle
    sns = pytest.importorskip("seaborn")
    assert plots._palette(n) == list(sns.color_palette("colorblind", n))
    assert plots.group_palette([f"g{i}" for i in range(n)]) == dict(zip([f"g{i}" for i in range(n)],
                                                                        sns.color_palette("colorblind", n)))
