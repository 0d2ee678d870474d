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
from urllib.parse import parse_qs

from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer

from ..exceptions import AccessDenied

__all__ = ["InvitationIdentityProvider", "BoundedKernelManager", "token_from_query", "refusal_html",
           "APP_FORM_ENV", "REFUSAL_TITLE"]

#: environment variable naming the app being served (``survey`` or ``records``)
APP_FORM_ENV = "PA_APP_FORM"
REFUSAL_TITLE = "This link does not open the form"

_REASONS = {
    "missing": "This page opens only from your personal invitation link.",
    "unknown": "The link is not complete or not valid. Copy the whole link from your latest invitation e-mail.",
    "expired": "The link has expired.",
    "revoked": "This invitation was withdrawn.",
    "wrong_app": "This link is for another form.",
}


def refusal_html(reason: str = "unknown", *, heading: str = REFUSAL_TITLE) -> str:
    """The plain refusal text (no data): why, and what to do."""
    why = _REASONS.get(reason, _REASONS["unknown"])
    return (f'<main><h1>{html.escape(heading)}</h1><p role="alert">{html.escape(why)}</p>'
            "<p>Ask the partnership coordinator who invited you for a new link. A reminder e-mail always "
            "carries a fresh link; earlier links then stop working.</p></main>")


def token_from_query(query: str | None = None) -> str:
    """The ``token`` of a query string (default: ``$QUERY_STRING``, which Voilà sets for each page's kernel)."""
    query = os.environ.get("QUERY_STRING", "") if query is None else query
    values = parse_qs(query.lstrip("?")).get("token", [])
    return values[0] if len(values) == 1 else ""


@functools.lru_cache(maxsize=1)
def _store():
    from ..store import Store
    return Store(os.environ.get("PA_DB_URL") or None, create=False)


class RefusedHandler(web.RequestHandler):
    """What a request without a valid invitation gets (the login URL): 403 and a plain page, no data."""

    def get(self, *args, **kwargs):
        self.set_status(403)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.write(f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{REFUSAL_TITLE}</title>'
                   f'</head><body>{refusal_html()}</body></html>')

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
