"""`reports … --deliver`: each partner's contacts get their own report (attachment), once, through a local SMTP
server started by the test (aiosmtpd); every message is one ledger entry naming the recipient and release."""
from __future__ import annotations

import datetime as dt
import email
import json

import pytest

from partner_analysis.cli import main
from partner_analysis.store import Store

pytest.importorskip("aiosmtpd", reason="aiosmtpd (test extra) runs the local SMTP server")

TERM = "2025-26-Q2"

pytestmark = pytest.mark.slow


def pid_name(data_dir, pid: str) -> str:
    import pandas as pd
    frame = pd.read_parquet(data_dir / "partners.parquet")
    return dict(zip(frame["partner_id"].astype(str), frame["name"].astype(str)))[pid]


def _ledger(out) -> list[dict]:
    return [json.loads(line) for line in (out / "release_ledger.jsonl").read_text().splitlines() if line.strip()]


def test_reports_deliver_sends_each_partner_its_own_report_once(demo_dir, tmp_path, smtp, capsys):
    from partner_analysis.access.delivery import deliver_reports
    from partner_analysis.access.mail import FolderOutbox, SmtpOutbox, smtp_settings
    port, inbox = smtp
    out = tmp_path / "reports"
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("partner_id,email,name,lang\nP01,exec@p01.example,Pat One,\nP01,cfo@p01.example,,\n"
                        "P02,exec@p02.example,Sam Two,es\nP03,exec@p03.example,Not This Time,\n")
    code = main(["reports", str(demo_dir), "--term", TERM, "--out", str(out), "--partner", "P01", "--partner", "P02",
                 "--workers", "2", "--no-progress", "--deliver", "--contacts", str(contacts), "--smtp",
                 f"smtp://127.0.0.1:{port}", "--sender", "reports@district.example"])
    assert code == 0, capsys.readouterr()
    assert "3 report messages sent" in capsys.readouterr().out
    by_to = {m["To"]: m for m in inbox.messages}
    assert sorted(by_to) == ["cfo@p01.example", "exec@p01.example", "exec@p02.example"]      # not P03
    for to, pid in (("exec@p01.example", "P01"), ("cfo@p01.example", "P01"), ("exec@p02.example", "P02")):
        msg = by_to[to]
        files = {part.get_filename(): part.get_payload(decode=True) for part in msg.walk() if part.get_filename()}
        assert files == {f"{pid}.html": (out / TERM / "release" / f"{pid}.html").read_bytes()}   # its own report
        assert TERM in msg["Subject"]
    body = by_to["exec@p01.example"].get_body(("plain",)).get_content()
    assert body.startswith("Dear Pat One,") and "do not forward" in body
    # a contact with a language gets the message in it (the report file is the same release)
    spanish = by_to["exec@p02.example"]
    assert spanish["Subject"] == f"Informe de la colaboración con {pid_name(demo_dir, 'P02')}, {TERM}"
    body = spanish.get_body(("plain",)).get_content()
    assert body.startswith("Estimado/a Sam Two:") and "Su informe va adjunto (P02.html)" in body
    assert "no lo reenvíe" in body and "Dear" not in body
    entries = _ledger(out)
    releases = {e["partner_id"]: e["release_id"] for e in entries if e["table"] == "release"}
    deliveries = [e for e in entries if e["table"] == "delivery"]
    assert sorted((e["partner_id"], e["recipient"], e["release_id"]) for e in deliveries) == [
        ("P01", "cfo@p01.example", releases["P01"]), ("P01", "exec@p01.example", releases["P01"]),
        ("P02", "exec@p02.example", releases["P02"])]
    assert all(e["recipients"] == [e["recipient"]] and e["via"] == "attachment" for e in deliveries)
    # delivering again sends nobody the same release twice
    names = {"P01": "P01", "P02": "P02"}
    again = deliver_reports(out, TERM, contacts={"P01": [("exec@p01.example", "Pat One")],
                                                 "P02": [("exec@p02.example", None)]},
                            sender="reports@district.example",
                            outbox=SmtpOutbox(smtp_settings(f"smtp://127.0.0.1:{port}")),
                            names=names)
    assert again == [] and len(inbox.messages) == 3 and _ledger(out) == entries
    # a dry run for a new contact writes the message and records nothing
    dry = deliver_reports(out, TERM, contacts={"P02": [("new@p02.example", None)]}, sender="reports@district.example",
                          outbox=FolderOutbox(tmp_path / "outbox"), names=names, dry_run=True,
                          link_base="https://reports.district.example/2025-26-Q2/")
    assert [d.email for d in dry] == ["new@p02.example"] and _ledger(out) == entries
    written = email.message_from_bytes((tmp_path / "outbox" / "report-P02-001.eml").read_bytes())
    assert "https://reports.district.example/2025-26-Q2/P02.html" in written.get_payload(decode=True).decode()
    # a released file changed after it was recorded is not sent
    (out / TERM / "release" / "P02.html").write_text("tampered")
    from partner_analysis.exceptions import InputDataError
    with pytest.raises(InputDataError, match="changed since it was recorded"):
        deliver_reports(out, TERM, contacts={"P02": [("other@p02.example", None)]}, sender="reports@district.example",
                        outbox=FolderOutbox(tmp_path / "outbox2"), names=names)


