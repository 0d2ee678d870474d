"""Interface text in the respondent's language: gettext catalogs managed with Babel.

Buttons, instructions and messages of the survey form and the records forms are written in English in
the code, marked for translation, and looked up at run time in the catalog of the requested language::

    from partner_analysis.i18n import Translator
    _ = Translator("es")
    _("Submit")                                         # "Enviar"
    _.ngettext("{n} answer", "{n} answers", 3).format(n=3)

A language without a catalog (or ``None``) gives the English text, so nothing is ever blank.

Catalogs live in ``partner_analysis/locale/<lang>/LC_MESSAGES/partner_analysis.po`` (edited by
translators) with the compiled ``.mo`` next to it (read at run time, shipped in the wheel; a test checks
that every ``.mo`` matches its ``.po`` and that no entry is untranslated or fuzzy). The workflow uses
Babel's own command line (``pybabel``), wrapped in ``make``:

``make i18n-extract``
    collect every marked string of the package into ``partner_analysis/locale/partner_analysis.pot``;
``make i18n-update``
    merge the template into each language's ``.po`` (new strings appear untranslated, changed ones fuzzy);
``make i18n-compile``
    compile every ``.po`` to ``.mo``.

Add a language with ``pybabel init -i partner_analysis/locale/partner_analysis.pot -d
partner_analysis/locale -D partner_analysis -l fr``, translate, compile.

Texts that come from an instrument (questions, choices) are translated in the instrument itself
(``label::Español (es)`` columns, see :mod:`partner_analysis.fit.instrument`), not here.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import os
from dataclasses import dataclass
from typing import Iterator
from urllib.parse import parse_qs
from pathlib import Path

from babel.support import NullTranslations, Translations

__all__ = ["DOMAIN", "REPORT_DOMAIN", "LOCALE_DIR", "DEFAULT_LANGUAGE", "Translator", "translations", "gettext",
           "ngettext", "N_", "available_languages", "normalise_language", "language_from_query", "use_language",
           "current_language", "browser_languages", "choose_language", "ACCEPT_LANGUAGE_ENV"]

#: gettext domain: the catalogs are ``<lang>/LC_MESSAGES/partner_analysis.mo``
DOMAIN = "partner_analysis"
#: gettext domain of the report text (:mod:`partner_analysis.report.text`): ``<lang>/LC_MESSAGES/report.mo``,
#: its own template and extraction map (``babel-report.cfg``), so report and app catalogs change independently
REPORT_DOMAIN = "report"
#: where the catalogs are (inside the package, so a wheel carries them)
LOCALE_DIR = Path(__file__).resolve().with_name("locale")
#: the language the code is written in
DEFAULT_LANGUAGE = "en"
#: the browser's ``Accept-Language`` header as Voilà hands it to a page's kernel (``http_header_envs``)
ACCEPT_LANGUAGE_ENV = "HTTP_ACCEPT_LANGUAGE"


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it (for module-level constants).

    Translate it where it is shown: ``Translator(lang)(CONSTANT)``.
    """
    return message


def normalise_language(lang: str | None) -> str:
    """``"es-MX"`` -> ``"es_MX"``, ``None``/``""`` -> ``"en"`` (gettext's spelling of a locale)."""
    text = (lang or "").strip().replace("-", "_")
    return text or DEFAULT_LANGUAGE


@functools.lru_cache(maxsize=32)
def translations(lang: str | None, domain: str = DOMAIN) -> NullTranslations:
    """The compiled catalog of ``lang`` (``"es"``, ``"es-MX"`` falls back to ``"es"``); English otherwise.

    Parameters
    ----------
    lang : str or None
        A language code as in the instrument's ``label::Español (es)`` columns.
    domain : str
        The gettext domain: :data:`DOMAIN` (the apps) or :data:`REPORT_DOMAIN` (the reports).

    Returns
    -------
    babel.support.NullTranslations
        A :class:`babel.support.Translations` when a catalog exists, else a pass-through
        ``NullTranslations`` (English).
    """
    code = normalise_language(lang)
    if code.split("_")[0].lower() == DEFAULT_LANGUAGE:
        return NullTranslations()
    # Translations.load tries the locale and then its language (es_MX, es) and returns a
    # NullTranslations when none is found.
    return Translations.load(str(LOCALE_DIR), [code], domain)


#: the language of text built without an explicit ``lang`` (set with :func:`use_language`)
_CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("partner_analysis_language", default=None)


@contextlib.contextmanager
def use_language(lang: str | None) -> Iterator[str]:
    """Within the block, :func:`gettext` and :func:`ngettext` without ``lang`` use ``lang``.

    For code that builds a whole document in one language (a report) without passing the language
    through every function. A context variable, so threads and asyncio tasks do not see each other's
    language.

    Examples
    --------
    >>> with use_language("es"):
    ...     gettext("Submit")
    'Enviar'
    """
    token = _CURRENT.set(lang)
    try:
        yield normalise_language(lang)
    finally:
        _CURRENT.reset(token)


def current_language() -> str | None:
    """The language set by the innermost :func:`use_language` (None: English)."""
    return _CURRENT.get()


