"""district.yml: the embedded default loads; every bad key gets a ConfigError naming file and key."""
from __future__ import annotations

import pickle

import pytest
import yaml

from partner_analysis.config import DEFAULT_CONFIG_TEXT, config_from_dict, load_config
from partner_analysis.exceptions import ConfigError, InputDataError, NotebookRunError


def _raw():
    return yaml.safe_load(DEFAULT_CONFIG_TEXT)


def test_default_config_loads():
    cfg = load_config()
    assert cfg.term_ids[0] == "2024-25-Q1" and len(cfg.terms) == 8
    assert all(isinstance(s, str) for s in cfg.school_ids)
    assert cfg.school_ids[0] == "0101"  # leading zero kept
    assert cfg.grade_scale.letters["A"] == 4.0


def test_term_navigation():
    cfg = load_config()
    assert cfg.previous_term("2025-26-Q1").id == "2024-25-Q4"
    assert cfg.previous_term("2024-25-Q1") is None
    assert cfg.same_term_last_year("2025-26-Q3").id == "2024-25-Q3"
    assert cfg.same_term_last_year("2024-25-Q3") is None
    assert [t.id for t in cfg.year_terms("2025-26-Q2")] == ["2025-26-Q1", "2025-26-Q2"]


def test_round_trip(tmp_path):
    cfg = load_config()
    again = load_config(cfg.dump(tmp_path / "district.yml"))
    assert again.to_dict() == cfg.to_dict()


def _mutate(path, value):
    raw = _raw()
    target = raw
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return raw


_DELETE = object()


@pytest.mark.parametrize("path, value, key", [
    pytest.param(("district",), _DELETE, "district", id="no-district"),
    pytest.param(("district", "name"), _DELETE, "district.name", id="no-name"),
    pytest.param(("terms",), [], "terms", id="empty-terms"),
    pytest.param(("terms", 0, "start"), "19/08/2024", "terms[0].start", id="bad-date"),
    pytest.param(("terms", 0, "end"), "2024-08-01", "terms[0]", id="end-before-start"),
    pytest.param(("terms", 1, "start"), "2024-10-01", "terms", id="overlap"),
    pytest.param(("schools", 0, "level"), "college", "schools[0].level", id="bad-level"),
    pytest.param(("thresholds", "chronic_absence_rate"), 10, "thresholds.chronic_absence_rate", id="rate-percent"),
    pytest.param(("privacy", "min_group_n"), 2, "privacy.min_group_n", id="k-too-small"),
    pytest.param(("grade_scale", "numeric", "pass_mark"), 200, "grade_scale.numeric.pass_mark", id="pass-off-scale"),
    pytest.param(("grade_scale", "failing_letters"), ["E"], "grade_scale.failing_letters", id="unknown-failing"),
])
def test_bad_config(tmp_path, path, value, key):
    f = tmp_path / "district.yml"
    f.write_text(yaml.safe_dump(_mutate(path, value)))
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert info.value.key == key
    assert str(f) in str(info.value)


def test_duplicate_term_ids():
    raw = _raw()
    raw["terms"][1]["id"] = raw["terms"][0]["id"]
    with pytest.raises(ConfigError, match="unique"):
        config_from_dict(raw, source="x.yml")


def test_not_yaml(tmp_path):
    f = tmp_path / "district.yml"
    f.write_text("district: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(f)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yml")


def test_unknown_term():
    with pytest.raises(ConfigError, match="unknown term '2030-Q1'"):
        load_config().term("2030-Q1")


@pytest.mark.parametrize("err", [
    InputDataError("expected an integer", path="a.csv", row=17, column="q3", value="Agree", fix="Correct it"),
    ConfigError("bad", path="d.yml", key="terms"),
    NotebookRunError("failed", notebook="t.ipynb", partner="P01", output="o.ipynb", cell_index=4),
], ids=["input", "config", "notebook"])
def test_exceptions_pickle_with_attributes(err):
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and str(back) == str(err) and back.__dict__ == err.__dict__


