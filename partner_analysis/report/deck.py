"""The meeting deck ``reports/<term>/release/partnerships_<term>.pptx`` (python-pptx).

Six slides for a school board, Chamber of Commerce or Rotary meeting: title,
reach, outcomes, investment, spotlight, next steps. Every picture carries alt
text (the ``descr`` of its ``p:cNvPr``), every slide speaker notes; every
figure is the one the community brief prints (rounded, suppressed the same
way), so the deck says nothing the brief does not. The deck is a release file:
:func:`scan_deck` reads its XML parts and pictures for student ids before it is
recorded.
"""
from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Iterable, Sequence

from .. import privacy
from .._io import atomic_path
from . import text as T
from .bundle import Bundle

__all__ = ["deck_file", "build_deck", "write_deck", "scan_deck", "picture_alts"]


def deck_file(term: str) -> str:
    return f"partnerships_{term}.pptx"


def _status_counts(bundles: Sequence[Bundle]) -> list[tuple[str, dict[str, int]]]:
    from .board import board_items
    out: dict[str, dict[str, int]] = {}
    labels: dict[str, str] = {}
    for b in bundles:
        for t in board_items(b)["tiles"]:
            labels.setdefault(t["kpi_id"], t["label"])
            c = out.setdefault(t["kpi_id"], {"good": 0, "watch": 0, "concern": 0, "none": 0})
            c[t["status"]] += 1
    return [(labels[k], v) for k, v in out.items()]


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=200, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt
    plt.close(fig)
    return buf.getvalue()


def _reach_chart(bundles: Sequence[Bundle]) -> tuple[bytes, str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .status import displayed_number
    from .story import participants_shown, participants_alt
    names = [b.partner_name for b in bundles]
    shown = [participants_shown(b) for b in bundles]
    vals = [displayed_number(s) if privacy.shown_plainly(s) else 0 for s in shown]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 0.8))
    ax.barh(names[::-1], [v or 0 for v in vals[::-1]], color="#1f4e79")
    for i, (v, s) in enumerate(zip(vals[::-1], shown[::-1])):
        ax.text((v or 0) + max(vals + [1]) * 0.01, i, T.figure(s) if v else T.students_phrase(s), va="center",
                fontsize=12)
    ax.set_xlabel(T.deck("reach_axis"), fontsize=12)
    ax.tick_params(labelsize=12)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig), participants_alt(bundles)


def _outcomes_chart(bundles: Sequence[Bundle]) -> tuple[bytes, str] | None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    counts = _status_counts(bundles)
    if not counts:
        return None
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(counts) + 1))
    colours = {"good": "#1d5e20", "watch": "#b07800", "concern": "#a4161a", "none": "#8c8c8c"}
    hatches = {"good": "", "watch": "//", "concern": "xx", "none": ".."}
    labels = [lab[:40] for lab, _ in counts][::-1]
    left = [0] * len(counts)
    for status in ("good", "watch", "concern", "none"):
        vals = [c[status] for _, c in counts][::-1]
        ax.barh(labels, vals, left=left, color=colours[status], hatch=hatches[status], edgecolor="white",
                label=f"{T.STATUS_ICONS[status]} {T._(T.STATUS_WORDS[status])}")
        left = [a + b for a, b in zip(left, vals)]
    ax.set_xlabel(T.deck("partnerships_axis"), fontsize=12)
    ax.tick_params(labelsize=12)
    ax.legend(ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.25), frameon=False, fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    alt = T.deck_status_alt([T.deck_status(lab, c) for lab, c in counts])
    return _png(fig), alt


def _set_alt(picture, alt: str) -> None:
    picture._element.nvPicPr.cNvPr.set("descr", alt)


def picture_alts(path: str | Path) -> list[str | None]:
    """The alt text (``descr``) of every picture in a deck, in slide order (None where missing)."""
    from pptx import Presentation
    from pptx.enum.shapes import MSO_SHAPE_TYPE
    out = []
    for slide in Presentation(str(path)).slides:
        for shape in slide.shapes:
            if shape.shape_type == MSO_SHAPE_TYPE.PICTURE:
                out.append(shape._element.nvPicPr.cNvPr.get("descr"))
    return out


