"""HTML export of executed report notebooks, in-process, with the toolkit's own template.

:func:`notebook_to_html` removes the parameters cells and papermill's stored
parameters (:func:`strip_parameters`), renders with ``templates/partner_report``
(no code, no prompts, landmarks, author alt text, inline CSS, no external
resources) and then checks the page (:func:`check_html`). A page that fails
the check is never written: a report without real alt text or with an external
URL is a bug, not a warning.
"""
from __future__ import annotations

import copy
import datetime as dt
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any

from ..exceptions import PartnerAnalysisError

__all__ = ["notebook_to_html", "strip_parameters", "check_html", "page_css", "scoped_css", "TEMPLATE_DIR",
           "HtmlCheckError", "page_shell"]

TEMPLATE_DIR = Path(str(resources.files("partner_analysis") / "report" / "templates"))
TEMPLATE_NAME = "partner_report"
_PLACEHOLDER = "no description has been provided for this image"
_EXPORTER = None  # built once per process: the first export costs ~0.15 s, later ones ~0.01 s


class HtmlCheckError(PartnerAnalysisError):
    """A rendered page breaks an accessibility or privacy rule; ``problems`` lists them."""

    def __init__(self, problems: list[str], *, title: str | None = None):
        self.problems = list(problems)
        self.title = title
        super().__init__(f"report page {title!r} failed its checks: " + "; ".join(problems))


def page_css() -> str:
    """The report style sheet (inlined into every page)."""
    return (TEMPLATE_DIR / TEMPLATE_NAME / "report.css").read_text(encoding="utf-8")


def scoped_css(name: str = "pa-report") -> str:
    """The report style sheet confined to the elements inside ``class="{name}"``, for a notebook frontend.

    A report previewed in JupyterLab shows its sections as cell outputs inside Lab's own page, so the page
    style sheet cannot be used as it is: its ``body``, ``h2`` or ``table`` rules would restyle Lab itself.
    Every selector is put under the class (``body`` and ``:root`` become the class itself) and the print
    rules are left out. The class is written twice (``.pa-report.pa-report``) so the report's rules
    outrank the frontend's own output styles (JupyterLab's ``:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon
    td`` right-aligns table cells; ``.jp-OutputArea-output dt`` floats terms at 20 % width), and the two
    frontend layouts the sheet never sets (floated, fixed-width ``dt``/``dd``) are reset first. The sheet is
    parsed with tinycss2, not split by hand.
    """
    import tinycss2

    scope = f".{name}.{name}"

    def selectors(prelude) -> list[str]:
        parts, current = [], []
        for token in prelude:              # top-level commas separate selectors; commas in :is(...) are nested
            if token.type == "literal" and token.value == ",":
                parts.append(current)
                current = []
            else:
                current.append(token)
        parts.append(current)
        return [tinycss2.serialize(p).strip() for p in parts]

    def scoped(rules) -> list[str]:
        out = []
        for rule in rules:
            if rule.type == "qualified-rule":
                names = [scope if s in (":root", "html", "body") else f"{scope} {s}" for s in selectors(rule.prelude)]
                out.append(f"{', '.join(names)} {{{tinycss2.serialize(rule.content).strip()}}}")
            elif rule.type == "at-rule" and rule.lower_at_keyword == "media":
                media = tinycss2.serialize(rule.prelude).strip()
                if media != "print" and rule.content is not None:
                    inner = scoped(tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True))
                    out.append(f"@media {media} {{\n" + "\n".join(inner) + "\n}")
        return out

    sheet = tinycss2.parse_stylesheet(page_css(), skip_comments=True, skip_whitespace=True)
    reset = f"{scope} dl, {scope} dt, {scope} dd {{float: none; width: auto; overflow: visible;}}"
    return "\n".join([reset, *scoped(sheet)]) + "\n"


def strip_parameters(nb: Any) -> Any:
    """A copy of ``nb`` without parameter cells, ``metadata.papermill.parameters`` and execution timings.

    papermill stores parameters twice (reporting.md §1.1): in the injected cell
    and in the notebook metadata. Both go before a notebook leaves.
    """
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells
                if not ({"injected-parameters", "parameters"} & set(c.get("metadata", {}).get("tags", [])))]
    pm = nb.metadata.get("papermill")
    if pm is not None:
        # Keep only what identifies the tool; timings carry long digit runs that look like student ids to a
        # leak scan and tell a reader nothing.
        nb.metadata["papermill"] = {k: pm[k] for k in ("version", "exception") if k in pm}
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    return nb


def _exporter():
    global _EXPORTER
    if _EXPORTER is None:
        from nbconvert import HTMLExporter
        _EXPORTER = HTMLExporter(template_name=TEMPLATE_NAME, extra_template_basedirs=[str(TEMPLATE_DIR)],
                                 exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                                 embed_images=True)
    return _EXPORTER


