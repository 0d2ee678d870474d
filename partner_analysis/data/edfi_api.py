"""Ed-Fi ODS/API JSON resources: from files, or by paged GET from an API with OAuth2 client credentials.

The resources read and the tables they fill are those of the XML interchanges (:mod:`.edfi`):

=====================================  ===================  ==============================================
resource (``/data/v3/ed-fi/...``)      table                fields
=====================================  ===================  ==============================================
``schools``                            ``schools``          schoolId, nameOfInstitution,
                                                            schoolCategories[0].schoolCategoryDescriptor
``students``                           ``students``         studentUniqueId, birthDate, birthSexDescriptor
``studentSchoolAssociations``          ``enrollment``       studentReference.studentUniqueId,
                                                            schoolReference.schoolId, entryDate,
                                                            exitWithdrawDate, entryGradeLevelDescriptor
``sessions``                           ``school_sessions``  schoolReference.schoolId, sessionName, beginDate,
                                                            endDate, totalInstructionalDays
``calendarDates``                      ``school_days``      calendarReference.schoolId, date,
                                                            calendarEvents[].calendarEventDescriptor
``studentSchoolAttendanceEvents``      ``attendance_events``  studentReference.studentUniqueId,
                                                            schoolReference.schoolId, eventDate,
                                                            attendanceEventCategoryDescriptor, eventDuration
``courseTranscripts``                  ``course_grades``    studentAcademicRecordReference.{studentUniqueId,
                                                            schoolYear, termDescriptor} (the term: the
                                                            session of that year and term),
                                                            courseReference.courseCode,
                                                            finalLetterGradeEarned (else
                                                            finalNumericGradeEarned), attemptedCredits,
                                                            earnedCredits
``student*ProgramAssociations``        ``participation``    studentReference.studentUniqueId,
                                                            programReference.{programName,
                                                            programTypeDescriptor}, beginDate, endDate
=====================================  ===================  ==============================================

Files: SOURCE holds ``<resource>.json`` files, each a JSON array of resources as the API returns them.
API: SOURCE is the API's base URL; the token comes from ``{base}/oauth/token`` (OAuth2 client credentials,
HTTP Basic authentication of the client id and secret, read from the environment variables
:data:`CLIENT_ID_ENV` and :data:`CLIENT_SECRET_ENV`, never from the command line), and each resource is read
page by page from ``{base}/data/v3/ed-fi/{resource}?offset=..&limit=..`` until a page comes back short.
Plain ``http://`` is refused except to this machine (``localhost``, ``127.0.0.1``).

Problems name the file (or the resource URL), the resource's position in it (as ``row``, from 1) and the JSON
path (as ``column``).
"""
from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Mapping

from ..config import DistrictConfig
from ..exceptions import InputDataError
from .edfi import EntityReader, assemble_tables
from .edfi_map import EdfiMap
from .validate import ProblemList, TableFrame

__all__ = ["RESOURCES", "CLIENT_ID_ENV", "CLIENT_SECRET_ENV", "read_json_resources", "fetch_resources",
           "read_api_tables", "is_api_url"]

CLIENT_ID_ENV = "PA_EDFI_CLIENT_ID"
CLIENT_SECRET_ENV = "PA_EDFI_CLIENT_SECRET"
#: The resources read, in the order read.
RESOURCES = ("schools", "students", "studentSchoolAssociations", "sessions", "calendarDates",
             "studentSchoolAttendanceEvents", "courseTranscripts", "studentProgramAssociations",
             "studentCTEProgramAssociations",
             "studentSpecialEducationProgramAssociations")
DATA_PATH = "data/v3/ed-fi"
PAGE_SIZE = 500
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def is_api_url(source: str | Path) -> bool:
    return str(source).startswith(("http://", "https://"))


def _get(obj: Mapping, path: str) -> Any:
    """``a.b[0].c`` from nested dicts/lists; None when any step is missing."""
    cur: Any = obj
    for part in path.replace("]", "").split("."):
        name, _, index = part.partition("[")
        if name:
            cur = cur.get(name) if isinstance(cur, Mapping) else None
        if index and isinstance(cur, list):
            cur = cur[int(index)] if len(cur) > int(index) else None
        if cur is None:
            return None
    return None if cur == "" else (str(cur) if not isinstance(cur, (list, dict)) else cur)


_S = "studentReference.studentUniqueId"
_K = "schoolReference.schoolId"