def build_deck(bundles: Sequence[Bundle], *, term: str, district: str = ""):
    """The deck as a ``pptx.Presentation`` (6 slides, alt text on every picture, speaker notes on every slide)."""
    from pptx import Presentation
    from pptx.util import Inches, Pt

    from .board import board_items
    from .brief import brief_sentences, investment_sentence, outcomes_sentence
    from .story import headline_figures, spotlight

    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
    sentences = brief_sentences(bundles, term=term, district=district)
    figs = headline_figures(bundles, term=term) if bundles else []

    def slide(title: str, notes: str, bullets: Iterable[str] = (), picture: tuple[bytes, str] | None = None):
        s = prs.slides.add_slide(prs.slide_layouts[5])  # title only
        s.shapes.title.text = title
        width = Inches(5.6) if picture else Inches(12.3)
        box = s.shapes.add_textbox(Inches(0.5), Inches(1.6), width, Inches(5.4)).text_frame
        box.word_wrap = True
        for i, b in enumerate(bullets):
            p = box.paragraphs[0] if i == 0 else box.add_paragraph()
            p.text = b
            p.font.size = Pt(24 if i == 0 else 20)
            p.space_after = Pt(10)
        if picture:
            pic = s.shapes.add_picture(io.BytesIO(picture[0]), Inches(6.4), Inches(1.6), width=Inches(6.5))
            _set_alt(pic, picture[1])
        s.notes_slide.notes_text_frame.text = notes
        return s

    title = prs.slides.add_slide(prs.slide_layouts[0])
    title.shapes.title.text = T.deck_title(term)
    title.placeholders[1].text = district or T.deck("reports")
    title.notes_slide.notes_text_frame.text = sentences[0] if sentences else ""
    reach = figs[0] if figs else (privacy.NOT_SHOWN, "")
    slide(T.deck("reach"), " ".join(sentences[:2]), [T.deck_figure(*reach), *(s for s in sentences[1:2])],
          _reach_chart(bundles) if bundles else None)
    outcome_text = outcomes_sentence(bundles) if bundles else T.deck("no_outcomes")
    slide(T.deck("outcomes"), outcome_text + " " + T.deck("caveat"),
          [T.deck_figure(*figs[2]) if figs else "", outcome_text],
          _outcomes_chart(bundles))
    inv = (investment_sentence(bundles, term=term) if bundles else None) or T.deck("no_investments")
    slide(T.deck("investment"), inv, [T.deck_figure(*figs[1]) if figs else "", inv])
    spot = spotlight(bundles)
    slide(T.spotlight_heading(spot[0] if spot else ""),
          spot[1] if spot else T.deck("no_spotlight_notes"), [spot[1]] if spot else [T.deck("no_spotlight")])
    attention = [(b.partner_name, a) for b in bundles for a in board_items(b)["attention"]
                 if a["severity"] == "concern"]
    steps = [T.deck_attention(len(attention))]
    steps += [T.partner_item(name, a["text"]) for name, a in attention[:4]]
    slide(T.deck("next"), " ".join(steps), steps)
    return prs


def write_deck(out_dir: str | Path, bundles: Sequence[Bundle], *, term: str, district: str = "",
               lang: str = "en") -> Path:
    """Write the deck atomically into ``out_dir`` (text in ``lang``) and return its path."""
    path = Path(out_dir) / deck_file(term)
    with T.use_language(lang):
        deck = build_deck(bundles, term=term, district=district)
    with atomic_path(path) as tmp:  # readers never see half a deck
        deck.save(str(tmp))
    return path


def scan_deck(path: str | Path, student_ids: Iterable) -> list:
    """Leaks of student ids in a deck's XML parts and pictures (``privacy.scan_outputs`` on its contents)."""
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(path) as z:
        z.extractall(tmp)
        for f in Path(tmp).rglob("*.rels"):
            f.rename(f.with_suffix(".rels.xml"))
        return privacy.scan_outputs(tmp, [str(s) for s in student_ids])
