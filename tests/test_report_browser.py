"""Browser check of the district index and one report: axe-core in headless system Chromium, offline."""
from __future__ import annotations

import re

import pytest

from conftest import require_chromium

TERM = "2025-26-Q2"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
#: The demo partners whose boards are judged: a mixed, a suppressed and a good one.
BOARDS = {"mixed": "P01", "suppressed": "P06", "good": "P08"}
WIDTHS = {"laptop": (1280, 900), "phone": (390, 844)}
pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.xdist_group("report_browser")]


@pytest.fixture(scope="module")
def reports(demo_dir, tmp_path_factory):
    from partner_analysis.report.batch import run_reports
    out = tmp_path_factory.mktemp("reports")
    require_chromium()  # the PDF is printed by Chromium in the workers
    # P01 mixed (a watch and good tiles, overdue actions), P06 suppressed (every group under 10), P08 good
    m = run_reports(demo_dir, term=TERM, out=out, partners=list(BOARDS.values()), workers=2, progress=False,
                    formats=("html", "pdf"))
    assert m.ok, m.rows
    return m


@pytest.fixture(scope="module")
def browser():
    exe = require_chromium()
    playwright = pytest.importorskip("playwright.sync_api")
    from partner_analysis.report.pdf import CHROMIUM_ARGS
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(browser, path):
    page = browser.new_page(viewport={"width": 1200, "height": 1600})
    outside = []

    def route(r):
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()
    page.route("**/*", route)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, outside


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("name", ["index.html", "P01.html", "P06.html", "P08.html", "community_brief.html"])
def test_axe_has_no_violations(reports, browser, name, width):
    from axe_playwright_python.sync_playwright import Axe
    page, outside = _open(browser, reports.index_path.parent / name)
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS[width])))
    result = Axe().run(page, options={"runOnly": {"type": "tag", "values": TAGS}})
    violations = [(v["id"], v["impact"], len(v["nodes"]), v["nodes"][0]["html"][:120])
                  for v in result.response["violations"]]
    assert violations == []
    imgs = page.eval_on_selector_all("img", "els => els.map(e => e.getAttribute('alt'))")
    assert all(a and a.strip() and not a.startswith("No description") for a in imgs)
    if name in ("P01.html", "P08.html"):
        assert imgs, "a report with KPI data shows at least one chart"
    assert page.title() and page.eval_on_selector("html", "e => e.lang") == "en"
    assert page.locator("h1").count() == 1
    assert outside == []  # nothing but file: and data: URLs was requested
    page.close()


@pytest.mark.parametrize("name", ["P01.html", "community_brief.html"])
def test_reflow_at_320px_has_no_horizontal_page_scroll(reports, browser, name):
    page, _ = _open(browser, reports.index_path.parent / name)
    page.set_viewport_size({"width": 320, "height": 800})
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 330
    page.close()


def test_pdf_is_tagged_with_title_and_language(reports):
    import re

    assert all(r["pdf"] == f"{r['partner_id']}.pdf" for r in reports.rows)
    data = (reports.index_path.parent / "P01.pdf").read_bytes()
    assert data.startswith(b"%PDF")
    assert b"/StructTreeRoot" in data and b"/MarkInfo" in data
    assert re.search(rb"/Lang ?\(en\)", data)
    title = re.search(rb"/Title ?\(([^)]*)\)", data).group(1).decode("latin-1")
    assert "partnership report" in title and TERM in title


@pytest.mark.parametrize("name", ["P01.html", "community_brief.html"])
def test_tables_fit_the_page_at_1280px(reports, browser, name):
    # Every table fits its column at a common laptop width: no cell pushes the table past the text column.
    page, _ = _open(browser, reports.index_path.parent / name)
    page.set_viewport_size({"width": 1280, "height": 900})
    wide = page.evaluate("""() => Array.from(document.querySelectorAll('table')).filter(t => {
        const box = t.parentElement.getBoundingClientRect();
        return t.scrollWidth > t.clientWidth + 1 || t.getBoundingClientRect().right > box.right + 1;
      }).map(t => t.caption ? t.caption.textContent : '?')""")
    assert wide == []
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1280
    assert page.locator("caption").count() == page.locator("table").count()
    page.close()


