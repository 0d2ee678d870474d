"""Invitations: links made once and stored as hashes, resolved to an identity, refused when expired,
revoked, altered or for another app; the CLI never prints a token or hash except the new link itself."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import stat

import pytest
import sqlalchemy as sa

from partner_analysis.access import (create_from_roster, create_invitation, invitations_frame, resolve_token,
                                     response_rates, revoke)
from partner_analysis.access.tables import invitations
from partner_analysis.cli import main
from partner_analysis.exceptions import AccessDenied, InputDataError
from partner_analysis.store import Store
from partner_analysis.fit import responses

NOW = dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "records.sqlite") as s:
        s.upsert_partnership("P01", "Riverside Hospital")
        s.upsert_partnership("P02", "Metro College")
        yield s


def _hashes(store) -> list[str]:
    with store.engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.select(invitations.c.token_hash))]


def test_token_is_stored_only_as_its_sha256(store):
    made = create_invitation(store, partners="P01", role="district", email="Ana@District.org", wave="w1",
                             name="Ana Ruiz", now=NOW)
    assert len(made.token) >= 43                      # 32 random bytes, URL-safe base64
    assert _hashes(store) == [hashlib.sha256(made.token.encode()).hexdigest()]
    with store.engine.connect() as conn:
        dumped = " ".join(str(v) for row in conn.execute(sa.select(invitations)) for v in row)
    assert made.token not in dumped
    who = resolve_token(store, made.token, form="survey", now=NOW)
    assert (who.partners, who.role, who.wave, who.email, who.name) == (("P01",), "district", "w1",
                                                                        "ana@district.org", "Ana Ruiz")
    assert who.respondent == f"invitation-{made.invitation_id}" and "ana" not in who.respondent
    assert made.link("https://survey.district.org") == f"https://survey.district.org/?token={made.token}"


def test_refusals_missing_unknown_altered_expired_revoked_wrong_app(store):
    made = create_invitation(store, partners="P01", role="partner", email="x@riverside.org", wave="w1",
                             expires_days=5, now=NOW)
    altered = made.token[:-1] + ("A" if made.token[-1] != "A" else "B")
    cases = {"missing": "", "unknown": altered}
    for reason, token in cases.items():
        with pytest.raises(AccessDenied) as err:
            resolve_token(store, token, form="survey", now=NOW)
        assert err.value.reason == reason
    with pytest.raises(AccessDenied) as err:
        resolve_token(store, "x' OR '1'='1", form="survey", now=NOW)
    assert err.value.reason == "unknown"
    with pytest.raises(AccessDenied) as err:
        resolve_token(store, made.token, form="records", now=NOW)
    assert err.value.reason == "wrong_app"
    with pytest.raises(AccessDenied) as err:
        resolve_token(store, made.token, form="survey", now=NOW + dt.timedelta(days=5, seconds=1))
    assert err.value.reason == "expired"
    assert resolve_token(store, made.token, form="survey", now=NOW + dt.timedelta(days=4)).partners == ("P01",)
    assert revoke(store, made.invitation_id) is True and revoke(store, made.invitation_id) is False
    with pytest.raises(AccessDenied) as err:
        resolve_token(store, made.token, form="survey", now=NOW)
    assert err.value.reason == "revoked"


def test_identity_scope(store):
    one = create_invitation(store, partners="P01", role="partner", email="p@riverside.org", form="records")
    many = create_invitation(store, partners=["P02", "P01"], role="district", email="c@district.org",
                             form="records")
    a = resolve_token(store, one.token, form="records")
    d = resolve_token(store, many.token, form="records")
    assert a.allows("P01") and not a.allows("P02") and not a.allows(None)
    assert d.partners == ("P01", "P02")
    with pytest.raises(AccessDenied) as err:
        a.require("P02")
    assert err.value.reason == "scope"
    # only a district coordinator's records invitation may list several partnerships
    with pytest.raises(InputDataError, match="exactly one partnership"):
        create_invitation(store, partners=["P01", "P02"], role="partner", email="q@x.org", form="records")
    with pytest.raises(InputDataError, match="exactly one partnership"):
        create_invitation(store, partners=["P01", "P02"], role="district", email="q@x.org", wave="w1")


def test_one_usable_invitation_per_respondent(store):
    first = create_invitation(store, partners="P01", role="district", email="ana@district.org", wave="w1", now=NOW)
    with pytest.raises(InputDataError, match=f"already has invitation {first.invitation_id}"):
        create_invitation(store, partners="P01", role="district", email="ANA@district.org", wave="w1", now=NOW)
    # another wave, another partnership, or after revocation: a new invitation is fine
    create_invitation(store, partners="P01", role="district", email="ana@district.org", wave="w2", now=NOW)
    create_invitation(store, partners="P02", role="district", email="ana@district.org", wave="w1", now=NOW)
    revoke(store, first.invitation_id)
    create_invitation(store, partners="P01", role="district", email="ana@district.org", wave="w1", now=NOW)


def test_roster_is_all_or_nothing_and_names_the_cell(store, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("partner_id,role,email,name\nP01,partner,x@riverside.org,Xavi\nP02,staff,b@district.org,Bo\n")
    with pytest.raises(InputDataError) as err:
        create_from_roster(store, roster, wave="w1", known_partners={"P01", "P02"})
    assert (err.value.row, err.value.column, err.value.value) == (3, "role", "staff")
    assert _hashes(store) == []
    roster.write_text("partner_id,role,email\nP01,partner,x@riverside.org\nP03,district,b@district.org\n")
    with pytest.raises(InputDataError) as err:
        create_from_roster(store, roster, wave="w1", known_partners={"P01", "P02"})
    assert (err.value.row, err.value.column, err.value.value) == (3, "partner_id", "P03")
    roster.write_text("partner_id,role,email\nP01,partner,x@riverside.org\nP02,district,x@riverside.org\n")
    made = create_from_roster(store, roster, wave="w1")
    assert [m.partners for m in made] == [("P01",), ("P02",)] and len(set(m.token for m in made)) == 2


def test_cli_create_list_revoke_never_shows_a_hash(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "records.sqlite")
    with Store(db) as s:
        s.upsert_partnership("P01", "Riverside Hospital")
        s.upsert_partnership("P02", "Metro College")
    assert main(["invite", "create", "--partner", "P01", "--role", "district", "--wave", "w1", "--email",
                 "ana@district.org", "--name", "Ana Ruiz", "--db", db, "--base-url", "https://s.example.org/"]) == 0
    out = capsys.readouterr().out
    (token,) = re.findall(r"https://s\.example\.org/\?token=([A-Za-z0-9_-]+)", out)
    roster = tmp_path / "roster.csv"
    roster.write_text("partner_id,role,email,name\nP02,partner,m@metro.edu,Mo\n")
    assert main(["invite", "create", "--from", str(roster), "--wave", "w1", "--db", db]) == 0
    links = tmp_path / "invitation-links-survey-w1.csv"
    assert stat.S_IMODE(links.stat().st_mode) == 0o600 and "?token=" in links.read_text()
    roster_token = re.search(r"token=([A-Za-z0-9_-]+)", links.read_text()).group(1)
    # a second run never overwrites the links file
    assert main(["invite", "create", "--from", str(roster), "--wave", "w1", "--db", db]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["invite", "revoke", "2", "--db", db]) == 0
    capsys.readouterr()
    assert main(["invite", "list", "--db", db]) == 0
    listing = capsys.readouterr().out
    with Store(db) as s:
        hashes = _hashes(s)
    for secret in [token, roster_token, *hashes]:
        assert secret not in listing
    rows = {line.split()[0]: line for line in listing.splitlines()[1:]}
    assert "invited" in rows["1"] and "revoked" in rows["2"]
    assert main(["invite", "list", "--summary", "--db", db]) == 0
    summary = capsys.readouterr().out
    assert "P01" in summary and "P02" not in summary       # revoked invitations are not counted
    assert main(["invite", "revoke", "99", "--db", db]) == 2
    assert "no invitation 99" in capsys.readouterr().err


def test_status_and_response_rates_follow_the_answers(store):
    a = create_invitation(store, partners="P01", role="district", email="a@district.org", wave="w1", now=NOW)
    b = create_invitation(store, partners="P01", role="district", email="b@district.org", wave="w1", now=NOW)
    c = create_invitation(store, partners="P01", role="partner", email="c@riverside.org", wave="w1", now=NOW)
    create_invitation(store, partners="P02", role="partner", email="d@metro.edu", wave="w1", expires_days=1, now=NOW)
    later = NOW + dt.timedelta(days=2)
    ida = resolve_token(store, a.token, form="survey", now=NOW)
    idb = resolve_token(store, b.token, form="survey", mark_opened=False, now=NOW)
    rid = responses.open_response(store, "partner_fit", "1", "P01", "district", ida.respondent, wave="w1")
    responses.submit(store, rid, {"q1": "4"})
    responses.open_response(store, "partner_fit", "1", "P01", "district", idb.respondent, wave="w1")   # a draft
    status = invitations_frame(store, now=later).set_index("invitation_id")["status"].to_dict()
    assert status == {a.invitation_id: "submitted", b.invitation_id: "started", c.invitation_id: "invited",
                      4: "expired"}
    rates = response_rates(store, wave="w1", now=later)
    assert rates.to_dict("records") == [
        {"wave": "w1", "partner_id": "P01", "role": "district", "invited": 2, "started": 2, "submitted": 1,
         "response_rate": 0.5},
        {"wave": "w1", "partner_id": "P01", "role": "partner", "invited": 1, "started": 0, "submitted": 0,
         "response_rate": 0.0},
        {"wave": "w1", "partner_id": "P02", "role": "partner", "invited": 1, "started": 0, "submitted": 0,
         "response_rate": 0.0},
    ]


def test_invitations_on_postgresql(pg_fresh_url):
    with Store(pg_fresh_url) as store:
        store.upsert_partnership("P01", "Riverside Hospital")
        made = create_invitation(store, partners="P01", role="partner", email="x@riverside.org", wave="w1", now=NOW)
        who = resolve_token(store, made.token, form="survey", now=NOW)
        rid = responses.open_response(store, "partner_fit", "1", "P01", "partner", who.respondent, wave="w1")
        responses.submit(store, rid, {"q1": "3"})
        assert invitations_frame(store, now=NOW)["status"].tolist() == ["submitted"]
        assert response_rates(store, now=NOW)[["invited", "submitted"]].values.tolist() == [[1, 1]]
        assert revoke(store, made.invitation_id)
        with pytest.raises(AccessDenied):
            resolve_token(store, made.token, form="survey", now=NOW)


def test_an_invitation_language_goes_into_its_link_identity_and_list(store, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PA_APP_URL", raising=False)
    made = create_invitation(store, partners="P01", role="district", email="ana@district.org", wave="w1",
                             lang="es")
    link = made.link("https://survey.district.example/")
    assert link == f"https://survey.district.example/?token={made.token}&lang=es"
    assert resolve_token(store, made.token, form="survey").lang == "es"
    assert invitations_frame(store).loc[0, "lang"] == "es"
    with pytest.raises(InputDataError, match="no interface language 'de'"):
        create_invitation(store, partners="P02", role="partner", email="bo@metro.org", wave="w1", lang="de")
    # a roster's lang column, checked per cell (an empty cell: no language)
    roster = tmp_path / "roster.csv"
    roster.write_text("partner_id,role,email,name,lang\nP02,partner,bo@metro.org,Bo,es\nP02,district,c@d.org,Cy,\n")
    made = create_from_roster(store, roster, wave="w1")
    assert [m.lang for m in made] == ["es", None] and made[0].link("https://s.example/").endswith("&lang=es")
    bad = tmp_path / "bad.csv"
    bad.write_text("partner_id,role,email,name,lang\nP01,partner,x@riverside.org,Xavi,klingon\n")
    db = str(store.url)
    assert main(["invite", "create", "--from", str(bad), "--wave", "w2", "--db", db,
                 "--links-out", str(tmp_path / "links.csv")]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "row 2" in err and "lang" in err and "klingon" in err and "Traceback" not in err
    # the CLI: --lang, and the public address from district.yml's apps: when no --base-url or $PA_APP_URL
    data_dir = tmp_path / "district"
    data_dir.mkdir()
    from partner_analysis.config import DEFAULT_CONFIG_TEXT
    (data_dir / "district.yml").write_text(DEFAULT_CONFIG_TEXT + "\napps:\n  survey_url: https://encuesta.district.example/\n")
    assert main(["invite", "create", "--partner", "P01", "--role", "partner", "--wave", "w1", "--email",
                 "eva@riverside.org", "--lang", "es", "--db", db, "--data-dir", str(data_dir)]) == 0
    assert re.search(r"https://encuesta\.district\.example/\?token=[\w-]+&lang=es", capsys.readouterr().out)
    assert main(["invite", "create", "--partner", "P01", "--role", "partner", "--wave", "w1", "--email",
                 "flo@riverside.org", "--base-url", "https://other.example/", "--db", db, "--data-dir",
                 str(data_dir)]) == 0
    assert "https://other.example/?token=" in capsys.readouterr().out          # the flag overrides district.yml


def test_renew_gives_the_same_invitation_a_fresh_link(store):
    first = create_invitation(store, partners="P01", role="district", email="ana@district.org", wave="w1")
    with pytest.raises(InputDataError, match="already has invitation"):
        create_invitation(store, partners="P01", role="district", email="ana@district.org", wave="w1")
    again = create_invitation(store, partners="P01", role="district", email="ana@district.org", wave="w1",
                              renew=True, lang="es")
    assert again.invitation_id == first.invitation_id and again.token != first.token and again.lang == "es"
    with pytest.raises(AccessDenied) as err:
        resolve_token(store, first.token, form="survey")
    assert err.value.reason == "unknown"
    assert resolve_token(store, again.token, form="survey").invitation_id == first.invitation_id
    assert len(invitations_frame(store)) == 1
