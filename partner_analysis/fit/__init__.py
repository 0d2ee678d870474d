"""Partner-fit survey: XLSForm instruments, scoring, district-vs-partner gaps and prompts.

>>> from partner_analysis import fit
>>> inst = fit.read_instrument()                      # surveys/partner_fit_v1.xlsx
>>> scores = fit.score_responses(answers_long, inst)  # doctest: +SKIP
>>> report = fit.gap_report(answers_long, inst)       # doctest: +SKIP
"""
from __future__ import annotations

from .exchange import KoboImport, export_answers, import_kobo, read_kobo_csv
from .gaps import (comments, discussion_prompts, gap_alt_text, gap_chart_frame, gap_report, pair_gaps,
                   prompts_markdown, reliability, side_agreement, wave_change)
from .instrument import (Band, Choice, GapThresholds, Instrument, Item, check_version_increases,
                         default_instrument_path, read_instrument, write_plain_xlsform)
from .results import instrument_for_version, latest_wave, load_answers, pooled_reliability, summary_for_bundle
from .scoring import fit_index, item_scores, score_responses, side_scores

__all__ = ["Band", "Choice", "GapThresholds", "Instrument", "Item", "check_version_increases",
           "default_instrument_path", "read_instrument", "write_plain_xlsform", "item_scores", "score_responses",
           "side_scores", "fit_index", "gap_report", "pair_gaps", "discussion_prompts", "side_agreement",
           "reliability", "wave_change", "comments", "gap_chart_frame", "gap_alt_text", "prompts_markdown",
           "summary_for_bundle", "instrument_for_version", "latest_wave", "load_answers", "pooled_reliability",
           "KoboImport", "export_answers", "import_kobo", "read_kobo_csv"]
