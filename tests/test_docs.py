"""The documentation in docs/ builds with ``mkdocs build --strict``, and its links hold.

Strict mode turns MkDocs' link validation (``validation:`` in mkdocs.yml) into errors: a link to a page that
does not exist, or to an anchor that no heading of that page has, fails the build. Also checked: every KPI of
the shipped catalog is documented in docs/kpi-catalog.md (and the page names no KPI the catalog lacks), every
README link into docs/ resolves, and so does every ``docs/<page>.md#anchor`` cited in the package's code.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

pytest.importorskip("mkdocs", reason="mkdocs is not installed: `pip install -e .[test]` installs mkdocs>=1.6")


def _build(project: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                           str(project / "mkdocs.yml"), "--site-dir", str(site)],
                          cwd=project, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    res = _build(ROOT, out)
    assert res.returncode == 0, f"mkdocs build --strict failed:\n{res.stdout}\n{res.stderr}"
    return out


def _ids(html_file: Path) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', html_file.read_text(encoding="utf-8")))


def _check_target(site: Path, page: str, anchor: str | None) -> str | None:
    """None when docs/<page> exists and (if given) has the anchor; else what is wrong."""
    if not (DOCS / page).is_file():
        return f"docs/{page} does not exist"
    if anchor:
        html = site / (page[: -len(".md")] + ".html")
        if anchor not in _ids(html):
            return f"docs/{page} has no anchor #{anchor}"
    return None


def test_site_builds_strict(site):
    # every page of the nav is rendered
    for page in ("index", "methods", "privacy", "column-map", "kpi-catalog", "surveys", "deploying", "upgrading"):
        assert (site / f"{page}.html").is_file(), page


def test_strict_build_fails_on_a_broken_anchor(tmp_path):
    # The check above means something only if a broken link does fail the build.
    project = tmp_path / "project"
    shutil.copytree(DOCS, project / "docs")
    shutil.copy(ROOT / "mkdocs.yml", project / "mkdocs.yml")
    index = project / "docs" / "index.md"
    index.write_text(index.read_text(encoding="utf-8") + "\n[broken](methods.md#no-such-anchor)\n",
                     encoding="utf-8")
    res = _build(project, tmp_path / "site")
    assert res.returncode != 0
    assert "no-such-anchor" in res.stdout + res.stderr


def test_strict_build_fails_on_a_missing_page(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(DOCS, project / "docs")
    shutil.copy(ROOT / "mkdocs.yml", project / "mkdocs.yml")
    index = project / "docs" / "index.md"
    index.write_text(index.read_text(encoding="utf-8") + "\n[gone](no-such-page.md)\n", encoding="utf-8")
    res = _build(project, tmp_path / "site")
    assert res.returncode != 0
    assert "no-such-page.md" in res.stdout + res.stderr


def test_every_shipped_kpi_is_documented():
    from partner_analysis.kpi.catalog import load_catalog

    ids = [k.id for k in load_catalog().kpis]
    assert ids, "the shipped catalog is empty"
    page = (DOCS / "kpi-catalog.md").read_text(encoding="utf-8")
    # the table of the section "The shipped KPIs": one row per KPI, its id in backticks in the first cell
    section = page.split("## The shipped KPIs", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z0-9_]+)` \|", section, flags=re.M)
    assert sorted(set(ids) - set(documented)) == [], "KPIs of kpis.yml missing from docs/kpi-catalog.md"
    assert sorted(set(documented) - set(ids)) == [], "docs/kpi-catalog.md lists KPIs that kpis.yml lacks"


def test_readme_links_into_docs_resolve(site):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)#\s]+)(?:#([^)\s]+))?\)", readme)
    assert links, "README.md has no link into docs/ (its Documentation section)"
    problems = [p for target, anchor in links
                if (p := _check_target(site, target[len("docs/"):], anchor or None))]
    assert problems == []


def test_docs_cited_in_the_code_resolve(site):
    # Code comments and docstrings cite `docs/<page>.md#<anchor>`; each must exist.
    cited = set()
    for f in (ROOT / "partner_analysis").rglob("*"):
        if f.suffix in (".py", ".yml", ".yaml") and f.is_file():
            cited |= set(re.findall(r"docs/([a-z0-9_-]+\.md)(?:#([a-z0-9_-]+))?", f.read_text(encoding="utf-8")))
    problems = sorted(p for page, anchor in cited if (p := _check_target(site, page, anchor or None)))
    assert problems == []


def _yaml_block(page: str, heading: str) -> str:
    """The first ```yaml block after ``heading`` in docs/<page>."""
    text = (DOCS / page).read_text(encoding="utf-8")
    after = text.split(heading, 1)[1]
    return after.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_kpi_catalog_example_loads_and_extends_the_shipped_catalog(tmp_path):
    from partner_analysis.kpi.catalog import load_catalog

    path = tmp_path / "kpis.yml"
    path.write_text(_yaml_block("kpi-catalog.md", "## Adding a KPI"), encoding="utf-8")
    shipped = [k.id for k in load_catalog().kpis]
    ids = [k.id for k in load_catalog(path).kpis]
    new = [i for i in ids if i not in shipped]
    assert ids[: len(shipped)] == shipped and len(new) == 1


def test_column_map_example_parses(tmp_path):
    from partner_analysis.config import default_config_path
    from partner_analysis.data.load import read_map

    shutil.copy(default_config_path(), tmp_path / "district.yml")
    path = tmp_path / "map.yml"
    path.write_text(_yaml_block("column-map.md", "## A small map"), encoding="utf-8")
    cmap = read_map(path)
    assert cmap.tables == ("attendance_daily",)
    assert cmap.sources[0].recode["status"]["A"] == "unexcused"


def test_deploying_settings_example_loads_and_names_no_password(tmp_path):
    from partner_analysis.config import DEFAULT_CONFIG_TEXT, load_config

    block = _yaml_block("deploying.md", "### Settings in district.yml")
    assert "password" not in block.lower()
    (tmp_path / "district.yml").write_text(DEFAULT_CONFIG_TEXT + "\n" + block, encoding="utf-8")
    cfg = load_config(tmp_path)
    assert cfg.mail.smtp.startswith("smtp://") and "@" in cfg.mail.sender
    assert cfg.apps.survey_url.startswith("https://") and cfg.apps.records_url.startswith("https://")
