"""Who may open the apps: invitation links, their tokens, response tracking, reminders and delivery.

- :mod:`~partner_analysis.access.invitations`: make, revoke and resolve invitations (:class:`Identity`);
- :mod:`~partner_analysis.access.tokens`: the links' random tokens and their hashes;
- :mod:`~partner_analysis.access.tracking`: status per invitation, response rates per partnership;
- :mod:`~partner_analysis.access.mail`: SMTP settings and messages (or ``.eml`` files for a dry run);
- :mod:`~partner_analysis.access.reminders`: e-mail non-respondents a fresh link, once;
- :mod:`~partner_analysis.access.serving`: the Jupyter-server identity provider the apps run with.
"""
from __future__ import annotations

from .invitations import (Identity, NewInvitation, create_from_roster, create_invitation, invitation_link,
                          invitations_frame, resolve_token, revoke)
from .tracking import response_rates

__all__ = ["Identity", "NewInvitation", "create_invitation", "create_from_roster", "resolve_token", "revoke",
           "invitations_frame", "invitation_link", "response_rates"]
