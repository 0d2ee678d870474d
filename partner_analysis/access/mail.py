"""E-mail out: SMTP settings from a URL, messages, and a dry run that writes ``.eml`` files instead.

The server is given as a URL (``--smtp``, else ``$PA_SMTP_URL``, else ``mail.smtp`` in district.yml), and
the From address likewise (``--sender``, ``$PA_MAIL_FROM``, ``mail.sender``; see :func:`outbox_for`):

``smtp://user@mail.district.org:587``
    STARTTLS is required (the message is never sent in clear) and the login's password is read from the
    environment variable ``$PA_SMTP_PASSWORD`` (never from the command line or the URL);
``smtps://user@mail.district.org:465``
    TLS from the first byte;
``smtp://127.0.0.1:1025``
    a server on this machine (a relay, or a test server): STARTTLS when it offers it.

Certificates are checked with the system's trust store (:func:`ssl.create_default_context`). Built on the
standard library's :mod:`smtplib` and :mod:`email`.
"""
from __future__ import annotations

import ipaddress
import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol, Sequence
from urllib.parse import unquote, urlsplit

from .._io import open_private
from ..exceptions import ConfigError, MailError

__all__ = ["SmtpSettings", "smtp_settings", "make_message", "Outbox", "SmtpOutbox", "FolderOutbox",
           "PASSWORD_ENV", "SMTP_URL_ENV", "FROM_ENV", "district_config", "resolve_sender", "outbox_for"]

#: environment variable holding the SMTP password
PASSWORD_ENV = "PA_SMTP_PASSWORD"
#: environment variable holding the SMTP URL when ``--smtp`` is not given
SMTP_URL_ENV = "PA_SMTP_URL"
#: environment variable holding the sender address when ``--sender`` is not given
FROM_ENV = "PA_MAIL_FROM"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how mail is sent (see the module docstring for the URL forms).

    Attributes
    ----------
    host : str
    port : int
    username : str or None
    implicit_tls : bool
        ``smtps://``: TLS from the start.
    password_env : str
        Environment variable holding the password (read when sending).
    timeout : float
        Seconds to wait for the server.
    """

    host: str
    port: int
    username: str | None = None
    implicit_tls: bool = False
    password_env: str = PASSWORD_ENV
    timeout: float = 30.0

    @property
    def loopback(self) -> bool:
        return _is_loopback(self.host)

    def describe(self) -> str:
        user = f"{self.username}@" if self.username else ""
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{user}{self.host}:{self.port}"


def district_config(data_dir: str | os.PathLike | None):
    """The DATA_DIR's ``district.yml`` as a :class:`~partner_analysis.config.DistrictConfig`, or None when
    there is no DATA_DIR or it holds no district.yml (then only flags and the environment count)."""
    if not data_dir or not (Path(data_dir) / "district.yml").is_file():
        return None
    from ..config import load_config
    return load_config(Path(data_dir) / "district.yml")


def resolve_sender(sender: str | None = None, *, config=None, flag: str = "--sender") -> str:
    """The From address: ``sender`` (a flag), else ``$PA_MAIL_FROM``, else ``mail.sender`` of ``config``.

    Raises
    ------
    ConfigError
        None of them gives an address.
    """
    found = sender or os.environ.get(FROM_ENV, "") or (config.mail.sender if config is not None else None) or ""
    if "@" not in found:
        raise ConfigError("no sender address", key="mail.sender",
                          fix=f"Pass {flag} partnerships@district.org, set ${FROM_ENV}, or write "
                              "mail: {sender: partnerships@district.org} in district.yml")
    return found


def outbox_for(*, smtp: str | None = None, sender: str | None = None, dry_run: str | os.PathLike | None = None,
               data_dir: str | os.PathLike | None = None) -> tuple[str, "Outbox"]:
    """``(sender, outbox)`` for a command that mails (``invite remind``, ``reports --deliver``).

    Each setting is taken from the first place that has it: the command's flag (``smtp``, ``sender``), the
    environment (``$PA_SMTP_URL``, ``$PA_MAIL_FROM``), the DATA_DIR's district.yml (``mail.smtp``,
    ``mail.sender``). The password only ever comes from ``$PA_SMTP_PASSWORD``. With ``dry_run`` (a folder)
    the messages are written there instead and no server is needed.

    Raises
    ------
    ConfigError
        No sender, no SMTP server (without ``dry_run``), or a bad URL; raised before anything is sent.
    """
    config = district_config(data_dir)
    found_sender = resolve_sender(sender, config=config)
    if dry_run:
        return found_sender, FolderOutbox(dry_run)
    url = smtp or os.environ.get(SMTP_URL_ENV, "") or (config.mail.smtp if config is not None else None)
    return found_sender, SmtpOutbox(smtp_settings(url))


def smtp_settings(url: str | None = None, *, password_env: str = PASSWORD_ENV) -> SmtpSettings:
    """Parse an SMTP URL (``url`` or ``$PA_SMTP_URL``).

    Raises
    ------
    ConfigError
        No URL, another scheme, a password inside the URL, or no host.
    """
    url = url or os.environ.get(SMTP_URL_ENV, "")
    if not url:
        raise ConfigError("no SMTP server given", key="mail.smtp",
                          fix=f"Pass --smtp smtp://user@host:587, set ${SMTP_URL_ENV}, or write mail: {{smtp: "
                              "smtp://user@host:587}} in district.yml; or use a dry run to write the messages to "
                              "a folder")
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ConfigError(f"the SMTP URL must start with smtp:// or smtps://, found {parts.scheme or url!r}",
                          key="smtp")
    if parts.password is not None:
        raise ConfigError("the SMTP URL holds a password", key="smtp",
                          fix=f"Remove it from the URL and put it in the environment variable ${password_env}")
    if not parts.hostname:
        raise ConfigError(f"the SMTP URL {url!r} names no host", key="smtp")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 587)
    except ValueError as err:
        raise ConfigError(f"the SMTP URL's port is not a number: {err}", key="smtp") from None
    return SmtpSettings(parts.hostname, port, unquote(parts.username) if parts.username else None,
                        parts.scheme == "smtps", password_env)


def make_message(*, sender: str, to: str, subject: str, body: str,
                 attachments: Sequence[tuple[str, bytes, str]] = ()) -> EmailMessage:
    """A plain-text message; ``attachments`` are ``(filename, bytes, mime type)``."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(body)
    for filename, data, mime in attachments:
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
    return msg