def test_input_error_message_names_location():
    err = InputDataError("expected an integer 1-5, found 'Agree'", path="surveys_2024.csv", row=17, column="q3",
                         value="Agree", fix="Pass mapping= to recode_likert() or correct the file")
    assert str(err) == ("surveys_2024.csv, row 17, column 'q3': expected an integer 1-5, found 'Agree'. "
                        "Pass mapping= to recode_likert() or correct the file")


def test_design_and_covariates_keys(tmp_path):
    # issue #11: district.yml chooses the impact design and its covariates
    import yaml
    from partner_analysis.config import config_from_dict, load_config
    raw = load_config().to_dict()
    cfg = config_from_dict({**raw, "design": "matched", "covariates": ["prior", "frl", "ell"]})
    assert cfg.design == "matched" and cfg.covariates == ("prior", "frl", "ell")
    again = config_from_dict(yaml.safe_load(yaml.safe_dump(cfg.to_dict())))
    assert (again.design, again.covariates) == (cfg.design, cfg.covariates)
    assert load_config().design is None  # default: adjusted when a prior-year term exists
    with pytest.raises(ConfigError, match="design"):
        config_from_dict({**raw, "design": "randomised"})
    with pytest.raises(ConfigError, match="Did you mean 'design'"):
        config_from_dict({**raw, "desing": "matched"})
    with pytest.raises(ConfigError, match=r"unknown key 'oops'"):
        config_from_dict({**raw, "district": {**raw["district"], "oops": {"id": 1}}})


def _with(extra: str):
    from partner_analysis.safeyaml import parse_yaml
    return config_from_dict(parse_yaml(DEFAULT_CONFIG_TEXT + "\n" + extra), source="district.yml")


def test_mail_and_apps_settings_are_read_and_checked():
    cfg = _with("mail:\n  smtp: smtp://surveys@mail.district.org:587\n  sender: Partnerships <p@district.org>\n"
                "apps:\n  survey_url: https://survey.district.org/\n  records_url: https://records.district.org/\n")
    assert cfg.mail.smtp == "smtp://surveys@mail.district.org:587" and cfg.mail.sender.endswith("<p@district.org>")
    assert cfg.apps.url("survey") == "https://survey.district.org/" and cfg.apps.url("records").startswith(
        "https://records.")
    assert _with("").mail.smtp is None and _with("").apps.url("survey") is None
    for extra, key, words in (
            ("mail:\n  smtp: http://mail.district.org\n", "mail.smtp", "SMTP server URL"),
            ("mail:\n  sender: nobody\n", "mail.sender", "e-mail address"),
            ("apps:\n  survey_url: http://survey.district.org/\n", "apps.survey_url", "https"),
            ("apps:\n  records_url: https://r.district.org/?token=x\n", "apps.records_url", "public address"),
            ("mail:\n  smtpp: smtp://x\n", "mail.smtpp", "unknown key")):
        with pytest.raises(ConfigError, match=words) as err:
            _with(extra)
        assert err.value.key == key
    # a local address without https is fine (make survey-app on a laptop)
    assert _with("apps:\n  survey_url: http://127.0.0.1:8866/\n").apps.survey_url == "http://127.0.0.1:8866/"


@pytest.mark.parametrize("extra", ["mail:\n  smtp: smtp://u@mail.district.org:587\n  password: hunter2\n",
                                   "mail:\n  smtp_password: hunter2\n", "smtp_password: hunter2\n",
                                   "mail:\n  smtp: smtp://u:hunter2@mail.district.org:587\n"])
def test_the_smtp_password_is_refused_in_district_yml(extra):
    with pytest.raises(ConfigError) as err:
        _with(extra)
    text = str(err.value)
    assert "PA_SMTP_PASSWORD" in text and "password" in text and "hunter2" not in text
