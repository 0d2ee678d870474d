"""The report template opened by hand (JupyterLab, Run All, no parameter changed) looks like the published page.

The published page gets its style sheet from the export template; a notebook frontend shows the same
sections as cell outputs inside its own page. ``view.open_report`` therefore displays the sheet confined
to the report's outputs (``html.scoped_css``). These tests check the confinement rule by rule, and then
look at the preview in Chromium, exported with nbconvert's own ``lab`` template (JupyterLab's output
styles), as a newcomer's Run All shows it.
"""
from __future__ import annotations

import pytest

from conftest import require_chromium

SCOPE = ".pa-report.pa-report"


def _rules(sheet: str):
    import tinycss2
    for rule in tinycss2.parse_stylesheet(sheet, skip_comments=True, skip_whitespace=True):
        if rule.type == "at-rule":
            yield from ((rule, r) for r in tinycss2.parse_rule_list(rule.content, skip_comments=True,
                                                                    skip_whitespace=True))
        else:
            yield None, rule


def _selectors(rule) -> list[str]:
    import tinycss2
    return [s.strip() for s in tinycss2.serialize(rule.prelude).split(",")]


def test_scoped_sheet_confines_every_rule_and_keeps_every_screen_rule():
    import tinycss2

    from partner_analysis.report.html import page_css, scoped_css
    page, scoped = list(_rules(page_css())), list(_rules(scoped_css()))
    assert all(r.type != "error" for _, r in scoped), [r for _, r in scoped if r.type == "error"]
    for media, rule in scoped:
        for sel in _selectors(rule):
            # nothing of JupyterLab's own page is restyled: every selector is inside the report's outputs
            assert sel == SCOPE or sel.startswith(SCOPE + " "), sel
        assert media is None or "print" not in tinycss2.serialize(media.prelude)
    screen = [(m, r) for m, r in page if m is None or "print" not in tinycss2.serialize(m.prelude)]
    # every screen rule is carried, with its declarations unchanged, plus the one reset of the frontend's dl layout
    assert len(scoped) == len(screen) + 1
    assert ([tinycss2.serialize(r.content).strip() for _, r in scoped[1:]]
            == [tinycss2.serialize(r.content).strip() for _, r in screen])
    body = next(r for m, r in scoped if _selectors(r) == [SCOPE] and "font-family" in tinycss2.serialize(r.content))
    assert "#ffffff" in tinycss2.serialize(body.content)      # the page's body rule becomes the scope's own


@pytest.fixture(scope="module")
def preview_html(demo_dir, tmp_path_factory):
    """The template run as a newcomer runs it (papermill, default parameters, the demo via PA_DATA_DIR),
    exported with nbconvert's lab template."""
    import os

    import nbformat
    import papermill as pm
    from nbconvert import HTMLExporter

    from conftest import ROOT
    out = tmp_path_factory.mktemp("preview")
    old = os.environ.get("PA_DATA_DIR")
    os.environ["PA_DATA_DIR"] = str(demo_dir)
    try:
        pm.execute_notebook(str(ROOT / "notebooks" / "quarterly_report.ipynb"), str(out / "run.ipynb"),
                            kernel_name="python3", progress_bar=False, cwd=str(ROOT / "notebooks"))
    finally:
        if old is None:
            os.environ.pop("PA_DATA_DIR", None)
        else:
            os.environ["PA_DATA_DIR"] = old
    nb = nbformat.read(out / "run.ipynb", as_version=4)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    (out / "preview.html").write_text(body, encoding="utf-8")
    return nb, out / "preview.html"


@pytest.mark.slow
def test_preview_outputs_carry_the_confined_sheet_once(preview_html):
    nb, _ = preview_html
    htmls = [o["data"]["text/html"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
             if "text/html" in o.get("data", {})]
    sheets = [h for h in htmls if h.startswith("<style>")]
    assert len(sheets) == 1 and SCOPE in sheets[0]
    sections = [h for h in htmls if not h.startswith("<style>") and "<img" not in h]
    # inside the styled container, which the frontend's MathJax leaves alone ("$5,724 · Partner $15,088")
    assert sections and all(h.startswith('<div class="pa-report mathjax_ignore tex2jax_ignore">') for h in sections)
    assert any('class="board"' in h for h in sections)


@pytest.mark.slow
@pytest.mark.browser
def test_preview_board_is_laid_out_as_published_in_the_lab_page(preview_html):
    exe = require_chromium()
    playwright = pytest.importorskip("playwright.sync_api")
    from partner_analysis.report.pdf import CHROMIUM_ARGS
    _, page_path = preview_html
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(page_path.as_uri())
            style = page.evaluate("""() => {
                const css = (sel, prop) => getComputedStyle(document.querySelector(sel))[prop];
                const tiles = document.querySelectorAll('.pa-report .board .tile');
                const tops = new Set([...tiles].slice(0, 4).map(t => Math.round(t.getBoundingClientRect().top)));
                return {tiles: css('.pa-report .board .tiles', 'display'),
                        bullet: css('.pa-report .board .tile', 'listStyleType'),
                        dt: css('.pa-report .board .tile dt', 'float'),
                        chip: css('.pa-report .chip', 'borderRadius'),
                        td: css('.pa-report td', 'textAlign'),
                        first_row: tops.size, n_tiles: tiles.length,
                        lab_prompt: css('.jp-InputPrompt', 'fontFamily')};
            }""")
        finally:
            browser.close()
    # JupyterLab alone shows tiles as a bulleted list with floated 20 %-wide terms and right-aligned cells
    assert style["tiles"] == "grid" and style["bullet"] == "none", style
    assert style["dt"] == "none" and style["td"] == "left" and style["chip"] != "0px", style
    assert style["n_tiles"] >= 4 and style["first_row"] == 1, style       # the first four tiles share one row
    assert "system-ui" not in style["lab_prompt"], style                   # Lab's own page keeps its fonts