class Outbox(Protocol):
    """Where messages go: :class:`SmtpOutbox` sends them, :class:`FolderOutbox` writes them."""

    def send(self, msg: EmailMessage, *, name: str) -> str: ...

    def close(self) -> None: ...


class SmtpOutbox:
    """Send through an SMTP server (one connection, opened on the first message).

    Raises :class:`MailError` when the server cannot be reached, refuses TLS, the login or a recipient.
    """

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        try:
            if s.implicit_tls:
                conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            conn.ehlo()
            if not s.implicit_tls:
                if conn.has_extn("starttls"):
                    conn.starttls(context=context)
                    conn.ehlo()
                elif not s.loopback:
                    conn.quit()
                    raise MailError(f"the SMTP server {s.describe()} does not offer STARTTLS; mail would travel "
                                    "unencrypted, so nothing was sent. Use the server's submission port (587) "
                                    "or smtps:// (465)")
            if s.username:
                password = os.environ.get(s.password_env)
                if not password:
                    conn.quit()
                    raise MailError(f"the SMTP login {s.username} needs a password in the environment variable "
                                    f"${s.password_env}; nothing was sent")
                conn.login(s.username, password)
        except MailError:
            raise
        except (OSError, smtplib.SMTPException, ssl.SSLError) as err:
            raise MailError(f"could not reach or log in to the SMTP server {s.describe()}: {err}; nothing more "
                            "was sent") from err
        return conn

    def send(self, msg: EmailMessage, *, name: str = "") -> str:
        if self._conn is None:
            self._conn = self._connect()
        try:
            refused = self._conn.send_message(msg)
        except (OSError, smtplib.SMTPException) as err:
            raise MailError(f"the SMTP server {self.settings.describe()} did not take the message to "
                            f"{msg['To']}: {err}") from err
        if refused:
            raise MailError(f"the SMTP server refused {', '.join(refused)}")
        return msg["To"]

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._conn = None


class FolderOutbox:
    """Write each message as ``NAME.eml`` into a folder (a dry run), readable by its owner only."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.written: list[Path] = []

    def send(self, msg: EmailMessage, *, name: str) -> str:
        path = self.folder / f"{name}.eml"
        fd = open_private(path)
        with os.fdopen(fd, "wb") as out:
            out.write(msg.as_bytes())
        self.written.append(path)
        return str(path)

    def close(self) -> None:
        pass
