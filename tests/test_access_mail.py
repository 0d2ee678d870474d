"""Reminders against a real SMTP server started by the test (aiosmtpd on 127.0.0.1): the right people get the
right message, once; a fresh link replaces the old one; STARTTLS and login with the password from the
environment (none: nothing sent, nothing changed); a dry run writes .eml files and changes nothing."""
from __future__ import annotations

import datetime as dt
import email
import re
import stat
import subprocess

import pytest
import sqlalchemy as sa

from partner_analysis.access import create_invitation, invitations_frame, resolve_token, revoke
from partner_analysis.access.mail import smtp_settings
from partner_analysis.access.tables import invitations
from partner_analysis.cli import main
from partner_analysis.exceptions import AccessDenied, ConfigError
from partner_analysis.store import Store

aiosmtpd = pytest.importorskip("aiosmtpd", reason="aiosmtpd (test extra) runs the local SMTP server")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult  # noqa: E402

from smtp_server import Inbox, free_port  # noqa: E402
from partner_analysis.fit import responses

LINK = re.compile(r"https://survey\.district\.example/\?token=([A-Za-z0-9_-]+)")


@pytest.fixture
def wave(tmp_path):
    """A wave with one invitee in every state, and their tokens."""
    db = tmp_path / "records.sqlite"
    tokens = {}
    with Store(db) as store:
        store.upsert_partnership("P01", "Riverside Hospital")
        store.upsert_partnership("P02", "Metro College")
        for key, partner, role in (("invited", "P01", "district"), ("started", "P02", "partner"),
                                   ("submitted", "P01", "partner"), ("revoked", "P02", "district")):
            tokens[key] = create_invitation(store, partners=partner, role=role, email=f"{key}@example.org",
                                            name=key.title(), wave="w1").token
        old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=40)
        tokens["expired"] = create_invitation(store, partners="P01", role="district", email="expired@example.org",
                                              wave="w1", expires_days=30, now=old).token
        tokens["other_wave"] = create_invitation(store, partners="P01", role="district",
                                                 email="invited@example.org", wave="w0").token
        started = resolve_token(store, tokens["started"], form="survey")
        rid = responses.open_response(store, "partner_fit", "1", "P02", "partner", started.respondent, wave="w1")
        responses.save_answer(store, rid, "q1", "4")
        done = resolve_token(store, tokens["submitted"], form="survey")
        sid = responses.open_response(store, "partner_fit", "1", "P01", "partner", done.respondent, wave="w1")
        responses.submit(store, sid, {"q1": "5"})
        revoke(store, 4)
    return db, tokens


def _remind(db, port, *extra) -> int:
    return main(["invite", "remind", "--wave", "w1", "--smtp", f"smtp://127.0.0.1:{port}", "--sender",
                 "surveys@district.example", "--base-url", "https://survey.district.example/", "--db", str(db),
                 *extra])


def test_reminders_go_to_non_respondents_once_with_a_fresh_link(wave, smtp, capsys):
    db, tokens = wave
    port, inbox = smtp
    assert _remind(db, port) == 0
    out = capsys.readouterr().out
    assert "2 reminders sent" in out
    got = {m["To"]: m for m in inbox.messages}
    assert sorted(got) == ["invited@example.org", "started@example.org"]          # not submitted/expired/revoked
    for to, msg in got.items():
        assert msg["X-Envelope-To"] == to and msg["From"] == "surveys@district.example"
        body = msg.get_payload(decode=True).decode()
        (token,) = LINK.findall(body)
        with Store(db) as store:
            who = resolve_token(store, token, form="survey")
            # the old link stopped working; the new one is the same invitation
            with pytest.raises(AccessDenied) as err:
                resolve_token(store, tokens[to.split("@")[0]], form="survey")
            assert err.value.reason == "unknown"
        assert who.email == to
        partner = {"P01": "Riverside Hospital", "P02": "Metro College"}[who.partners[0]]
        assert partner in msg["Subject"] and "(w1)" in msg["Subject"]
        assert f"Dear {to.split('@')[0].title()}," in body
    # the started respondent's draft belongs to the invitation, so the fresh link finds it
    with Store(db) as store:
        started = resolve_token(store, LINK.findall(got["started@example.org"].get_payload(decode=True).decode())[0],
                                form="survey")
        assert responses.answers_long(store, partner_id="P02", status="draft")["respondent"].tolist() == [started.respondent]
        frame = invitations_frame(store).set_index("email")
    assert frame.loc["started@example.org", "reminders"] == 1
    # a second run right after sends nothing: nobody gets two messages
    assert _remind(db, port) == 0
    assert "0 reminders sent" in capsys.readouterr().out
    assert len(inbox.messages) == 2
    # ... until --min-days allows it again
    assert _remind(db, port, "--min-days", "0") == 0
    assert len(inbox.messages) == 4 and sorted(m["To"] for m in inbox.messages[2:]) == sorted(got)


def test_dry_run_writes_private_eml_files_and_changes_nothing(wave, tmp_path, capsys):
    db, tokens = wave
    with Store(db) as store, store.engine.connect() as conn:
        before = conn.execute(sa.select(invitations)).all()
    out = tmp_path / "outbox"
    assert main(["invite", "remind", "--wave", "w1", "--dry-run", str(out), "--sender", "surveys@district.example",
                 "--db", str(db)]) == 0
    files = sorted(out.glob("*.eml"))
    assert len(files) == 2 and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    msgs = [email.message_from_bytes(f.read_bytes()) for f in files]
    assert sorted(m["To"] for m in msgs) == ["invited@example.org", "started@example.org"]
    assert all("token=" not in m.get_payload(decode=True).decode() for m in msgs)
    with Store(db) as store, store.engine.connect() as conn:
        assert conn.execute(sa.select(invitations)).all() == before
        assert resolve_token(store, tokens["invited"], form="survey").email == "invited@example.org"


