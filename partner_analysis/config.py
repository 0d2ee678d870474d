"""District configuration: ``district.yml``.

Terms (quarters), schools, the grade scale, KPI thresholds, the privacy profile
and valuation rates are configuration, never code. :func:`load_config` reads a
YAML file (or the embedded default) into an immutable :class:`DistrictConfig`;
every problem is a :class:`~partner_analysis.exceptions.ConfigError` naming the
file and key.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from ._paths import ID_RULE, is_identifier, shorten
from .exceptions import ConfigError, did_you_mean
from .safeyaml import read_yaml

__all__ = ["Term", "School", "GradeScale", "DistrictConfig", "load_config", "config_from_dict",
           "default_config_path", "DEFAULT_CONFIG_TEXT", "SCHEMA", "check_keys", "ReportSettings",
           "DEFAULT_HEADLINE_KPIS", "DEFAULT_ALERT_LEVELS", "MailSettings", "AppSettings"]

SCHOOL_LEVELS = ("elementary", "middle", "high", "k8", "k12", "other")

#: A mapping whose keys the district chooses (role names, letters, threshold names).
OPEN = "open"

#: Every key ``district.yml`` may hold, at every level: a nested dict is a section with fixed keys,
#: ``[dict]`` a list of such sections, :data:`OPEN` a mapping with keys of the district's choosing,
#: ``None`` a value. A new setting is declared here once (and read in :func:`config_from_dict`);
#: anything else is refused with the allowed set and a "did you mean".
SCHEMA: dict[str, Any] = {
    "district": {"id": None, "name": None},
    "school_year": None,
    "terms": [{"id": None, "school_year": None, "start": None, "end": None}],
    "schools": [{"school_id": None, "name": None, "level": None}],
    "grade_scale": {"letters": OPEN, "failing_letters": None,
                    "numeric": {"min": None, "max": None, "pass_mark": None}},
    # KPI definitions (kpis.yml) refer to thresholds by name, so a district may add its own; a name
    # close to a known one is refused as a typo (see _check_thresholds).
    "thresholds": OPEN,
    # keys checked by privacy.PrivacyProfile.from_config (the profile's fields)
    "privacy": OPEN,
    "valuation": {"currency": None, "fte_hours_per_term": None, "hours_per_day": None, "hourly_rates": OPEN,
                  "default_hourly_rate": None, "balance_bands": {"balanced": None, "leaning": None}},
    # the impact design of KPI comparisons and its covariates (kpi.designs; checked in config_from_dict)
    "design": None,
    "covariates": None,
    # what the partner board leads with (report.ReportSettings; checked in config_from_dict)
    "report": {"headline_kpis": None, "alert_levels": OPEN, "spotlight": OPEN, "language": None},
    # e-mail for invitation reminders and report delivery (MailSettings; never a password)
    "mail": {"smtp": None, "sender": None},
    # the apps' public addresses behind the district's HTTPS reverse proxy (AppSettings)
    "apps": {"survey_url": None, "records_url": None},
}

#: key names that would hold a secret: refused anywhere in district.yml (the SMTP password comes from
#: ``$PA_SMTP_PASSWORD`` only)
_SECRET_WORDS = ("password", "passwd")

#: Thresholds the shipped KPI catalog and checks read (a near miss of one of these is a typo).
KNOWN_THRESHOLDS = ("chronic_absence_rate", "chronic_min_days_enrolled", "chronic_absence_days",
                    "on_track_credits", "on_track_max_core_failures", "wbl_hours_threshold", "engagement_scale")


def check_keys(raw: Any, schema: Any = SCHEMA, *, path: Any = None, where: str = "") -> None:
    """Refuse keys of ``raw`` that ``schema`` (default :data:`SCHEMA`) does not declare, at every level.

    In a schema, a mapping lists the allowed keys, a one-item list describes every item of a list, ``OPEN``
    allows any key and ``None`` marks a value (a scalar or a list of scalars, checked where it is read).

    Raises
    ------
    ConfigError
        Naming the key path (``valuation.hourly_rate``), the allowed keys and the closest one.
    """
    if isinstance(schema, list):
        if isinstance(raw, list):
            for i, item in enumerate(raw):
                check_keys(item, schema[0], path=path, where=f"{where}[{i}]")
        return
    if not isinstance(schema, dict) or not isinstance(raw, Mapping):
        return
    for key, value in raw.items():
        full = f"{where}.{key}" if where else str(key)
        if key not in schema:
            allowed = sorted(schema)
            raise ConfigError(f"unknown key '{key}'", path=path, key=full, value=key,
                              fix=f"{did_you_mean(key, allowed)}Allowed here: {allowed}")
        check_keys(value, schema[key], path=path, where=full)


def default_config_path() -> Path:
    """Path of the embedded default ``district.yml`` (used by the demo)."""
    return Path(str(resources.files("partner_analysis") / "defaults" / "district.yml"))


DEFAULT_CONFIG_TEXT = default_config_path().read_text(encoding="utf-8")


def _as_date(value: Any, *, path, key) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"expected a date as YYYY-MM-DD, found {value!r}", path=path, key=key,
                          fix="Write dates like 2025-08-18") from None


@dataclass(frozen=True)
class Term:
    """One reporting term (a quarter). ``id`` is a string such as ``2025-26-Q1``."""

    id: str
    start: dt.date
    end: dt.date
    school_year: str = ""

    def __post_init__(self):
        if self.end < self.start:
            raise ConfigError(f"term {self.id!r} ends ({self.end}) before it starts ({self.start})",
                              key="terms", fix="Swap or correct the dates")

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class School:
    school_id: str
    name: str
    level: str = "other"


@dataclass(frozen=True)
class GradeScale:
    """Letter marks to grade points, and the numeric range marks are read on."""

    letters: Mapping[str, float] = field(default_factory=lambda: {"A": 4.0, "B": 3.0, "C": 2.0, "D": 1.0, "F": 0.0})
    failing_letters: tuple[str, ...] = ("F",)
    numeric_min: float = 0.0
    numeric_max: float = 100.0
    pass_mark: float = 60.0

    def __post_init__(self):
        if not self.numeric_min < self.numeric_max:
            raise ConfigError("grade_scale numeric min must be below max", key="grade_scale.numeric")
        if not self.numeric_min <= self.pass_mark <= self.numeric_max:
            raise ConfigError(f"pass_mark {self.pass_mark} lies outside [{self.numeric_min}, {self.numeric_max}]",
                              key="grade_scale.numeric.pass_mark")
        unknown = set(self.failing_letters) - set(self.letters)
        if unknown:
            raise ConfigError(f"failing letters {sorted(unknown)} are not in the letter scale",
                              key="grade_scale.failing_letters")

    @property
    def max_points(self) -> float:
        return max(self.letters.values()) if self.letters else 4.0


#: Impact designs of the KPI comparisons (``partner_analysis.kpi.designs``).
IMPACT_DESIGNS = ("raw", "adjusted", "matched")


#: KPIs the board shows as tiles unless ``report.headline_kpis`` says otherwise.
DEFAULT_HEADLINE_KPIS = ("attendance_rate", "chronic_absence", "gpa", "on_track")
#: Levels of a KPI among participants beyond which the board shows a concern (share of students).
#: Chronic absence: 30% of participants chronically absent (a district choice; Attendance Works' school
#: typology calls 30% or more "extreme" chronic absence, attendanceworks.org, "Portraits of Change", 2018).
DEFAULT_ALERT_LEVELS = {"chronic_absence": 0.30}


@dataclass(frozen=True)
class MailSettings:
    """``mail:`` in district.yml: where invitation reminders and report deliveries are sent from.

    Attributes
    ----------
    smtp : str or None
        The SMTP server as a URL, ``smtp://user@mail.district.org:587`` (STARTTLS required) or
        ``smtps://user@mail.district.org:465``; read by :func:`partner_analysis.access.mail.smtp_settings`.
        The login's password is never here: it comes from ``$PA_SMTP_PASSWORD``.
    sender : str or None
        The From address, e.g. ``Partnerships office <partnerships@district.org>``.

    ``--smtp`` / ``$PA_SMTP_URL`` and ``--sender`` / ``$PA_MAIL_FROM`` override them.
    """

    smtp: str | None = None
    sender: str | None = None


@dataclass(frozen=True)
class AppSettings:
    """``apps:`` in district.yml: the public addresses of the two apps (behind the district's HTTPS proxy).

    Invitation and reminder links are made from them, and each app answers to its address's host name
    besides localhost (as if given with ``--allow-host``). ``--base-url`` / ``$PA_APP_URL`` override them.

    Attributes
    ----------
    survey_url : str or None
        E.g. ``https://survey.district.org/``.
    records_url : str or None
        E.g. ``https://records.district.org/``.
    """

    survey_url: str | None = None
    records_url: str | None = None

    def url(self, form: str) -> str | None:
        """The public address of the ``survey`` or ``records`` app (None when not configured)."""
        return self.survey_url if form == "survey" else self.records_url if form == "records" else None


@dataclass(frozen=True)
class ReportSettings:
    """The ``report:`` section of ``district.yml``.

    ``headline_kpis`` are the board's tiles (2-6 KPI ids, in order);
    ``alert_levels`` map a KPI id to the participants' level beyond which the
    board shows a concern and proposes a check-in action (direction from the
    KPI's ``higher_is_better``); ``spotlight`` maps a partner id (or ``all``)
    to a short story for the community brief and the meeting deck;
    ``language`` is the default language of the reports (``en``, ``es``;
    ``partner-analysis reports --lang`` overrides it).
    """

    headline_kpis: tuple[str, ...] = DEFAULT_HEADLINE_KPIS
    alert_levels: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_ALERT_LEVELS))
    spotlight: Mapping[str, str] = field(default_factory=dict)
    language: str = "en"

    def to_dict(self) -> dict:
        return {"headline_kpis": list(self.headline_kpis), "alert_levels": dict(self.alert_levels),
                "spotlight": dict(self.spotlight), **({"language": self.language} if self.language != "en" else {})}


def _report_settings(raw: Any, *, path) -> ReportSettings:
    if raw is None:
        return ReportSettings()
    if not isinstance(raw, Mapping):
        raise ConfigError("'report' must be a mapping (key: value lines)", path=path, key="report", value=raw)
    kpis = raw.get("headline_kpis", list(DEFAULT_HEADLINE_KPIS))
    if isinstance(kpis, str):
        kpis = [k.strip() for k in kpis.split(",") if k.strip()]
    if not isinstance(kpis, list) or not 1 <= len(kpis) <= 6 or not all(isinstance(k, str) and k for k in kpis):
        raise ConfigError(f"report.headline_kpis must be a list of 1 to 6 KPI ids, found {kpis!r}", path=path,
                          key="report.headline_kpis", value=kpis,
                          fix="Write e.g. headline_kpis: [attendance_rate, chronic_absence, gpa, on_track]")
    levels = dict(DEFAULT_ALERT_LEVELS)
    for key, value in (raw.get("alert_levels") or {}).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"report.alert_levels.{key} must be a number, found {value!r}", path=path,
                              key=f"report.alert_levels.{key}", value=value, fix="Write 0.20 for 20% of students")
        levels[str(key)] = float(value)
    spot = {str(k): str(v) for k, v in (raw.get("spotlight") or {}).items() if v is not None}
    lang = raw.get("language", "en")
    if not isinstance(lang, str) or not re.fullmatch(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?", lang):
        raise ConfigError(f"report.language must be a language code such as en or es, found {lang!r}", path=path,
                          key="report.language", value=lang, fix="Write e.g. language: es")
    return ReportSettings(headline_kpis=tuple(kpis), alert_levels=levels, spotlight=spot, language=lang)


@dataclass(frozen=True)
class DistrictConfig:
    """Everything a district varies. Build with :func:`load_config`."""

    district_id: str
    name: str
    school_year: str
    terms: tuple[Term, ...]
    schools: tuple[School, ...]
    grade_scale: GradeScale = field(default_factory=GradeScale)
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    privacy: Mapping[str, Any] = field(default_factory=dict)
    valuation: Mapping[str, Any] = field(default_factory=dict)
    #: Impact design of KPI comparisons (issue #11): raw | adjusted | matched; None = ``adjusted`` when the
    #: term has a prior-year term, else ``raw``.
    design: str | None = None
    #: Covariates of the adjusted and matched designs (students columns, plus ``prior``); empty = the default
    #: list of ``kpi.designs.DEFAULT_COVARIATES``.
    covariates: tuple[str, ...] = ()
    #: What the partner board leads with (``report:`` in district.yml).
    report: ReportSettings = field(default_factory=ReportSettings)
    #: e-mail settings (``mail:``): SMTP URL and sender, never a password
    mail: MailSettings = field(default_factory=MailSettings)
    #: the apps' public addresses (``apps:``)
    apps: AppSettings = field(default_factory=AppSettings)
    source: str | None = None

    def __post_init__(self):
        if self.design is not None and self.design not in IMPACT_DESIGNS:
            raise ConfigError(f"design must be one of {list(IMPACT_DESIGNS)}, found {self.design!r}",
                              path=self.source, key="design", fix="Write e.g. design: adjusted")
        require_unique([t.id for t in self.terms], what="term", path=self.source, key="terms")
        require_unique([s.school_id for s in self.schools], what="school", path=self.source, key="schools")

    # -- look-ups ---------------------------------------------------------
    @property
    def term_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.terms)

    @property
    def school_ids(self) -> tuple[str, ...]:
        return tuple(s.school_id for s in self.schools)

    def term(self, term_id: str) -> Term:
        for t in self.terms:
            if t.id == term_id:
                return t
        raise ConfigError(f"unknown term {term_id!r}", path=self.source, key="terms",
                          fix=f"Use one of {list(self.term_ids)}")

    def term_for_date(self, day: dt.date) -> Term | None:
        for t in self.terms:
            if t.contains(day):
                return t
        return None

    @property
    def ordered_terms(self) -> tuple[Term, ...]:
        """The terms in date order (by start), whatever their order in ``district.yml``."""
        return tuple(sorted(self.terms, key=lambda t: t.start))

    def previous_term(self, term_id: str) -> Term | None:
        """The term before ``term_id`` in date order, or None."""
        ordered = self.ordered_terms
        i = [t.id for t in ordered].index(self.term(term_id).id)
        return ordered[i - 1] if i > 0 else None

    def same_term_last_year(self, term_id: str) -> Term | None:
        """The term at the same position in the previous school year, or None."""
        t = self.term(term_id)
        years = sorted({x.school_year for x in self.terms})
        if t.school_year not in years or years.index(t.school_year) == 0:
            return None
        prev_year = years[years.index(t.school_year) - 1]
        mine = sorted((x for x in self.terms if x.school_year == t.school_year), key=lambda x: x.start)
        theirs = sorted((x for x in self.terms if x.school_year == prev_year), key=lambda x: x.start)
        pos = [x.id for x in mine].index(t.id)
        return theirs[pos] if pos < len(theirs) else None

    def year_terms(self, term_id: str) -> tuple[Term, ...]:
        """Terms of the same school year up to and including ``term_id`` (year to date)."""
        t = self.term(term_id)
        return tuple(sorted((x for x in self.terms if x.school_year == t.school_year and x.start <= t.start),
                            key=lambda x: x.start))

    def threshold(self, name: str, default: Any = None) -> Any:
        return self.thresholds.get(name, default)

    def to_dict(self) -> dict:
        """A plain, YAML-safe dict that :func:`config_from_dict` turns back into this config."""
        return {
            "district": {"id": self.district_id, "name": self.name},
            "school_year": self.school_year,
            "terms": [{"id": t.id, "school_year": t.school_year, "start": t.start.isoformat(),
                       "end": t.end.isoformat()} for t in self.terms],
            "schools": [dataclasses.asdict(s) for s in self.schools],
            "grade_scale": {"letters": dict(self.grade_scale.letters),
                            "failing_letters": list(self.grade_scale.failing_letters),
                            "numeric": {"min": self.grade_scale.numeric_min, "max": self.grade_scale.numeric_max,
                                        "pass_mark": self.grade_scale.pass_mark}},
            "thresholds": dict(self.thresholds),
            "privacy": dict(self.privacy),
            "valuation": dict(self.valuation),
            **({"design": self.design} if self.design else {}),
            **({"covariates": list(self.covariates)} if self.covariates else {}),
            **({"report": self.report.to_dict()} if self.report != ReportSettings() else {}),
        }

    def dump(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True), encoding="utf-8")
        return path


def require_unique(ids: list[str], *, what: str, path, key: str) -> None:
    """Raise ConfigError naming the ids that occur more than once (terms, schools, KPIs)."""
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ConfigError(f"{what} ids must be unique, repeated: {dup}", path=path, key=key)


def _identifier(value: Any, *, path, key: str) -> str:
    text = str(value)
    if not is_identifier(text):
        raise ConfigError(f"{shorten(text)} is not a valid ID: {ID_RULE}", path=path, key=key, value=text,
                          fix="IDs name files of the reports; quote IDs with leading zeros (\"0101\")")
    return text


def _require(mapping: Mapping, key: str, *, path, where: str):
    if not isinstance(mapping, Mapping) or key not in mapping or mapping[key] in (None, ""):
        raise ConfigError(f"missing required key '{key}'", path=path, key=f"{where}{key}",
                          fix=f"Add '{key}' (see the embedded default: {default_config_path()})")
    return mapping[key]


def config_from_dict(raw: Mapping[str, Any], *, source: str | None = None) -> DistrictConfig:
    """Build a :class:`DistrictConfig` from a parsed YAML mapping, validating every key."""
    path = source
    if not isinstance(raw, Mapping):
        raise ConfigError("the file must hold a YAML mapping (key: value lines)", path=path)
    _refuse_secrets(raw, path=path)
    check_keys(raw, path=path)
    for section in ("district", "grade_scale", "thresholds", "privacy", "valuation"):
        if raw.get(section) is not None and not isinstance(raw[section], Mapping):
            raise ConfigError(f"'{section}' must be a mapping (key: value lines)", path=path, key=section,
                              value=raw[section])
    for section in ("terms", "schools"):
        if raw.get(section) is not None and not isinstance(raw[section], list):
            raise ConfigError(f"'{section}' must be a list (lines starting with '- ')", path=path, key=section)
    district = _require(raw, "district", path=path, where="")
    district_id = str(_require(district, "id", path=path, where="district."))
    name = str(_require(district, "name", path=path, where="district."))
    school_year = str(_require(raw, "school_year", path=path, where=""))
    raw_terms = _require(raw, "terms", path=path, where="")
    if not isinstance(raw_terms, list) or not raw_terms:
        raise ConfigError("'terms' must be a non-empty list", path=path, key="terms")
    terms = []
    for i, t in enumerate(raw_terms):
        key = f"terms[{i}]"
        tid = _identifier(_require(t, "id", path=path, where=f"{key}."), path=path, key=f"{key}.id")
        start = _as_date(_require(t, "start", path=path, where=f"{key}."), path=path, key=f"{key}.start")
        end = _as_date(_require(t, "end", path=path, where=f"{key}."), path=path, key=f"{key}.end")
        if end < start:
            raise ConfigError(f"term {tid!r} ends ({end}) before it starts ({start})", path=path, key=key,
                              fix="Swap or correct the dates")
        year = str(_require(t, "school_year", path=path, where=f"{key}."))
        terms.append(Term(id=tid, start=start, end=end, school_year=year))
    ordered = sorted(terms, key=lambda t: t.start)
    for a, b in zip(ordered, ordered[1:]):
        if b.start <= a.end:
            raise ConfigError(f"terms {a.id!r} and {b.id!r} overlap", path=path, key="terms",
                              fix="Terms must not share days")
    raw_schools = raw.get("schools") or []
    schools = []
    for i, s in enumerate(raw_schools):
        sid = _identifier(_require(s, "school_id", path=path, where=f"schools[{i}]."), path=path,
                          key=f"schools[{i}].school_id")
        level = str(s.get("level", "other"))
        if level not in SCHOOL_LEVELS:
            raise ConfigError(f"school level must be one of {list(SCHOOL_LEVELS)}, found {level!r}",
                              path=path, key=f"schools[{i}].level")
        schools.append(School(school_id=str(sid), name=str(s.get("name", sid)), level=level))
    gs_raw = raw.get("grade_scale") or {}
    numeric = gs_raw.get("numeric") or {}
    letters = {str(k): float(v) for k, v in (gs_raw.get("letters") or {"A": 4, "B": 3, "C": 2, "D": 1, "F": 0}).items()}
    try:
        grade_scale = GradeScale(
            letters=letters,
            failing_letters=tuple(str(x) for x in gs_raw.get("failing_letters", ["F"])),
            numeric_min=float(numeric.get("min", 0)),
            numeric_max=float(numeric.get("max", 100)),
            pass_mark=float(numeric.get("pass_mark", 60)),
        )
    except ConfigError as err:
        raise ConfigError(err.problem, path=path, key=err.key) from None
    except (TypeError, ValueError) as err:
        raise ConfigError(f"grade_scale has a non-numeric value ({err})", path=path, key="grade_scale") from None
    thresholds = dict(raw.get("thresholds") or {})
    _check_thresholds(thresholds, path=path)
    rate = thresholds.get("chronic_absence_rate", 0.10)
    if not isinstance(rate, (int, float)) or not 0 < rate < 1:
        raise ConfigError(f"chronic_absence_rate must be a fraction between 0 and 1, found {rate!r}",
                          path=path, key="thresholds.chronic_absence_rate", fix="Write 0.10 for 10%")
    privacy = dict(raw.get("privacy") or {"profile": "public", "min_group_n": 10, "min_numerator": 3})
    min_n = privacy.get("min_group_n", 10)
    if not isinstance(min_n, int) or min_n < 3:
        raise ConfigError(f"privacy.min_group_n must be a whole number of at least 3, found {min_n!r}",
                          path=path, key="privacy.min_group_n",
                          fix="docs/privacy.md#public-profile: 3 is the absolute minimum; most states use 10")
    _check_privacy(privacy, path=path)
    valuation = dict(raw.get("valuation") or {})
    design = raw.get("design")
    covariates = raw.get("covariates") or []
    if isinstance(covariates, str):
        covariates = [c.strip() for c in covariates.split(",") if c.strip()]
    if not isinstance(covariates, list):
        raise ConfigError(f"covariates must be a list of column names, found {covariates!r}", path=path,
                          key="covariates", fix="Write e.g. covariates: [prior, frl, ell, swd]")
    return DistrictConfig(district_id=district_id, name=name, school_year=school_year, terms=tuple(terms),
                          schools=tuple(schools), grade_scale=grade_scale, thresholds=thresholds,
                          privacy=privacy, valuation=valuation, design=None if design is None else str(design),
                          covariates=tuple(str(c) for c in covariates),
                          report=_report_settings(raw.get("report"), path=path),
                          mail=_mail_settings(raw.get("mail"), path=path),
                          apps=_app_settings(raw.get("apps"), path=path), source=source)


def _refuse_secrets(raw: Any, *, path, where: str = "") -> None:
    """No password in district.yml: the file is copied, backed up and read by many."""
    if isinstance(raw, list):
        for i, item in enumerate(raw):
            _refuse_secrets(item, path=path, where=f"{where}[{i}]")
        return
    if not isinstance(raw, Mapping):
        return
    for key, value in raw.items():
        full = f"{where}.{key}" if where else str(key)
        if any(word in str(key).lower() for word in _SECRET_WORDS):
            raise ConfigError("district.yml must not hold a password", path=path, key=full,
                              fix="Delete the line. The SMTP password is read only from the environment variable "
                                  "$PA_SMTP_PASSWORD (e.g. in a systemd EnvironmentFile of mode 0600)")
        _refuse_secrets(value, path=path, where=full)


def _section(raw: Any, name: str, *, path) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"'{name}' must be a mapping (key: value lines)", path=path, key=name, value=raw)
    return raw


def _mail_settings(raw: Any, *, path) -> MailSettings:
    from email.utils import parseaddr
    from urllib.parse import urlsplit
    raw = _section(raw, "mail", path=path)
    smtp = raw.get("smtp")
    if smtp is not None:
        smtp = str(smtp).strip()
        parts = urlsplit(smtp)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError("expected an SMTP server URL", path=path, key="mail.smtp", value=smtp,
                              fix="Write e.g. smtp: smtp://surveys@mail.district.org:587 (STARTTLS) or "
                                  "smtps://surveys@mail.district.org:465")
        if parts.password is not None:
            raise ConfigError("the SMTP URL holds a password", path=path, key="mail.smtp",
                              value=smtp.replace(f":{parts.password}@", ":***@"),
                              fix="Remove it from the URL; the password is read only from $PA_SMTP_PASSWORD")
    sender = raw.get("sender")
    if sender is not None:
        sender = str(sender).strip()
        if "@" not in parseaddr(sender)[1]:
            raise ConfigError("expected an e-mail address", path=path, key="mail.sender", value=sender,
                              fix="Write e.g. sender: Partnerships office <partnerships@district.org>")
    return MailSettings(smtp=smtp or None, sender=sender or None)


def _app_settings(raw: Any, *, path) -> AppSettings:
    import ipaddress
    from urllib.parse import urlsplit
    raw = _section(raw, "apps", path=path)
    urls = {}
    for key in ("survey_url", "records_url"):
        value = raw.get(key)
        if value is None:
            continue
        url = str(value).strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ConfigError("expected the app's public address", path=path, key=f"apps.{key}", value=url,
                              fix="Write e.g. https://survey.district.org/ (no ?query)")
        try:
            loopback = parts.hostname == "localhost" or ipaddress.ip_address(parts.hostname).is_loopback
        except ValueError:
            loopback = False
        if parts.scheme != "https" and not loopback:
            raise ConfigError("an app's public address must use https: its links carry personal tokens",
                              path=path, key=f"apps.{key}", value=url,
                              fix="Serve the app behind the district's HTTPS reverse proxy "
                                  "(docs/deploying.md#reverse-proxy) and write its https:// address")
        urls[key] = url
    return AppSettings(**urls)


def _check_thresholds(thresholds: Mapping[str, Any], *, path) -> None:
    for key in thresholds:
        if key in KNOWN_THRESHOLDS:
            continue
        hint = did_you_mean(key, KNOWN_THRESHOLDS)
        if hint:
            raise ConfigError(f"unknown threshold '{key}'", path=path, key=f"thresholds.{key}", value=key,
                              fix=f"{hint}Known thresholds: {list(KNOWN_THRESHOLDS)}; a threshold of "
                                  "your own needs a name that a kpis.yml definition refers to")


def _check_privacy(privacy: Mapping[str, Any], *, path) -> None:
    """The profile must be a known one and every privacy key valid, when the config is read."""
    from .privacy import PROFILES, PrivacyProfile
    name = privacy.get("profile", privacy.get("name", "public"))
    if name not in PROFILES:
        raise ConfigError(f"unknown privacy profile {name!r}", path=path, key="privacy.profile", value=name,
                          fix=f"{did_you_mean(name, PROFILES)}Use one of {sorted(PROFILES)}")
    PrivacyProfile.from_config(dict(privacy), path=path)


def load_config(path: str | Path | None = None) -> DistrictConfig:
    """Read ``district.yml``; with no path, the embedded default.

    Raises
    ------
    ConfigError
        When the file is missing, is not YAML, or a key is missing or invalid.
    """
    if path is None:
        path = default_config_path()
    path = Path(path)
    if path.is_dir():
        path = path / "district.yml"
    raw = read_yaml(path, missing="file not found",
                    fix="Pass the path of a district.yml, or omit it to use the embedded default")
    return config_from_dict(raw, source=str(path))