@pytest.fixture(scope="module")
def full_brief(demo_dir, tmp_path_factory):
    """The community brief over every partner of the demo district (bundles only, no report kernels)."""
    from partner_analysis.report.bundle import build_bundles
    from partner_analysis.report.brief import write_brief
    out = tmp_path_factory.mktemp("brief") / TERM
    infos = build_bundles(demo_dir, term=TERM, out=out / "bundles")
    assert len(infos) == 8 and all(i.ok for i in infos)
    return write_brief(out, rows=[{"partner_id": i.partner_id, "status": "ok", "html": f"{i.partner_id}.html"}
                                  for i in infos], term=TERM)


def test_full_community_brief_has_no_axe_violations(full_brief, browser):
    from axe_playwright_python.sync_playwright import Axe
    page, outside = _open(browser, full_brief)
    result = Axe().run(page, options={"runOnly": {"type": "tag", "values": TAGS}})
    assert [(v["id"], v["impact"], len(v["nodes"])) for v in result.response["violations"]] == []
    assert page.locator("tbody tr").count() == 8 and outside == []
    page.close()


@pytest.mark.parametrize("paper", ["Letter", "A4"])
def test_community_brief_prints_on_one_sheet(full_brief, browser, paper):
    # A board packet page: the brief of the eight-partner demo district prints on one sheet, tagged, with the
    # screen-only link back to the index left off.
    import re

    page, _ = _open(browser, full_brief)
    page.emulate_media(media="print")
    assert page.locator("p.back").evaluate("e => getComputedStyle(e).display") == "none"
    data = page.pdf(format=paper, print_background=True, tagged=True)
    assert re.findall(rb"/Type\s*/Pages[^>]*?/Count\s*(\d+)", data) == [b"1"]
    assert b"/StructTreeRoot" in data
    page.close()


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory):
    """Screenshots kept as test artefacts (under pytest's tmp dir; PA_ARTEFACTS=dir keeps them elsewhere)."""
    import os
    from pathlib import Path
    d = Path(os.environ["PA_ARTEFACTS"]) if os.environ.get("PA_ARTEFACTS") else tmp_path_factory.mktemp("boards")
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("kind", list(BOARDS))
def test_board_is_page_one_and_fits_one_laptop_screen(reports, browser, artefacts, kind, width):
    pid = BOARDS[kind]
    page, _ = _open(browser, reports.index_path.parent / f"{pid}.html")
    w, h = WIDTHS[width]
    page.set_viewport_size({"width": w, "height": h})
    page.screenshot(path=str(artefacts / f"board_{kind}_{w}.png"))
    page.locator(".board").screenshot(path=str(artefacts / f"board_{kind}_{w}_board.png"))
    # the board is the first section after the title, and it carries a status sentence and tiles with chips
    first = page.evaluate("() => document.querySelector('main h2').textContent")
    assert first == "Partnership board"
    assert page.locator(".board .overall").count() == 1
    chips = page.evaluate("""() => Array.from(document.querySelectorAll('.board .chip')).map(
        c => [c.className.replace('chip chip-', ''), c.innerText.split('\\n')[0]])""")
    words = {"good": "\u2714 good", "watch": "\u25cf watch", "concern": "\u25b2 concern", "none": "\u2013 no status"}
    assert len(chips) == 4 and all(text == words[status] for status, text in chips), chips  # icon + word
    if kind == "suppressed":
        assert {status for status, _ in chips} == {"none"}
    else:
        # a sparkline for every tile with a shown level (a tile whose levels are all hidden draws none)
        shown = sum(status != "none" for status, _ in chips)
        titles = page.evaluate("() => Array.from(document.querySelectorAll('.board svg.spark[role=img] title'))"
                               ".map(t => t.textContent)")
        assert shown <= len(titles) <= 4 and all(re.search(r"\d", t) for t in titles), titles
    bottom = page.evaluate("() => document.querySelector('.board').getBoundingClientRect().bottom + scrollY")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= w
    if width == "laptop":
        assert bottom <= h, f"the board ends at {bottom:.0f} px, below the {h} px screen"
    page.close()


def _pdf_pages(data: bytes) -> int:
    import re
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", data))


