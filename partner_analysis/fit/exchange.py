"""Moving fit-survey answers in and out: CSV exports and KoboToolbox / ODK Central CSV imports.

Exports always carry ``form_id`` and ``version`` so answers to two wordings are never mixed.
Imports read the CSV that KoboToolbox or ODK Central export for the same XLSForm (upload the
workbook made by :func:`~partner_analysis.fit.instrument.write_plain_xlsform`): columns are item
names, possibly prefixed by group paths (``g_data_sharing/d_ds1``), plus metadata columns
(``_uuid``, ``_submission_time``, ``meta/instanceID``, ...). Values may be choice names (Kobo
"XML values") or choice labels; both map to choice names.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..exceptions import InputDataError
from .instrument import Instrument, _cell_text

__all__ = ["export_answers", "read_kobo_csv", "import_kobo", "KoboImport"]

_UUID_COLUMNS = ("_uuid", "meta/instanceID", "instanceID", "KEY", "__id")


def export_answers(store: Any, out: str | Path, *, instrument: Instrument, partner_id: str | None = None,
                   wave: str | None = None, status: str | None = "submitted") -> dict[str, Path]:
    """Write tidy long, wide and scored CSVs of one instrument's answers.

    Parameters
    ----------
    store : partner_analysis.store.Store
    out : path
        Folder (created).
    instrument : Instrument
        Only answers with its ``form_id`` are written; scores use the answers of its ``version``.
    partner_id, wave, status : optional filters

    Returns
    -------
    dict
        ``{"long": ..., "wide": ..., "scores": ..., "gaps": ...}`` paths. ``answers_long.csv``:
        response_id, form_id, version, partner_id, role, respondent, wave, status, item, value
        (select_multiple as space-separated names), submitted_at. ``answers_wide.csv``: one row per
        response. ``dimension_scores.csv`` and ``gap_report.csv`` (submitted answers of
        ``instrument.version`` only).
    """
    from .gaps import gap_report
    from .scoring import score_responses
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    long = store.answers_long(form_id=instrument.form_id, partner_id=partner_id, status=status, wave=wave)
    long = long.assign(value=long["value"].map(_flat))
    paths = {"long": out / "answers_long.csv", "wide": out / "answers_wide.csv",
             "scores": out / "dimension_scores.csv", "gaps": out / "gap_report.csv"}
    long.to_csv(paths["long"], index=False)
    wide = store.answers_wide(form_id=instrument.form_id, partner_id=partner_id, status=status, wave=wave)
    meta = [c for c in wide.columns if c in ("response_id", "form_id", "version", "partner_id", "role",
                                              "respondent", "wave", "status", "submitted_at")]
    order = meta + [it.name for it in instrument.items if it.name in wide.columns] + \
        [c for c in wide.columns if c not in meta and c not in {it.name for it in instrument.items}]
    wide = wide[order]
    for col in order[len(meta):]:
        wide[col] = wide[col].map(_flat)
    wide.to_csv(paths["wide"], index=False)
    scorable = long[(long["version"].astype(str) == instrument.version) & (long["status"] == "submitted")]
    score_responses(scorable, instrument).to_csv(paths["scores"], index=False)
    gap_report(scorable, instrument).to_csv(paths["gaps"], index=False)
    return paths


def _flat(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return " ".join(str(x) for x in v)
    return v


@dataclass(frozen=True)
class KoboImport:
    """Result of :func:`import_kobo`: response ids created, rows skipped as already imported."""

    response_ids: tuple[int, ...]
    skipped: int
    answers: pd.DataFrame = field(repr=False, compare=False, default=None)

    def report(self) -> str:
        return f"imported {len(self.response_ids)} response(s); {self.skipped} already imported"


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputDataError("file not found", path=path, fix="Export the submissions from KoboToolbox/ODK as CSV")
    try:
        # Kobo's legacy CSV export uses ';', ODK Central ','; let the sniffer decide
        return pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputDataError(f"cannot be read as CSV ({err})", path=path,
                             fix="Export the submissions as CSV (UTF-8)") from err


def read_kobo_csv(path: str | Path, instrument: Instrument, *, partner_id: str | None = None,
                  role: str | None = None, partner_column: str = "partner_id", role_column: str = "role"
                  ) -> pd.DataFrame:
    """Read a KoboToolbox / ODK CSV export into tidy answers, checking every value.

    Parameters
    ----------
    path : path
    instrument : Instrument
        The instrument the form was deployed from.
    partner_id, role : str, optional
        Fixed values for every row (when one form was deployed per partner and side); otherwise
        the CSV needs ``partner_column`` and ``role_column``.

    Returns
    -------
    DataFrame
        submission (the ``_uuid`` or instance id), csv_row, partner_id, role, item, value
        (choice name; list of names for select_multiple; int / float for numbers).

    Raises
    ------
    InputDataError
        Naming the CSV row and column: unknown choice, non-numeric number, missing partner/role,
        a required answer missing, a constraint broken.
    """
    path = Path(path)
    raw = _read_csv(path)
    by_name: dict[str, str] = {}
    for col in raw.columns:
        leaf = col.split("/")[-1]
        if leaf in {it.name for it in instrument.items}:
            by_name.setdefault(leaf, col)
    if not by_name:
        raise InputDataError(f"no column matches a question of '{instrument.form_id}'", path=path,
                             fix="Export with XML values and headers from the form built from this instrument")
    # Kobo's _uuid first, then ODK's instance id; "uuid:" prefixes are dropped below
    # select_multiple exported only as one 0/1 column per option ("group/q/option"): rebuild the answer
    split: dict[str, list[tuple[str, str]]] = {}
    multi = {it.name: it for it in instrument.items if it.type == "select_multiple"}
    for col in raw.columns:
        parts = col.split("/")
        if len(parts) >= 2 and parts[-2] in multi and parts[-2] not in by_name \
                and multi[parts[-2]].choice(parts[-1]) is not None:
            split.setdefault(parts[-2], []).append((parts[-1], col))
    uuid_col = next((c for key in _UUID_COLUMNS for c in raw.columns if c == key or c.split("/")[-1] == key),
                    None)
    cols = {c.split("/")[-1]: c for c in raw.columns}
    records = []
    for idx, row in raw.iterrows():
        csv_row = int(idx) + 2  # header is row 1
        pid = partner_id if partner_id is not None else _cell_text(row.get(cols.get(partner_column, ""), ""))
        rl = role if role is not None else _cell_text(row.get(cols.get(role_column, ""), "")).lower()
        if not pid:
            raise InputDataError("partner_id is missing", path=path, row=csv_row, column=partner_column,
                                 fix="Pass --partner-id, or add a partner_id column (a hidden field) to the form")
        if rl not in ("district", "partner"):
            raise InputDataError(f"role must be district or partner, found {rl!r}", path=path, row=csv_row,
                                 column=role_column, value=rl,
                                 fix="Pass --role, or add a role column with district/partner")
        submission = _cell_text(row[uuid_col]).removeprefix("uuid:") if uuid_col else f"{path.name}:{csv_row}"
        if not submission:
            raise InputDataError("the submission id is empty", path=path, row=csv_row, column=uuid_col,
                                 fix="Export with the _uuid / instanceID column, which identifies each submission")
        answers: dict[str, Any] = {}
        for it in instrument.items_for(rl):
            if it.type == "note":
                continue
            if it.name in split:
                picked = [opt for opt, col in split[it.name] if _cell_text(row[col]).lower() in ("1", "true")]
                if picked:
                    answers[it.name] = picked
                continue
            if it.name not in by_name:
                continue
            col = by_name[it.name]
            text = _cell_text(row[col])
            if text == "" or text.lower() in ("n/a", "nan"):
                continue
            answers[it.name] = _convert(it, text, path=path, row=csv_row, column=col)
        problems = instrument.validate_answers(answers, role=rl)
        if problems:
            item, msg = problems[0]
            raise InputDataError(f"submission {submission}: {msg}", path=path, row=csv_row,
                                 column=by_name.get(item, item), value=answers.get(item),
                                 fix="Correct the submission in KoboToolbox/ODK, or the CSV, and import again")
        for item, value in answers.items():
            records.append((submission, csv_row, str(pid), rl, item, value))
    return pd.DataFrame(records, columns=["submission", "csv_row", "partner_id", "role", "item", "value"])


def _convert(it, text: str, *, path: Path, row: int, column: str) -> Any:
    if it.type in ("select_one", "select_multiple"):
        names = {c.name for c in it.choices}
        labels = {c.label.strip().lower(): c.name for c in it.choices}

        def one(token: str) -> str:
            if token in names:
                return token
            if token.strip().lower() in labels:
                return labels[token.strip().lower()]
            raise InputDataError(f"{token!r} is not a choice of '{it.name}' (choices: {sorted(names)})",
                                 path=path, row=row, column=column, value=token,
                                 fix="Export with XML values, or correct the instrument's choices")
        if it.type == "select_one":
            return one(text)
        # labels may contain spaces, so try the whole cell as one label before splitting
        if text.strip().lower() in labels:
            return [labels[text.strip().lower()]]
        return [one(t) for t in text.split()]
    if it.type in ("integer", "decimal"):
        try:
            number = float(text)
        except ValueError:
            raise InputDataError(f"expected a number for '{it.name}', found {text!r}", path=path, row=row,
                                 column=column, value=text, fix="Correct the value") from None
        if it.type == "integer":
            if not number.is_integer():
                raise InputDataError(f"expected a whole number for '{it.name}', found {text!r}", path=path,
                                     row=row, column=column, value=text, fix="Correct the value")
            return int(number)
        return number if not math.isnan(number) else None
    if it.type == "date":
        return text[:10]
    return text


def import_kobo(store: Any, path: str | Path, instrument: Instrument, *, partner_id: str | None = None,
                role: str | None = None, wave: str = "annual", partner_column: str = "partner_id",
                role_column: str = "role") -> KoboImport:
    """Import a KoboToolbox / ODK CSV export as submitted response sets.

    Every row is checked first (:func:`read_kobo_csv`); nothing is written unless all rows are
    valid. Each submission's ``_uuid`` is the response's idempotency token, so importing the same
    export twice creates nothing new. The respondent is recorded as ``kobo-<uuid>``.

    Returns
    -------
    KoboImport
    """
    answers = read_kobo_csv(path, instrument, partner_id=partner_id, role=role, partner_column=partner_column,
                            role_column=role_column)
    store.register_instrument(instrument, instrument.path)
    created, skipped = [], 0
    for submission, grp in answers.groupby("submission", sort=False):
        pid, rl = grp["partner_id"].iloc[0], grp["role"].iloc[0]
        token = f"kobo:{instrument.form_id}:{submission}"
        rid = store.open_response(instrument.form_id, instrument.version, pid, rl, f"kobo-{submission}", wave=wave,
                                  client_token=token)
        if store.response(rid)["status"] == "submitted":
            skipped += 1
            continue
        store.submit(rid, dict(zip(grp["item"], grp["value"])))
        created.append(rid)
    return KoboImport(tuple(created), skipped, answers)
