"""Release control: the ``release/`` vs ``work/`` layout, the ledger entry and the audit packet of a release.

``reports/<term>/release/`` holds only what readers get (HTML, PDF, the district
pages and a public manifest); ``reports/<term>/work/`` holds everything with
exact values (bundles, executed notebooks, logs, the full manifest, audit
packets) and is marked private: a ``README.md`` says so and a ``.private``
marker makes :func:`partner_analysis.privacy.check_publishable` refuse it.

Every release is recorded in ``reports/release_ledger.jsonl``
(:class:`partner_analysis.privacy.ReleaseLedger`): files and hashes, partner,
term, profile, recipients and the published cells. An audit packet
``work/audit/<release_id>/`` keeps the parameters, the hashes of the data
files, package versions, the executed notebook and the ledger entry, so
:func:`verify_release` can say whether the release is unchanged and whether
it can be reproduced from the data.
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .. import privacy
from ..exceptions import InputDataError

__all__ = ["ReleaseLayout", "prepare_layout", "retire_failed", "record_release", "verify_release",
           "data_hashes", "LEDGER_FILE", "PUBLIC_MANIFEST", "WORK_README"]

LEDGER_FILE = "release_ledger.jsonl"
PUBLIC_MANIFEST = "manifest.json"
WORK_README = """# Private working files: do not share

This folder holds exact values: report bundles (unrounded means, exact group sizes),
executed notebooks, kernel logs, the full batch manifest and audit packets.
Readers get only the sibling folder `release/`. `partner-analysis` refuses to treat
this folder as publishable (the `.private` marker beside this file).
"""


@dataclass(frozen=True)
class ReleaseLayout:
    """Paths of one term's output: ``root/<term>/release`` and ``root/<term>/work``."""

    root: Path
    term: str

    @property
    def term_dir(self) -> Path:
        return self.root / self.term

    @property
    def release(self) -> Path:
        return self.term_dir / "release"

    @property
    def work(self) -> Path:
        return self.term_dir / "work"

    @property
    def bundles(self) -> Path:
        return self.work / "bundles"

    @property
    def ledger(self) -> Path:
        return self.root / LEDGER_FILE


def prepare_layout(root: str | Path, term: str) -> ReleaseLayout:
    """Create ``release/`` and ``work/`` (with its README and ``.private`` marker)."""
    layout = ReleaseLayout(Path(root), term)
    layout.release.mkdir(parents=True, exist_ok=True)
    layout.work.mkdir(parents=True, exist_ok=True)
    (layout.work / "README.md").write_text(WORK_README, encoding="utf-8")
    (layout.work / privacy.PRIVATE_MARKER).write_text("exact values: not for release\n", encoding="utf-8")
    return layout


def retire_failed(layout: ReleaseLayout, partner_id: str) -> list[Path]:
    """Move a failed partner's earlier release files to ``work/failed/stale/``, so no stale report stays out."""
    moved = []
    for suffix in (".html", ".pdf"):
        f = layout.release / f"{partner_id}{suffix}"
        if f.exists():
            dest = layout.work / "failed" / "stale" / f.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(f), dest)
            moved.append(dest)
    return moved


def data_hashes(data_dir: str | Path) -> dict[str, str]:
    """SHA-256 of every file of a data folder (relative path -> hash); the records store is left out."""
    data_dir = Path(data_dir)
    out = {}
    for f in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        rel = f.relative_to(data_dir).as_posix()
        if rel.startswith("records.sqlite") or "/." in "/" + rel:
            continue
        out[rel] = privacy.file_sha256(f)
    return out


def _release_id(term: str, partner_id: str, stamp: str) -> str:
    return f"{term}-{partner_id}-{stamp}"


def record_release(layout: ReleaseLayout, *, partner_id: str, files: Sequence[str], cells, profile,
                   recipients: Sequence[str], parameters: dict[str, Any], data: dict[str, str],
                   versions: dict[str, str], notebook: Path | None = None, stamp: str | None = None) -> dict:
    """Append the release to the ledger and write its audit packet; return the ledger entry.

    ``files`` are names inside ``release/``; ``partner_id`` is ``"district"``
    for the index and the brief.
    """
    stamp = stamp or dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    release_id = _release_id(layout.term, partner_id, stamp)
    hashed = [(f"{layout.term}/release/{name}", privacy.file_sha256(layout.release / name)) for name in files
              if (layout.release / name).exists()]
    entry = privacy.ReleaseLedger(layout.ledger).record_release(
        release_id=release_id, term=layout.term, partner_id=partner_id, files=hashed, cells=cells, profile=profile,
        recipients=recipients)
    audit = layout.work / "audit" / release_id
    audit.mkdir(parents=True, exist_ok=True)
    packet = {"release_id": release_id, "parameters": parameters, "data_files": data, "versions": versions,
              "ledger_entry": {k: v for k, v in entry.items() if k != "cells"}}
    (audit / "audit.json").write_text(json.dumps(packet, indent=2, default=str), encoding="utf-8")
    if notebook is not None and Path(notebook).exists():
        shutil.copy2(notebook, audit / Path(notebook).name)
    return entry


def verify_release(root: str | Path, release_id: str, *, data_dir: str | Path | None = None) -> dict[str, Any]:
    """Recompute the hashes of a release's files and of its data files.

    Returns
    -------
    dict
        ``files``: list of (path, "ok" / "changed" / "missing"); ``unchanged``
        (bool); ``data``: list of (file, "ok" / "changed" / "missing") against
        the audit packet; ``reproducible`` (bool: every data file hashes as at
        release time, so rerunning with the packet's parameters gives the
        release again) and ``data_dir``.
    """
    root = Path(root)
    entry = privacy.ReleaseLedger(root / LEDGER_FILE).release(release_id)
    files = []
    for f in entry.get("files") or []:
        p = root / f["path"]
        status = "missing" if not p.exists() else ("ok" if privacy.file_sha256(p) == f["sha256"] else "changed")
        files.append((f["path"], status))
    audit = root / entry["term"] / "work" / "audit" / release_id / "audit.json"
    if not audit.exists():
        raise InputDataError("no audit packet for this release", path=audit,
                             fix="The work/ folder of that term was removed; the release cannot be verified")
    packet = json.loads(audit.read_text(encoding="utf-8"))
    data_dir = Path(data_dir or packet["parameters"].get("data_dir", ""))
    data = []
    now = data_hashes(data_dir) if data_dir.is_dir() else {}
    for name, digest in packet["data_files"].items():
        data.append((name, "missing" if name not in now else ("ok" if now[name] == digest else "changed")))
    return {"release_id": release_id, "files": files, "unchanged": all(s == "ok" for _, s in files),
            "data": data, "reproducible": bool(data) and all(s == "ok" for _, s in data), "data_dir": str(data_dir),
            "entry": entry}
