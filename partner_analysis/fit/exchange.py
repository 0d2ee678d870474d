"""Moving fit-survey answers in and out: CSV exports and KoboToolbox / ODK Central CSV imports.

Exports always carry ``form_id`` and ``version`` so answers to two wordings are never mixed; text
cells that a spreadsheet would run as a formula get a leading ``'`` (:mod:`partner_analysis.csvcells`).

Imports read the CSV that KoboToolbox or ODK Central export for the same XLSForm (upload the
workbook made by :func:`~partner_analysis.fit.instrument.write_plain_xlsform`). Columns are item
names, possibly prefixed by group paths, joined with ``/`` (KoboToolbox: ``g_data_sharing/d_ds1``)
or ``-`` (ODK Central's default: ``g_data_sharing-d_ds1``), plus metadata columns: KoboToolbox's
``_uuid``, ``_submission_time``, ``_id``, ``__version__``, ...; ODK Central's ``KEY``,
``meta-instanceID``, ``SubmissionDate``, ``SubmitterID``, ``ReviewState``, .... Any other column
is refused by name (pass ``ignore_columns`` / ``--ignore-columns`` for ones meant to be skipped),
so a question the instrument lacks is never dropped silently. Values may be choice names (Kobo
"XML values") or choice labels; both map to choice names. The partner of every row must be a
partner of the district. The submission time (``_submission_time`` / ``SubmissionDate``) becomes
the response's ``submitted_at``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from .._paths import ID_RULE, is_identifier, safe_child, shorten
from ..csvcells import write_csv
from ..csvread import read_csv_strings
from ..exceptions import InputDataError
from .instrument import Instrument, cell_text
from . import responses

__all__ = ["export_answers", "read_kobo_csv", "import_kobo", "KoboImport", "KOBO_META", "ODK_META"]

#: Longest text answer imported (as a typed-in records field: records/_common.check_text).
MAX_ANSWER_CHARS = 2000
#: submission ids, most specific first ("uuid:" prefixes are dropped)
_UUID_COLUMNS = ("_uuid", "meta/instanceID", "meta-instanceID", "instanceID", "KEY", "__id")
#: submission times: KoboToolbox, ODK Central (both ISO 8601, UTC)
_TIME_COLUMNS = ("_submission_time", "SubmissionDate")
#: metadata columns of a KoboToolbox CSV export (read or skipped, never an answer)
KOBO_META = frozenset({"_id", "_uuid", "_submission_time", "_validation_status", "_notes", "_status",
                       "_submitted_by", "__version__", "_tags", "_index", "_parent_index", "_xform_id_string",
                       "_attachments", "_geolocation", "_version_", "_date_modified", "meta/instanceID",
                       "meta/deprecatedID", "meta/rootUuid", "meta/instanceName", "formhub/uuid"})
#: metadata columns of an ODK Central CSV export
ODK_META = frozenset({"SubmissionDate", "meta-instanceID", "meta-deprecatedID", "meta-instanceName",
                      "meta-rootUuid", "KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent",
                      "AttachmentsExpected", "Status", "ReviewState", "DeviceID", "Edits", "FormVersion",
                      "instanceID", "__id"})
#: XLSForm metadata questions (start, end, ...), exported as columns under their names
_FORM_META = ("start", "end", "today", "deviceid", "username", "phonenumber", "email", "audit", "simserial",
              "subscriberid")


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
    if out.exists() and not out.is_dir():
        raise InputDataError("the output exists and is not a folder", path=out,
                             fix="Pass a folder (a new one is created)")
    out.mkdir(parents=True, exist_ok=True)
    long = responses.answers_long(store, form_id=instrument.form_id, partner_id=partner_id, status=status, wave=wave)
    long = long.assign(value=long["value"].map(_flat))
    paths = {kind: safe_child(out, name) for kind, name in (
        ("long", "answers_long.csv"), ("wide", "answers_wide.csv"), ("scores", "dimension_scores.csv"),
        ("gaps", "gap_report.csv"))}
    write_csv(long, paths["long"])
    wide = responses.answers_wide(store, form_id=instrument.form_id, partner_id=partner_id, status=status, wave=wave)
    meta = [c for c in wide.columns if c in ("response_id", "form_id", "version", "partner_id", "role",
                                              "respondent", "wave", "status", "submitted_at")]
    order = meta + [it.name for it in instrument.items if it.name in wide.columns] + \
        [c for c in wide.columns if c not in meta and c not in {it.name for it in instrument.items}]
    wide = wide[order]
    for col in order[len(meta):]:
        wide[col] = wide[col].map(_flat)
    write_csv(wide, paths["wide"])
    scorable = long[(long["version"].astype(str) == instrument.version) & (long["status"] == "submitted")]
    write_csv(score_responses(scorable, instrument), paths["scores"])
    write_csv(gap_report(scorable, instrument), paths["gaps"])
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
    # Kobo's legacy CSV export uses ';', ODK Central ','; let the sniffer decide
    return read_csv_strings(path, sep=None, fix="Export the submissions again as CSV (UTF-8)")


def _split_path(col: str) -> list[tuple[str, str]]:
    """Every (prefix, leaf) split of a column at a group separator ('/' Kobo, '-' ODK Central)."""
    out = []
    for i, ch in enumerate(col):
        if ch in "/-":
            out.append((col[:i], col[i + 1:]))
    return out


class _Columns:
    """What each CSV column is: an item, one option of a select_multiple, metadata, or unknown."""

    def __init__(self, columns: Iterable[str], instrument: Instrument, *, known: Iterable[str]):
        items = {it.name: it for it in instrument.items}
        groups = {name for name, _ in instrument.groups}
        known = set(known)

        def group_path(prefix: str) -> bool:
            return prefix == "" or all(part in groups for part in prefix.replace("-", "/").split("/"))

        def item_of(col: str) -> str | None:
            if col in items:
                return col
            for prefix, leaf in _split_path(col):
                if leaf in items and group_path(prefix):
                    return leaf
            return None

        self.item: dict[str, str] = {}          # item -> column
        self.option: dict[str, list[tuple[str, str]]] = {}   # select_multiple item -> [(option, column)]
        self.meta: dict[str, str] = {}          # leaf name -> column
        self.unknown: list[str] = []
        for col in columns:
            name = item_of(col)
            if name is not None:
                self.item.setdefault(name, col)
                continue
            hit = None
            for prefix, leaf in _split_path(col):
                parent = item_of(prefix)
                if parent is not None and items[parent].type == "select_multiple" \
                        and items[parent].choice(leaf) is not None:
                    hit = (parent, leaf)
            if hit is not None:
                self.option.setdefault(hit[0], []).append((hit[1], col))
                continue
            leaf = col.replace("-", "/").split("/")[-1]
            if col in KOBO_META or col in ODK_META or col in known or leaf in _FORM_META or leaf in known:
                self.meta.setdefault(col, col)
                continue
            self.unknown.append(col)
        # a select_multiple exported both ways: the whole-answer column wins
        for name in list(self.option):
            if name in self.item:
                del self.option[name]

    def find(self, names: Iterable[str]) -> str | None:
        for key in names:
            for col in self.meta:
                if col == key or col.replace("-", "/").split("/")[-1] == key.replace("-", "/").split("/")[-1]:
                    return col
        return None


def read_kobo_csv(path: str | Path, instrument: Instrument, *, partner_id: str | None = None,
                  role: str | None = None, partner_column: str = "partner_id", role_column: str = "role",
                  partners: Iterable[str] | None = None, ignore_columns: Iterable[str] = ()) -> pd.DataFrame:
    """Read a KoboToolbox / ODK Central CSV export into tidy answers, checking every value.

    Parameters
    ----------
    path : path
    instrument : Instrument
        The instrument the form was deployed from.
    partner_id, role : str, optional
        Fixed values for every row (when one form was deployed per partner and side); otherwise
        the CSV needs ``partner_column`` and ``role_column``.
    partners : iterable of str, optional
        The district's partner IDs; a row for any other partner is refused.
    ignore_columns : iterable of str
        Columns to skip; any other column that is neither a question nor metadata is refused.

    Returns
    -------
    DataFrame
        submission (the ``_uuid`` or instance id), csv_row, partner_id, role, submitted_at (UTC
        timestamp or NaT), item, value (choice name; list of names for select_multiple; int / float
        for numbers).

    Raises
    ------
    InputDataError
        Naming the CSV row and column: unknown column, unknown partner, unknown choice,
        non-numeric number, missing partner/role, a required answer missing, a constraint broken.
    """
    path = Path(path)
    raw = _read_csv(path)
    raw.columns = [str(c).strip() for c in raw.columns]
    ignore = {c.strip() for c in ignore_columns if c.strip()}
    cols = _Columns([c for c in raw.columns if c not in ignore], instrument,
                    known=(partner_column, role_column))
    if not cols.item and not cols.option:
        raise InputDataError(f"no column matches a question of '{instrument.form_id}'", path=path, row=1,
                             fix="Export with XML values (KoboToolbox) or the default CSV (ODK Central) from the "
                                 "form built from this instrument")
    if cols.unknown:
        shown = ", ".join(repr(c) for c in cols.unknown[:10]) + (" ..." if len(cols.unknown) > 10 else "")
        raise InputDataError(f"{len(cols.unknown)} column(s) are neither a question of '{instrument.form_id}' "
                             f"version {instrument.version} nor export metadata: {shown}", path=path, row=1,
                             column=cols.unknown[0], value=cols.unknown[0],
                             fix="Import with the instrument the form was built from, or, to skip them on purpose, "
                                 "pass --ignore-columns " + ",".join(cols.unknown[:10]))
    known_partners = None if partners is None else {str(p) for p in partners}
    uuid_col = cols.find(_UUID_COLUMNS)
    time_col = cols.find(_TIME_COLUMNS)
    partner_col = cols.find([partner_column])
    role_col = cols.find([role_column])
    records = []
    for idx, row in raw.iterrows():
        csv_row = int(idx) + 2  # header is row 1
        pid = partner_id if partner_id is not None else cell_text(row.get(partner_col, "") if partner_col else "")
        rl = role if role is not None else cell_text(row.get(role_col, "") if role_col else "").lower()
        if not pid:
            raise InputDataError("partner_id is missing", path=path, row=csv_row, column=partner_column,
                                 fix="Pass --partner-id, or add a partner_id column (a hidden field) to the form")
        if not is_identifier(pid) or (known_partners is not None and pid not in known_partners):
            where = "--partner-id" if partner_id is not None else partner_col
            problem = f"partner {shorten(pid)} is not a partner of the district" if is_identifier(pid) else \
                f"partner {shorten(pid)} is not a valid ID: {ID_RULE}"
            raise InputDataError(problem, path=path, row=csv_row, column=where, value=pid,
                                 fix=f"Use one of {sorted(known_partners)[:10]}" if known_partners else
                                 "Correct the partner ID")
        if role is None and role_col is None:
            raise InputDataError(f"the export has no {role_column!r} column, so the side of each answer is unknown",
                                 path=path, row=1, column=role_column,
                                 fix="Pass --role district (or partner) when one side answered this form, or add a "
                                     "role column (a hidden field) to the form")
        if rl not in ("district", "partner"):
            raise InputDataError(f"role must be district or partner, found {rl!r}", path=path, row=csv_row,
                                 column=role_column, value=rl,
                                 fix="Pass --role, or add a role column with district/partner")
        submission = cell_text(row[uuid_col]).removeprefix("uuid:") if uuid_col else f"{path.name}:{csv_row}"
        if not submission:
            raise InputDataError("the submission id is empty", path=path, row=csv_row, column=uuid_col,
                                 fix="Export with the _uuid / instanceID column, which identifies each submission")
        submitted_at = pd.NaT
        if time_col is not None and cell_text(row[time_col]):
            submitted_at = pd.to_datetime(cell_text(row[time_col]), utc=True, errors="coerce", format="ISO8601")
            if pd.isna(submitted_at):
                raise InputDataError(f"the submission time {shorten(cell_text(row[time_col]))} is not an ISO "
                                     "8601 date-time", path=path, row=csv_row, column=time_col,
                                     value=cell_text(row[time_col]),
                                     fix="Export again without editing the submission time column")
        answers: dict[str, Any] = {}
        for it in instrument.items_for(rl):
            if it.type == "note":
                continue
            if it.name in cols.option:
                picked = [opt for opt, col in cols.option[it.name] if cell_text(row[col]).lower() in ("1", "true")]
                if picked:
                    answers[it.name] = picked
                continue
            if it.name not in cols.item:
                continue
            col = cols.item[it.name]
            text = cell_text(row[col])
            if text == "" or text.lower() in ("n/a", "nan"):
                continue
            answers[it.name] = _convert(it, text, path=path, row=csv_row, column=col)
        problems = instrument.validate_answers(answers, role=rl)
        if problems:
            item, msg = problems[0]
            raise InputDataError(f"submission {submission}: {msg.rstrip('.')}", path=path, row=csv_row,
                                 column=cols.item.get(item, item), value=answers.get(item),
                                 fix="Correct the submission in KoboToolbox/ODK, or the CSV, and import again")
        for item, value in answers.items():
            records.append((submission, csv_row, str(pid), rl, submitted_at, item, value))
    return pd.DataFrame(records, columns=["submission", "csv_row", "partner_id", "role", "submitted_at", "item",
                                          "value"])


def _convert(it, text: str, *, path: Path, row: int, column: str) -> Any:
    if it.type in ("select_one", "select_multiple"):
        names = {c.name for c in it.choices}
        # an export "with labels" may be in any of the form's languages (label::Español (es) ...)
        labels = {}
        for c in it.choices:
            for label in (c.label, *(text for _lang, text in getattr(c, "labels", ()))):
                labels.setdefault(label.strip().lower(), c.name)

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
    if len(text) > MAX_ANSWER_CHARS:
        raise InputDataError(f"the answer to '{it.name}' has {len(text):,} characters, more than the "
                             f"{MAX_ANSWER_CHARS:,} allowed", path=path, row=row, column=column, value=shorten(text),
                             fix="Shorten the answer in KoboToolbox/ODK, or in the CSV")
    return text


def import_kobo(store: Any, path: str | Path, instrument: Instrument, *, partner_id: str | None = None,
                role: str | None = None, wave: str = "annual", partner_column: str = "partner_id",
                role_column: str = "role", partners: Iterable[str] | None = None,
                ignore_columns: Iterable[str] = ()) -> KoboImport:
    """Import a KoboToolbox / ODK CSV export as submitted response sets.

    Every row is checked first (:func:`read_kobo_csv`); nothing is written unless all rows are
    valid. Each submission's ``_uuid`` is the response's idempotency token, so importing the same
    export twice creates nothing new. The respondent is recorded as ``kobo-<uuid>`` and the
    export's submission time as the response's ``submitted_at``.

    ``partners`` defaults to the store's registered partnerships (when there are any);
    ``ignore_columns`` as in :func:`read_kobo_csv`.

    Returns
    -------
    KoboImport
    """
    if partners is None and hasattr(store, "partnerships_frame"):
        known = store.partnerships_frame()
        if len(known):
            partners = known["partner_id"].astype(str)
    answers = read_kobo_csv(path, instrument, partner_id=partner_id, role=role, partner_column=partner_column,
                            role_column=role_column, partners=partners, ignore_columns=ignore_columns)
    responses.register_instrument(store, instrument, instrument.path)
    created, skipped = [], 0
    for submission, grp in answers.groupby("submission", sort=False):
        pid, rl = grp["partner_id"].iloc[0], grp["role"].iloc[0]
        token = f"kobo:{instrument.form_id}:{submission}"
        rid = responses.open_response(store, instrument.form_id, instrument.version, pid, rl, f"kobo-{submission}", wave=wave,
                                  client_token=token)
        if responses.response(store, rid)["status"] == "submitted":
            skipped += 1
            continue
        responses.submit(store, rid, dict(zip(grp["item"], grp["value"])))
        when = grp["submitted_at"].iloc[0]
        if pd.notna(when):
            _keep_submission_time(store, rid, when.to_pydatetime())
        created.append(rid)
    return KoboImport(tuple(created), skipped, answers)


def _keep_submission_time(store: Any, response_id: int, when) -> None:
    """Record when the respondent submitted (Kobo/ODK), not when the file was imported."""
    # TODO(issue 10): a `submitted_at=` argument of responses.submit would make this part of the submit transaction
    from .tables import response_sets
    with store.transaction() as conn:
        conn.execute(response_sets.update().where(response_sets.c.id == int(response_id))
                     .values(submitted_at=when))
