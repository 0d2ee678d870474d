"""Optional tagged PDF of a report page through Playwright and the system Chromium.

Chromium prints a PDF with a structure tree, ``/Lang`` and the page title when
``tagged=True`` (reporting.md §5); nbconvert's webpdf does not. No browser is
ever downloaded: the executable is ``PA_CHROMIUM`` or ``/usr/bin/chromium``.
Requests are confined to ``file:`` and ``data:`` URLs, so printing cannot reach
the network.
"""
from __future__ import annotations

import os
from pathlib import Path

from .._io import atomic_path
from ..exceptions import ConfigError

__all__ = ["html_to_pdf", "chromium_path", "CHROMIUM_ARGS"]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    """The system Chromium, or None."""
    for cand in (os.environ.get("PA_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if cand and Path(cand).exists():
            return cand
    return None


def html_to_pdf(html_path: str | Path, pdf_path: str | Path) -> Path:
    """Print a report page to a tagged PDF (title and language from the HTML), written atomically.

    Raises
    ------
    ConfigError
        When Playwright or Chromium is missing.
    """
    exe = chromium_path()
    if exe is None:
        raise ConfigError("PDF output needs Chromium at /usr/bin/chromium (or PA_CHROMIUM)",
                          fix="Install the system `chromium` package, or use --format html")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise ConfigError("PDF output needs the playwright package", fix="pip install playwright") from err
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path)
    with atomic_path(pdf_path) as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
                       else route.abort())
            page.goto(html_path.as_uri())
            page.emulate_media(media="print")
            page.pdf(path=tmp, print_background=True, tagged=True, outline=True, format="Letter",
                     margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"})
        finally:
            browser.close()
    return pdf_path
