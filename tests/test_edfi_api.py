"""Ed-Fi ODS/API JSON resources: from files, and by paged GET with OAuth2 client credentials from a small
local fake ODS/API (stdlib http.server on 127.0.0.1, started by the test; no network)."""
from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from cli_process import run_cli

from partner_analysis.data.edfi_api import fetch_resources
from partner_analysis.exceptions import InputDataError

ROOT = Path(__file__).resolve().parents[1]
D = "uri://ed-fi.org/"

DISTRICT = """district: {id: "0600002", name: Test}
school_year: "2025-26"
terms:
  - {id: "T1", school_year: "2025-26", start: 2025-09-01, end: 2025-09-12}
schools:
  - {school_id: "100", name: One School}
"""
MAP = """config: district.yml
partners: [{partner_id: P1, name: Partner One}]
programs:
  - {program_id: P1-A, partner_id: P1, name: Robotics, type: mentoring, edfi_program: Robotics Club}
"""


def _ref(sid):
    return {"studentUniqueId": sid, "link": {"rel": "Student", "href": f"/ed-fi/students/{sid}"}}


def _event(sid, day, category, duration=None):
    item = {"id": f"{sid}{day}{category}", "studentReference": _ref(sid), "schoolReference": {"schoolId": 100},
            "sessionReference": {"schoolId": 100, "schoolYear": 2026, "sessionName": "Fall"}, "eventDate": day,
            "attendanceEventCategoryDescriptor": f"{D}AttendanceEventCategoryDescriptor#{category}"}
    if duration is not None:
        item["eventDuration"] = duration
    return item


RESOURCES = {
    "schools": [{"schoolId": 100, "nameOfInstitution": "One School",
                 "schoolCategories": [{"schoolCategoryDescriptor": f"{D}SchoolCategoryDescriptor#High School"}]}],
    "students": [{"studentUniqueId": s, "birthDate": f"2010-01-0{i + 1}"} for i, s in enumerate(["0001", "0002"])],
    "studentSchoolAssociations": [
        {"studentReference": _ref("0001"), "schoolReference": {"schoolId": 100}, "entryDate": "2025-09-01",
         "entryGradeLevelDescriptor": f"{D}GradeLevelDescriptor#Tenth grade"},
        {"studentReference": _ref("0002"), "schoolReference": {"schoolId": 100}, "entryDate": "2025-09-08",
         "entryGradeLevelDescriptor": f"{D}GradeLevelDescriptor#Tenth grade"}],
    "sessions": [{"schoolReference": {"schoolId": 100}, "schoolYearTypeReference": {"schoolYear": 2026},
                  "sessionName": "Fall", "beginDate": "2025-09-01", "endDate": "2025-09-12",
                  "termDescriptor": f"{D}TermDescriptor#Fall Semester", "totalInstructionalDays": 10}],
    "studentSchoolAttendanceEvents": [
        _event("0001", "2025-09-02", "Excused Absence", 1), _event("0001", "2025-09-02", "Partial"),
        _event("0001", "2025-09-03", "Partial", 0.5), _event("0002", "2025-09-09", "Tardy")],
    "courseTranscripts": [
        {"studentAcademicRecordReference": {"studentUniqueId": "0001", "schoolYear": 2026, "educationOrganizationId": 100,
                                            "termDescriptor": f"{D}TermDescriptor#Fall Semester"},
         "courseReference": {"courseCode": "ALG1", "educationOrganizationId": 100}, "finalLetterGradeEarned": "B",
         "attemptedCredits": 1.0, "earnedCredits": 1.0}],
    "studentProgramAssociations": [
        {"studentReference": _ref("0002"), "beginDate": "2025-09-08",
         "programReference": {"educationOrganizationId": 1, "programName": "Robotics Club",
                              "programTypeDescriptor": f"{D}ProgramTypeDescriptor#Support"}}],
}