def _add(reader: EntityReader, resource: str, item: Mapping, file: str, line: int) -> None:
    g = lambda p: _get(item, p)  # noqa: E731
    if resource == "schools":
        reader.add_school(file, line, {"school_id": "schoolId", "name": "nameOfInstitution",
                                       "level": "schoolCategories[0].schoolCategoryDescriptor"},
                          school_id=g("schoolId"), name=g("nameOfInstitution"),
                          category=g("schoolCategories[0].schoolCategoryDescriptor"))
    elif resource == "students":
        reader.add_student(file, line, {"student_id": "studentUniqueId", "birth_date": "birthDate",
                                        "gender": "birthSexDescriptor"},
                           student_id=g("studentUniqueId"), birth_date=g("birthDate"), sex=g("birthSexDescriptor"))
    elif resource == "studentSchoolAssociations":
        reader.add_enrolment(file, line, {"student_id": _S, "school_id": _K, "entry_date": "entryDate",
                                          "exit_date": "exitWithdrawDate", "grade_level": "entryGradeLevelDescriptor"},
                             student_id=g(_S), school_id=g(_K), entry_date=g("entryDate"),
                             exit_date=g("exitWithdrawDate"), grade=g("entryGradeLevelDescriptor"))
    elif resource == "sessions":
        reader.add_session(file, line, {"school_id": _K, "term_id": "sessionName", "begin_date": "beginDate",
                                        "end_date": "endDate", "instructional_days": "totalInstructionalDays"},
                           school_id=g(_K), name=g("sessionName"), begin=g("beginDate"), end=g("endDate"),
                           days=g("totalInstructionalDays"), school_year=g("schoolYearTypeReference.schoolYear"),
                           term=g("termDescriptor"))
    elif resource == "courseTranscripts":
        rec = "studentAcademicRecordReference."
        reader.add_transcript(file, line, {"student_id": rec + "studentUniqueId", "term_id": rec + "termDescriptor",
                                           "course_id": "courseReference.courseCode", "mark": "finalLetterGradeEarned",
                                           "credits_attempted": "attemptedCredits", "credits_earned": "earnedCredits"},
                              student_id=g(rec + "studentUniqueId"), school_year=g(rec + "schoolYear"),
                              term=g(rec + "termDescriptor"), course_code=g("courseReference.courseCode"),
                              letter=g("finalLetterGradeEarned"), numeric=g("finalNumericGradeEarned"),
                              attempted=g("attemptedCredits"), earned=g("earnedCredits"))
    elif resource == "calendarDates":
        events = item.get("calendarEvents") or []
        reader.add_calendar_date(file, line, {"school_id": "calendarReference.schoolId", "date": "date",
                                              "instructional": "calendarEvents[].calendarEventDescriptor"},
                                 school_id=g("calendarReference.schoolId"), date=g("date"),
                                 events=[_get(e, "calendarEventDescriptor") for e in events if isinstance(e, Mapping)])
    elif resource == "studentSchoolAttendanceEvents":
        reader.add_event(file, line, {"student_id": _S, "date": "eventDate",
                                      "status": "attendanceEventCategoryDescriptor", "fraction_absent": "eventDuration",
                                      "school_id": _K},
                         student_id=g(_S), school_id=g(_K), date=g("eventDate"),
                         category=g("attendanceEventCategoryDescriptor"), duration=g("eventDuration"))
    else:  # a student*ProgramAssociations resource
        reader.add_program_association(
            file, line, {"student_id": _S, "program_id": "programReference.programName", "start_date": "beginDate",
                         "end_date": "endDate"},
            student_id=g(_S), program_name=g("programReference.programName"),
            program_type=g("programReference.programTypeDescriptor"), begin=g("beginDate"), end=g("endDate"))


def _feed(reader: EntityReader, resource: str, items: Any, where: str) -> None:
    if not isinstance(items, list):
        raise InputDataError(f"expected a JSON array of {resource}, found {type(items).__name__}", path=where,
                             fix="Save the resource as the API returns it: a JSON array of objects")
    for i, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            reader.errors.add(InputDataError(f"item {i} of {resource} is not a JSON object", path=where, row=i,
                                             value=str(item)[:40], fix="Save the resource as the API returns it"))
            continue
        _add(reader, resource, item, where, i)


