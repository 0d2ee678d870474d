"""How the apps let people in: a Jupyter-server identity provider over invitation links, and bounded kernels.

Voilà runs on jupyter_server, whose :class:`~jupyter_server.auth.IdentityProvider` decides who a request
is. :class:`InvitationIdentityProvider` accepts a request whose ``?token=`` is a valid invitation link of
the app being served (checked in the records store by
:func:`~partner_analysis.access.invitations.resolve_token`), and then keeps the browser signed in with
jupyter_server's own signed login cookie, so the page's kernel and widget connections are authenticated
too. A request without a valid link gets a plain "link not valid" page (HTTP 403) and no kernel starts.

The kernel itself takes identity from the same token (Voilà passes the page's query string to the kernel
as ``$QUERY_STRING``; :func:`token_from_query`), so what a page shows and changes is decided by the link
alone, never by what is typed into it.

:class:`BoundedKernelManager` is jupyter_server's kernel manager with a cap on running kernels (each
page is one kernel of ~55 MB); idle kernels are culled by its ``cull_*`` settings.
"""
from __future__ import annotations

import functools
import html
import os
from urllib.parse import parse_qs, urlsplit

from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer

from ..exceptions import AccessDenied
from ..i18n import N_, Translator, choose_language

__all__ = ["InvitationIdentityProvider", "BoundedKernelManager", "token_from_query", "refusal_html",
           "refusal_page", "refusal_language", "APP_FORM_ENV", "REFUSAL_TITLE"]

#: environment variable naming the app being served (``survey`` or ``records``)
APP_FORM_ENV = "PA_APP_FORM"
#: the refusal page's title and heading (English msgid; shown in the respondent's language)
REFUSAL_TITLE = N_("This link does not open the form")

_REASONS = {
    "missing": N_("This page opens only from your personal invitation link."),
    "unknown": N_("The link is not complete or not valid. Copy the whole link from your latest invitation "
                  "e-mail."),
    "expired": N_("The link has expired."),
    "revoked": N_("This invitation was withdrawn."),
    "wrong_app": N_("This link is for another form."),
}
_WHAT_NOW = N_("Ask the partnership coordinator who invited you for a new link. A reminder e-mail always "
               "carries a fresh link; earlier links then stop working.")


def refusal_html(reason: str = "unknown", *, heading: str = REFUSAL_TITLE, lang: str | None = None) -> str:
    """The plain refusal text (no data): why, and what to do, in ``lang`` (``heading`` is translated too)."""
    _ = Translator(lang)
    why = _(_REASONS.get(reason, _REASONS["unknown"]))
    return (f'<main lang="{_.code.replace("_", "-")}"><h1>{html.escape(_(heading))}</h1>'
            f'<p role="alert">{html.escape(why)}</p><p>{html.escape(_(_WHAT_NOW))}</p></main>')


def refusal_page(reason: str = "unknown", *, lang: str | None = None) -> str:
    """The whole HTML page a refused request gets (title and ``<html lang>`` in ``lang``)."""
    _ = Translator(lang)
    return (f'<!DOCTYPE html><html lang="{_.code.replace("_", "-")}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{html.escape(_(REFUSAL_TITLE))}</title>'
            '<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:2em auto;padding:0 1em;'
            'line-height:1.5;color:#1a1a1a}h1{font-size:1.4em}</style>'
            f'</head><body>{refusal_html(reason, lang=lang)}</body></html>')


def refusal_language(query: str, accept: str | None, *, invitation_lang: str | None = None) -> str:
    """The refusal page's language: the link's ``?lang=``, the invitation's, the browser's, English
    (:func:`partner_analysis.i18n.choose_language`)."""
    return choose_language(query=query, invitation=invitation_lang, accept=accept or "")


def token_from_query(query: str | None = None) -> str:
    """The ``token`` of a query string (default: ``$QUERY_STRING``, which Voilà sets for each page's kernel)."""
    query = os.environ.get("QUERY_STRING", "") if query is None else query
    values = parse_qs(query.lstrip("?")).get("token", [])
    return values[0] if len(values) == 1 else ""


@functools.lru_cache(maxsize=1)
def _store():
    from ..store import Store
    return Store(os.environ.get("PA_DB_URL") or None, create=False)


def _refusal_for(query: str) -> tuple[str, str | None]:
    """(reason, invitation language) of the link a refused request came from (its query string)."""
    from .invitations import invitation_language, resolve_token
    token = token_from_query(query)
    form = os.environ.get(APP_FORM_ENV, "survey")
    try:
        resolve_token(_store(), token, form=form, mark_opened=False)
    except AccessDenied as err:
        return err.reason, invitation_language(_store(), token)
    return "unknown", None


class RefusedHandler(web.RequestHandler):
    """What a request without a valid invitation gets (the login URL): 403 and a plain page, no data.

    jupyter_server sends such a request here with the page it asked for in ``?next=``; the page's link
    says why it was refused (missing, altered, expired, revoked, for the other app) and in which language
    (:func:`refusal_language`).
    """

    def get(self, *args, **kwargs):
        query = urlsplit(self.get_argument("next", "")).query
        try:
            reason, lang = _refusal_for(query)
        except Exception:  # noqa: BLE001 - the store is unreachable: still refuse, plainly
            reason, lang = "unknown", None
        self.set_status(403)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        lang = refusal_language(query, self.request.headers.get("Accept-Language"), invitation_lang=lang)
        self.set_header("Content-Language", lang)
        self.write(refusal_page(reason, lang=lang))

    post = get


class InvitationIdentityProvider(IdentityProvider):
    """jupyter_server identity from invitation links (see the module docstring).

    The app (``survey`` or ``records``) comes from ``$PA_APP_FORM`` and the store from ``$PA_DB_URL``,
    both set by ``partner-analysis survey-app`` / ``records-app``.
    """

    @property
    def auth_enabled(self) -> bool:
        return True

    @property
    def login_available(self) -> bool:
        return False

    def get_handlers(self) -> list:
        return [("/login", RefusedHandler), ("/logout", RefusedHandler)]

    def _user_for(self, token: str) -> User | None:
        from .invitations import resolve_token
        form = os.environ.get(APP_FORM_ENV, "survey")
        try:
            who = resolve_token(_store(), token, form=form, mark_opened=False)
        except AccessDenied:
            return None
        return User(username=who.respondent, name=who.display_name, display_name=who.display_name)

    async def get_user_token(self, handler: web.RequestHandler) -> User | None:
        token = self.get_token(handler)
        return self._user_for(token) if token else None

    def get_user_cookie(self, handler: web.RequestHandler) -> User | None:
        """The signed cookie's user, while its invitation is neither revoked nor expired."""
        user = super().get_user_cookie(handler)
        if isinstance(user, User) and not self._still_valid(user.username):
            return None
        return user

    @staticmethod
    def _still_valid(username: str) -> bool:
        from .invitations import invitation_usable
        prefix = "invitation-"
        if not username.startswith(prefix) or not username[len(prefix):].isdigit():
            return False
        return invitation_usable(_store(), int(username[len(prefix):]))


class BoundedKernelManager(AsyncMappingKernelManager):
    """jupyter_server's kernel manager with at most ``max_kernels`` kernels running (HTTP 503 beyond)."""

    max_kernels = Integer(40, config=True, help="Most kernels (open pages) at once; further pages get 503.")

    async def start_kernel(self, *args, **kwargs):
        if len(self.list_kernel_ids()) >= self.max_kernels:
            raise web.HTTPError(503, f"the server is busy ({self.max_kernels} forms open); try again in a minute")
        return await super().start_kernel(*args, **kwargs)