def gettext(message: str, lang: str | None = None) -> str:
    """``message`` in ``lang`` (default :func:`current_language`; English when there is no translation)."""
    return translations(lang or _CURRENT.get()).gettext(message)


def ngettext(singular: str, plural: str, n: float, lang: str | None = None) -> str:
    """The singular or plural form of a message for count ``n`` in ``lang`` (default the current language)."""
    return translations(lang or _CURRENT.get()).ngettext(singular, plural, n)


@dataclass(frozen=True)
class Translator:
    """A language bound to its catalog; call it like gettext's ``_``.

    Parameters
    ----------
    lang : str or None
        Language code (``"es"``); ``None`` or a language without a catalog gives English.

    Examples
    --------
    >>> _ = Translator("es")
    >>> _("Submit")
    'Enviar'
    >>> Translator(None)("Submit")
    'Submit'
    """

    lang: str | None = None

    def __call__(self, message: str) -> str:
        return translations(self.lang).gettext(message) if message else message

    def gettext(self, message: str) -> str:
        return self(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return translations(self.lang).ngettext(singular, plural, n)

    @property
    def code(self) -> str:
        """The normalised language code (``"en"`` for ``None``)."""
        return normalise_language(self.lang)


def available_languages(domain: str = DOMAIN) -> tuple[str, ...]:
    """``"en"`` and every language with a compiled catalog of ``domain``, e.g. ``("en", "es")``."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{domain}.mo"))
    return (DEFAULT_LANGUAGE, *[c for c in found if c != DEFAULT_LANGUAGE])


def language_from_query(query: str | None = None, languages: tuple[str, ...] | None = None) -> str | None:
    """The ``lang`` parameter of a link (``?lang=es``) when it is one of ``languages``, else None.

    Parameters
    ----------
    query : str, optional
        A URL query string; default ``$QUERY_STRING``, which Voilà sets in each page's kernel.
    languages : tuple of str, optional
        Accepted codes; default :func:`available_languages`. ``es-MX`` is accepted as ``es``.
    """
    query = os.environ.get("QUERY_STRING", "") if query is None else query
    accepted = available_languages() if languages is None else tuple(languages)
    for value in parse_qs(query.lstrip("?")).get("lang", []):
        code = value.strip().lower().replace("_", "-")
        for candidate in (code, code.split("-")[0]):
            if candidate in accepted:
                return candidate
    return None


def _accepted(code: str, accepted: tuple[str, ...]) -> str | None:
    code = code.strip().lower().replace("_", "-")
    for candidate in (code, code.split("-")[0]):
        if candidate in accepted:
            return candidate
    return None


def browser_languages(header: str | None = None, languages: tuple[str, ...] | None = None) -> list[str]:
    """The languages of an ``Accept-Language`` header that have a catalog, most preferred first.

    Parameters
    ----------
    header : str, optional
        E.g. ``"es-MX,es;q=0.9,en;q=0.5"`` (RFC 9110, section 12.5.4: quality values, ``q=0`` means "not
        this one"); default ``$HTTP_ACCEPT_LANGUAGE``, which the apps' Voilà hands to each page's kernel.
    languages : tuple of str, optional
        Accepted codes; default :func:`available_languages`.
    """
    header = os.environ.get(ACCEPT_LANGUAGE_ENV, "") if header is None else header
    accepted = available_languages() if languages is None else tuple(languages)
    ranked = []
    for position, part in enumerate((header or "").split(",")):
        code, _sep, params = part.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name.lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        found = _accepted(code, accepted) if code.strip() not in ("", "*") else None
        if found and quality > 0:
            ranked.append((-quality, position, found))
    return list(dict.fromkeys(code for *_key, code in sorted(ranked)))


def choose_language(*, query: str | None = None, invitation: str | None = None, accept: str | None = None,
                    languages: tuple[str, ...] | None = None) -> str:
    """The language of an app page, in this order (the first one the app has):

    1. the link's ``?lang=`` (invitation links of an invitation with a language carry it; the survey's
       language menu and a hand-edited link change it);
    2. the invitation's language (``invite create --lang es``);
    3. the browser's ``Accept-Language`` preference;
    4. English.

    Parameters
    ----------
    query : str, optional
        The page's query string (default ``$QUERY_STRING``).
    invitation : str, optional
        The invitation's language, when known.
    accept : str, optional
        The ``Accept-Language`` header (default ``$HTTP_ACCEPT_LANGUAGE``).
    languages : tuple of str, optional
        The languages the page can be shown in (default :func:`available_languages`).

    Examples
    --------
    >>> choose_language(query="token=x&lang=es", invitation="en", accept="en")
    'es'
    >>> choose_language(query="token=x", invitation=None, accept="es-MX,es;q=0.9,en;q=0.8")
    'es'
    >>> choose_language(query="", invitation=None, accept="de")
    'en'
    """
    accepted = available_languages() if languages is None else tuple(languages)
    for found in (language_from_query(query, accepted), _accepted(invitation or "", accepted),
                  *browser_languages(accept, accepted)[:1]):
        if found:
            return found
    return DEFAULT_LANGUAGE if DEFAULT_LANGUAGE in accepted or not accepted else accepted[0]