def _self_signed(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    return key, cert


def test_starttls_and_login_with_the_password_from_the_environment(wave, tmp_path, monkeypatch, capsys):
    import ssl
    if not __import__("shutil").which("openssl"):
        pytest.skip("openssl is needed to make the test server's certificate")
    db, tokens = wave
    key, cert = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login, auth_data.password) == (b"mailer", b"s3cret")
        logins.append((auth_data.login, ok, session.ssl is not None))
        return AuthResult(success=ok)

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=context,
                            require_starttls=True, authenticator=authenticator, auth_require_tls=True,
                            server_hostname="localhost")
    controller.start()
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))          # trust the test server's certificate
        url = f"smtp://mailer@localhost:{controller.port}"
        args = ["invite", "remind", "--wave", "w1", "--smtp", url, "--sender", "surveys@district.example",
                "--db", str(db)]
        monkeypatch.delenv("PA_SMTP_PASSWORD", raising=False)
        assert main(args) == 2                                 # no password in the environment: nothing sent
        assert "$PA_SMTP_PASSWORD" in capsys.readouterr().err and inbox.messages == []
        with Store(db) as store:                               # ... and nothing changed
            assert resolve_token(store, tokens["invited"], form="survey").email == "invited@example.org"
        monkeypatch.setenv("PA_SMTP_PASSWORD", "s3cret")
        assert main(args) == 0
        assert len(inbox.messages) == 2
        assert logins[-1] == (b"mailer", True, True)           # logged in over TLS
    finally:
        controller.stop()


def test_smtp_url_rules():
    assert smtp_settings("smtp://a%40b@mail.example.org").port == 587
    s = smtp_settings("smtps://mailer@mail.example.org")
    assert (s.host, s.port, s.username, s.implicit_tls) == ("mail.example.org", 465, "mailer", True)
    for bad, words in (("smtp://u:pw@mail.example.org", "holds a password"), ("http://mail.example.org", "smtp://"),
                       ("", "no SMTP server")):
        with pytest.raises(ConfigError, match=words):
            smtp_settings(bad)


def test_reminders_in_the_invitation_language_with_mail_settings_from_district_yml(tmp_path, smtp, capsys,
                                                                                  monkeypatch):
    """Server, sender and public address come from district.yml (no flags, no environment); each invitee gets
    one message, in their invitation's language, with a link that carries it."""
    from partner_analysis.config import DEFAULT_CONFIG_TEXT
    for var in ("PA_SMTP_URL", "PA_MAIL_FROM", "PA_APP_URL", "PA_DB_URL"):
        monkeypatch.delenv(var, raising=False)
    port, inbox = smtp
    data_dir = tmp_path / "district"
    data_dir.mkdir()
    (data_dir / "district.yml").write_text(
        DEFAULT_CONFIG_TEXT + f"\nmail:\n  smtp: smtp://127.0.0.1:{port}\n  sender: Encuestas <encuestas@district.example>\n"
        "apps:\n  survey_url: https://survey.district.example/\n")
    with Store(data_dir=data_dir) as store:
        store.upsert_partnership("P01", "Riverside Hospital")
        create_invitation(store, partners="P01", role="partner", email="eva@riverside.example", name="Eva Sol",
                          wave="w1", lang="es")
        create_invitation(store, partners="P01", role="district", email="dan@district.example", name="Dan Ray",
                          wave="w1")
    assert main(["invite", "remind", "--wave", "w1", "--data-dir", str(data_dir)]) == 0
    assert "2 reminders sent" in capsys.readouterr().out
    got = {m["To"]: m for m in inbox.messages}
    assert sorted(got) == ["dan@district.example", "eva@riverside.example"] and len(inbox.messages) == 2
    es, en = got["eva@riverside.example"], got["dan@district.example"]
    assert es["From"] == en["From"] == "Encuestas <encuestas@district.example>"
    body_es, body_en = (m.get_payload(decode=True).decode() for m in (es, en))
    assert es["Subject"] == "Recordatorio: encuesta sobre la colaboración con Riverside Hospital (w1)"
    assert body_es.startswith("Estimado/a Eva Sol:") and "personal de la organización asociada" in body_es
    assert "Funciona hasta el " in body_es and " de 20" in body_es           # a Spanish date (Babel CLDR)
    assert re.search(r"https://survey\.district\.example/\?token=[\w-]+&lang=es\r?\n", body_es)
    assert en["Subject"].startswith("Reminder: partnership fit survey") and body_en.startswith("Dear Dan Ray,")
    assert re.search(r"https://survey\.district\.example/\?token=[\w-]+\r?\n", body_en) and "lang=" not in body_en
    # the Spanish link opens the survey for that invitee
    (token,) = re.findall(r"token=([\w-]+)&lang=es", body_es)
    with Store(data_dir=data_dir) as store:
        assert resolve_token(store, token, form="survey").email == "eva@riverside.example"
    # once: a second run sends nothing; a flag overrides district.yml (a wrong server: nothing is sent)
    assert main(["invite", "remind", "--wave", "w1", "--data-dir", str(data_dir)]) == 0
    assert len(inbox.messages) == 2
    assert main(["invite", "remind", "--wave", "w1", "--data-dir", str(data_dir), "--min-days", "0",
                 "--smtp", f"smtp://127.0.0.1:{free_port()}"]) == 2
    assert "could not reach" in capsys.readouterr().err and len(inbox.messages) == 2