def read_json_resources(source: str | Path, emap: EdfiMap, config: DistrictConfig) -> tuple[
        dict[str, TableFrame], ProblemList, list[str]]:
    """Read ``<resource>.json`` files (module docstring) into text tables, not yet validated."""
    source = Path(source)
    by_name = {p.stem.lower(): p for p in sorted(source.glob("*.json"))} if source.is_dir() else {}
    wanted = [r for r in RESOURCES if r.lower() in by_name]
    if not wanted:
        raise InputDataError("no Ed-Fi resource file found", path=source,
                             fix=f"Save the resources as <resource>.json (e.g. {', '.join(RESOURCES[:3])}.json)")
    reader = EntityReader(emap, config, ProblemList())
    for resource in wanted:
        path = by_name[resource.lower()]
        try:
            items = json.loads(path.read_text(encoding="utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            line = getattr(err, "lineno", None)
            raise InputDataError(f"not valid JSON ({err})", path=path, row=line,
                                 fix="Save the resource again as the API returns it") from err
        _feed(reader, resource, items, str(path))
    return assemble_tables(reader, source)


# -- the API ----------------------------------------------------------------------------------------------

def _check_url(base: str) -> str:
    parts = urllib.parse.urlsplit(base)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InputDataError("not an API base URL", path=base, fix="Give the ODS/API base URL, e.g. https://host/api")
    if parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
        raise InputDataError("plain http would send the client secret and student records unencrypted", path=base,
                             fix="Use the https:// address of the ODS/API")
    return base.rstrip("/")


def _request(url: str, *, headers: Mapping[str, str], data: bytes | None = None, timeout: float = 60) -> Any:
    req = urllib.request.Request(url, data=data, headers=dict(headers), method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as err:
        hint = {401: "Check the client id and secret (environment variables "
                     f"{CLIENT_ID_ENV}, {CLIENT_SECRET_ENV})",
                403: "Ask the ODS/API administrator to grant the client read access to this resource"}
        raise InputDataError(f"the API answered HTTP {err.code} {err.reason}", path=url.split("?")[0],
                             fix=hint.get(err.code, "Check the base URL and that the ODS/API is up")) from None
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise InputDataError(f"cannot reach the API ({getattr(err, 'reason', err)})", path=url.split("?")[0],
                             fix="Check the base URL and the network") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputDataError(f"the API did not answer JSON ({err})", path=url.split("?")[0],
                             fix="Check the base URL (it should end before /data/v3)") from None


def _token(base: str, client_id: str, client_secret: str) -> str:
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    body = _request(f"{base}/oauth/token", data=b"grant_type=client_credentials",
                    headers={"Authorization": f"Basic {basic}",
                             "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
    token = body.get("access_token") if isinstance(body, Mapping) else None
    if not token:
        raise InputDataError("the API's token answer holds no access_token", path=f"{base}/oauth/token",
                             fix="Check that the URL is an Ed-Fi ODS/API")
    return str(token)


def fetch_resources(base: str, *, client_id: str | None = None, client_secret: str | None = None,
                    resources=RESOURCES, page_size: int = PAGE_SIZE,
                    on_page: Callable[[str, int], None] | None = None) -> dict[str, list]:
    """GET every resource page by page (OAuth2 client credentials); return resource -> items.

    Credentials default to the environment variables :data:`CLIENT_ID_ENV` and :data:`CLIENT_SECRET_ENV`.
    A resource the API does not have (HTTP 404) is skipped.

    Raises
    ------
    InputDataError
        Missing credentials, plain http to another machine, an HTTP error, or an answer that is not JSON.
    """
    base = _check_url(base)
    client_id = client_id or os.environ.get(CLIENT_ID_ENV)
    client_secret = client_secret or os.environ.get(CLIENT_SECRET_ENV)
    if not client_id or not client_secret:
        raise InputDataError("no API client credentials", path=base,
                             fix=f"Set the environment variables {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV}")
    headers = {"Authorization": f"Bearer {_token(base, client_id, client_secret)}", "Accept": "application/json"}
    out: dict[str, list] = {}
    for resource in resources:
        items: list = []
        offset = 0
        while True:
            url = f"{base}/{DATA_PATH}/{resource}?offset={offset}&limit={page_size}"
            try:
                page = _request(url, headers=headers)
            except InputDataError as err:
                if "HTTP 404" in err.problem:
                    break
                raise
            if not isinstance(page, list):
                raise InputDataError(f"expected a JSON array of {resource}", path=url.split("?")[0],
                                     fix="Check the base URL (it should end before /data/v3)")
            items += page
            if on_page is not None:
                on_page(resource, offset)
            if len(page) < page_size:
                break
            offset += page_size
        if items:
            out[resource] = items
    return out


def read_api_tables(base: str, emap: EdfiMap, config: DistrictConfig, **kwargs) -> tuple[
        dict[str, TableFrame], ProblemList, list[str]]:
    """Fetch the resources (:func:`fetch_resources`) and read them into text tables, not yet validated."""
    fetched = fetch_resources(base, **kwargs)
    if not fetched:
        raise InputDataError("the API returned none of the resources read", path=base,
                             fix=f"Check that the client may read {', '.join(RESOURCES[:3])} ...")
    reader = EntityReader(emap, config, ProblemList())
    base = base.rstrip("/")
    for resource in RESOURCES:
        if resource in fetched:
            _feed(reader, resource, fetched[resource], f"{base}/{DATA_PATH}/{resource}")
    return assemble_tables(reader, base)