class _Scan(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.headings: list[int] = []
        self.imgs: list[dict] = []
        self.urls: list[str] = []
        self.tags: dict[str, int] = {}
        self.tables = 0
        self.captions = 0
        self.col_th_without_scope = 0
        self.html_lang = None
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "html":
            self.html_lang = a.get("lang")
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "img":
            self.imgs.append(a)
        if tag == "table":
            self.tables += 1
        if tag == "caption":
            self.captions += 1
        if tag == "th" and "scope" not in a:
            self.col_th_without_scope += 1
        if tag == "title":
            self._in_title = True
        for name in ("src", "href"):
            v = a.get(name) or ""
            if re.match(r"^(https?:)?//", v):
                self.urls.append(v)

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def check_html(text: str) -> list[str]:
    """Problems of a rendered page (empty list when it passes).

    Checks: ``<html lang>``, a non-empty ``<title>``, exactly one ``<h1>``, no
    skipped heading level, ``<main>``, ``<header>`` and ``<footer>`` landmarks,
    every table captioned with scoped header cells, every image with real alt
    text (missing, empty and nbconvert's placeholder count as failures), and no
    external URL in ``src``/``href``, ``<script>`` or ``<link>``.
    """
    s = _Scan()
    s.feed(text)
    problems = []
    if not s.html_lang:
        problems.append("<html> has no lang")
    if not s.title.strip():
        problems.append("no <title>")
    if s.headings.count(1) != 1:
        problems.append(f"{s.headings.count(1)} <h1> elements (need exactly one)")
    if s.headings and s.headings[0] != 1:
        problems.append("the first heading is not the <h1>")
    for a, b in zip(s.headings, s.headings[1:]):
        if b > a + 1:
            problems.append(f"heading level skips from h{a} to h{b}")
            break
    for tag in ("main", "header", "footer"):
        if not s.tags.get(tag):
            problems.append(f"no <{tag}> landmark")
    if s.captions < s.tables:
        problems.append(f"{s.tables - s.captions} table(s) without <caption>")
    if s.col_th_without_scope:
        problems.append(f"{s.col_th_without_scope} <th> without scope")
    for img in s.imgs:
        alt = (img.get("alt") or "").strip()
        if not alt or alt.lower().startswith(_PLACEHOLDER):
            problems.append("an image has no real alt text")
            break
    if s.urls:
        problems.append(f"external URL(s): {sorted(set(s.urls))[:3]}")
    if s.tags.get("script") or s.tags.get("link") or s.tags.get("iframe"):
        problems.append("<script>, <link> or <iframe> present (pages must be self-contained and static)")
    return problems


def notebook_to_html(nb: Any, *, title: str, lang: str = "en", site: str = "", footer: str | None = None,
                     check: bool = True) -> str:
    """Render an executed report notebook to one self-contained, accessible HTML page.

    Parameters
    ----------
    nb : NotebookNode
        Executed notebook (parameters are stripped here in any case).
    title : str
        The page ``<title>``; the ``<h1>`` comes from the notebook's own title output.
    lang : str
        BCP 47 language of the page.
    site : str
        Text of the page header (e.g. the district's name).
    footer : str, optional
        Footer text; default "Generated <date> by partner_analysis".
    check : bool
        Run :func:`check_html` and raise on any problem.

    Raises
    ------
    HtmlCheckError
        When ``check`` and the page breaks a rule.
    """
    from . import text as T
    nb = strip_parameters(nb)
    with T.use_language(lang):
        footer = footer or T.footer_text(dt.date.today())
        skip = T.deck("skip_report")
    res = {"pa": {"title": title, "lang": lang, "css": page_css(), "site": site or title, "footer": footer,
                  "skip": skip}}
    text, _ = _exporter().from_notebook_node(nb, resources=res)
    if check:
        problems = check_html(text)
        if problems:
            raise HtmlCheckError(problems, title=title)
    return text


def page_shell(body: str, *, title: str, lang: str = "en", site: str = "", footer: str = "", css: str = "") -> str:
    """A page with the same shell and styles as the reports (district index, community brief); ``css`` is appended."""
    from . import text as T
    from ._html import esc
    return (f'<!DOCTYPE html>\n<html lang="{esc(lang)}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(title)}</title>\n<style>\n{page_css()}\n{css}</style>\n</head>\n<body>\n"
            f'<a class="skip" href="#content">{esc(T.label("skip"))}</a>\n'
            f'<header class="page-header"><p class="site">{esc(site or title)}</p></header>\n'
            f'<main id="content">\n{body}\n</main>\n'
            f'<footer class="page-footer"><p>{esc(footer)}</p></footer>\n</body>\n</html>\n')