class FakeOdsApi:
    """An ODS/API double: POST /oauth/token (client credentials, HTTP Basic), GET /data/v3/ed-fi/<resource>
    with offset/limit paging and a bearer token; records the requests it served."""

    def __init__(self, resources, client_id="district-app", secret="s3cret"):
        self.resources, self.requests = resources, []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode()
                want = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
                api.requests.append(("POST", self.path))
                if self.path != "/oauth/token" or "grant_type=client_credentials" not in body:
                    return self._send(400, {"error": "invalid_request"})
                if self.headers.get("Authorization") != want:
                    return self._send(401, {"error": "invalid_client"})
                return self._send(200, {"access_token": "tok-123", "token_type": "bearer", "expires_in": 1800})

            def do_GET(self):
                url = urlsplit(self.path)
                api.requests.append(("GET", self.path))
                if self.headers.get("Authorization") != "Bearer tok-123":
                    return self._send(401, {"message": "Authorization denied."})
                prefix = "/data/v3/ed-fi/"
                name = url.path[len(prefix):] if url.path.startswith(prefix) else None
                if name not in api.resources:
                    return self._send(404, {"message": "not found"})
                q = parse_qs(url.query)
                offset, limit = int(q.get("offset", ["0"])[0]), int(q.get("limit", ["25"])[0])
                return self._send(200, api.resources[name][offset:offset + limit])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _cli(*args, env=None):
    return run_cli(*args, env=env)


@pytest.fixture
def mapdir(tmp_path) -> Path:
    d = tmp_path / "map"
    d.mkdir()
    (d / "district.yml").write_text(DISTRICT)
    (d / "edfi.yml").write_text(MAP)
    return d


def _check(out: Path):
    terms = pd.read_parquet(out / "attendance_terms.parquet").set_index("student_id")
    # 0001: 10 days; 09-02 excused + partial count once, 09-03 half a day. 0002: from 09-08, 10 * 5/10 = 5 days
    assert terms.loc["0001", ["days_enrolled", "days_absent"]].tolist() == [10.0, 1.5]
    assert terms.loc["0002", ["days_enrolled", "days_absent"]].tolist() == [5.0, 0.0]
    assert pd.read_parquet(out / "participation.parquet")["program_id"].tolist() == ["P1-A"]
    assert pd.read_parquet(out / "students.parquet").set_index("student_id").loc["0001", "grade_level"] == 10
    cg = pd.read_parquet(out / "course_grades.parquet")
    assert cg[["student_id", "term_id", "course_id", "mark"]].values.tolist() == [["0001", "T1", "ALG1", "B"]]


def test_json_resource_files_import_like_the_interchanges(mapdir, tmp_path):
    src = tmp_path / "json"
    src.mkdir()
    for name, items in RESOURCES.items():
        (src / f"{name}.json").write_text(json.dumps(items))
    res = _cli("import-edfi", src, "--map", mapdir / "edfi.yml", "--out", tmp_path / "DATA")
    assert res.returncode == 0, res.stderr
    _check(tmp_path / "DATA")


def test_paged_get_with_client_credentials_from_a_local_api(mapdir, tmp_path):
    with FakeOdsApi(RESOURCES) as api:
        env = {"PA_EDFI_CLIENT_ID": "district-app", "PA_EDFI_CLIENT_SECRET": "s3cret"}
        res = _cli("import-edfi", api.url, "--map", mapdir / "edfi.yml", "--out", tmp_path / "DATA", env=env)
        assert res.returncode == 0, res.stderr
        _check(tmp_path / "DATA")
        assert ("POST", "/oauth/token") in api.requests
        assert "s3cret" not in res.stdout + res.stderr
        # paging: 4 events in pages of 3 -> offset 0 and 3, then stop on the short page
        api.requests.clear()
        got = fetch_resources(api.url, client_id="district-app", client_secret="s3cret", page_size=3,
                              resources=("studentSchoolAttendanceEvents",))
        assert len(got["studentSchoolAttendanceEvents"]) == 4
        gets = [p for m, p in api.requests if m == "GET"]
        assert [("offset=0" in p, "offset=3" in p) for p in gets] == [(True, False), (False, True)]


def test_wrong_secret_exits_2_naming_the_fix_and_writes_nothing(mapdir, tmp_path):
    with FakeOdsApi(RESOURCES) as api:
        env = {"PA_EDFI_CLIENT_ID": "district-app", "PA_EDFI_CLIENT_SECRET": "wrong"}
        res = _cli("import-edfi", api.url, "--map", mapdir / "edfi.yml", "--out", tmp_path / "DATA", env=env)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "HTTP 401" in res.stderr and "PA_EDFI_CLIENT_SECRET" in res.stderr
    assert not (tmp_path / "DATA").exists()


def test_plain_http_to_another_machine_is_refused():
    with pytest.raises(InputDataError, match="unencrypted"):
        fetch_resources("http://ods.example.org/api", client_id="a", client_secret="b")