def test_contacts_default_to_partner_coordinators_invited_to_the_records_forms(tmp_path):
    from partner_analysis.access import create_invitation, revoke
    from partner_analysis.access.delivery import contacts_from_store
    with Store(tmp_path / "r.sqlite") as store:
        create_invitation(store, partners="P01", role="partner", email="coord@p01.example", name="Coord",
                          form="records")
        create_invitation(store, partners=["P01", "P02"], role="district", email="d@district.example",
                          form="records")                                   # district side: not a contact
        create_invitation(store, partners="P01", role="partner", email="survey@p01.example", wave="w1")  # survey
        gone = create_invitation(store, partners="P02", role="partner", email="gone@p02.example", form="records")
        revoke(store, gone.invitation_id)
        old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=60)
        create_invitation(store, partners="P02", role="partner", email="old@p02.example", form="records",
                          expires_days=30, now=old)
        assert contacts_from_store(store, ["P01", "P02"]) == {"P01": [("coord@p01.example", "Coord", None)],
                                                              "P02": []}


def test_deliver_needs_a_sender_before_the_batch_runs(demo_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PA_MAIL_FROM", raising=False)
    out = tmp_path / "reports"
    assert main(["reports", str(demo_dir), "--term", TERM, "--out", str(out), "--deliver"]) == 2
    assert "no sender address" in capsys.readouterr().err and not out.exists()


def test_deliver_takes_server_and_sender_from_district_yml(demo_dir, tmp_path, capsys, monkeypatch):
    """`reports --deliver` reads `mail:` from the DATA_DIR's district.yml, as `invite remind` does; the check runs
    before the batch, so a DATA_DIR holding only its district.yml shows which settings were found."""
    import yaml
    for name in ("PA_MAIL_FROM", "PA_SMTP_URL"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "data"
    data.mkdir()
    cfg = yaml.safe_load((demo_dir / "district.yml").read_text(encoding="utf-8"))
    (data / "district.yml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    out = tmp_path / "reports"
    assert main(["reports", str(data), "--term", TERM, "--out", str(out), "--deliver"]) == 2
    assert "no sender address" in capsys.readouterr().err               # nothing configured yet: refused
    cfg["mail"] = {"smtp": "smtp://reports@127.0.0.1:2525", "sender": "Reports <reports@district.example>"}
    (data / "district.yml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    main(["reports", str(data), "--term", TERM, "--out", str(out), "--deliver"])
    err = capsys.readouterr().err
    assert "sender" not in err and "SMTP" not in err and "smtp" not in err   # both found; the batch itself fails