@pytest.mark.parametrize("kind", list(BOARDS))
def test_printed_board_is_one_page_and_page_one_of_the_pdf(reports, browser, kind):
    import shutil
    import subprocess
    pid = BOARDS[kind]
    page, _ = _open(browser, reports.index_path.parent / f"{pid}.html")
    # keep the title block and the board only: they must print on one Letter page
    page.evaluate("""() => { const m = document.querySelector('main');
        const keep = [m.querySelector('h1').closest('.md, div, section') || m.querySelector('h1'),
                      document.querySelector('.board')];
        m.replaceChildren(...keep.map(e => e.cloneNode(true)));
        document.querySelector('footer').remove(); }""")
    data = page.pdf(print_background=True, format="Letter",
                    margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"})
    assert _pdf_pages(data) == 1
    page.close()
    pdf = reports.index_path.parent / f"{pid}.pdf"
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True,
                           check=True).stdout
    assert "Partnership board" in first and "Needs attention" in first and "Investment" in first
    second = subprocess.run(["pdftotext", "-f", "2", "-l", "2", str(pdf), "-"], capture_output=True, text=True,
                            check=True).stdout
    assert "Needs attention" not in second  # the board ends on page 1 (print CSS breaks after it)


def test_pdf_images_and_sparklines_carry_their_alt_text(reports):
    """Every picture of the tagged PDF has /Alt: the charts' alt text and the sparklines' text alternative."""
    import re
    from html.parser import HTMLParser

    html = (reports.index_path.parent / "P01.html").read_text(encoding="utf-8")

    class Count(HTMLParser):
        n = 0

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "img" or (tag == "svg" and a.get("role") == "img"):
                Count.n += 1
    Count().feed(html)
    data = (reports.index_path.parent / "P01.pdf").read_bytes()
    # a PDF string: (...) with backslash escapes, or <hex>
    alts = re.findall(rb"/Alt ?(\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f]*>)", data)
    assert Count.n >= 3 and len(alts) >= Count.n, (Count.n, alts[:3])
    assert any(b"over the last terms" in a for a in alts)  # a sparkline's alt text, not a placeholder


# -- the same pages in Spanish (reports --lang es) ------------------------------------------------------------

@pytest.fixture(scope="module")
def reports_es(demo_dir, tmp_path_factory):
    from partner_analysis.report.batch import run_reports
    out = tmp_path_factory.mktemp("reports_es")
    require_chromium()
    m = run_reports(demo_dir, term=TERM, out=out, partners=["P01", "P06"], workers=2, progress=False,
                    formats=("html", "pdf"), lang="es")
    assert m.ok, m.rows
    return m


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("name", ["index.html", "P01.html", "P06.html", "community_brief.html"])
def test_spanish_pages_have_no_axe_violations(reports_es, browser, artefacts, name, width):
    from axe_playwright_python.sync_playwright import Axe
    page, outside = _open(browser, reports_es.index_path.parent / name)
    w, h = WIDTHS[width]
    page.set_viewport_size({"width": w, "height": h})
    if name.startswith("P0"):
        page.screenshot(path=str(artefacts / f"board_es_{name[:3]}_{w}.png"))
    result = Axe().run(page, options={"runOnly": {"type": "tag", "values": TAGS}})
    assert [(v["id"], v["impact"], len(v["nodes"])) for v in result.response["violations"]] == []
    assert page.eval_on_selector("html", "e => e.lang") == "es" and outside == []
    page.close()


def test_spanish_pdf_is_tagged_in_spanish_with_the_board_on_page_one(reports_es):
    import re
    import shutil
    import subprocess

    data = (reports_es.index_path.parent / "P01.pdf").read_bytes()
    assert b"/StructTreeRoot" in data and re.search(rb"/Lang ?\(es\)", data)
    assert b"informe de la alianza" in re.search(rb"/Title ?\(([^)]*)\)", data).group(1)
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(reports_es.index_path.parent / "P01.pdf"), "-"],
                           capture_output=True, text=True, check=True).stdout
    assert "Panel de la alianza" in first and "Requiere atención" in first and "Inversión" in first
    flat = re.sub(r"\s+", " ", first)
    for english in ("Partnership board", "Needs attention", "Since last term", "percentage point", "not shown",
                    "headline results", "Vs similar students", "Cost per"):
        assert english not in flat, english
