"""The survey verbs, exports, the KoboToolbox/ODK import round trip, demo answers and the bundle summary."""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from partner_analysis.cli import main
from partner_analysis.exceptions import InputDataError
from partner_analysis.fit import gap_report, read_instrument, summary_for_bundle
from partner_analysis.fit.demo import write_demo_fit
from partner_analysis.fit.exchange import import_kobo, read_kobo_csv
from partner_analysis.fit.instrument import default_instrument_path
from partner_analysis.fit import responses

store_mod = pytest.importorskip("partner_analysis.store")

PARTNERS = pd.DataFrame({"partner_id": ["P01", "P02", "P03", "P04", "P05"],
                         "name": ["Hospital", "College", "Bank", "Factory", "Museum"]})


@pytest.fixture(scope="module")
def inst():
    return read_instrument()


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, inst):
    db = tmp_path_factory.mktemp("fitdb") / "records.sqlite"
    store = store_mod.Store(db)
    n = write_demo_fit(store, SimpleNamespace(tables={"partners": PARTNERS}), seed=11, instrument=inst)
    store.close() if hasattr(store, "close") else None
    return db, n


@pytest.mark.parametrize("argv", [["survey", "--help"], ["survey", "validate", "--help"],
                                  ["survey", "export", "--help"], ["survey", "import-kobo", "--help"],
                                  ["survey", "score", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_validate_verb(tmp_path, capsys):
    assert main(["survey", "validate", str(default_instrument_path()), "--write-plain", str(tmp_path / "p.xlsx")]) == 0
    out = capsys.readouterr().out
    assert "valid instrument 'partner_fit'" in out and "Data sharing (data_sharing): 3 district items" in out
    assert "languages: English (en), Español (es); default en" in out
    assert (tmp_path / "p.xlsx").is_file()
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"nope")
    assert main(["survey", "validate", str(bad)]) == 2
    assert "cannot be read as an .xlsx workbook" in capsys.readouterr().err
    assert main(["survey", "validate", str(default_instrument_path()), "--previous-version", "2099010101"]) == 2
    assert "sheet 'settings', row 2, column 'version'" in capsys.readouterr().err


def test_demo_answers(demo_db, inst):
    db, n = demo_db
    answers = responses.answers_long(store_mod.Store(db), form_id="partner_fit")
    per_side = answers.groupby(["partner_id", "wave", "role"])["response_id"].nunique()
    assert set(answers["partner_id"]) == set(PARTNERS["partner_id"])
    assert per_side.between(1, 3).all() and per_side.sum() == n
    assert set(per_side.index.get_level_values("role")) == {"district", "partner"}
    assert {"annual", "pre_partnership"} == set(answers["wave"])
    rep = gap_report(answers, inst)
    annual = rep[rep["wave"] == "annual"]
    discuss = annual[annual["gap_flag"] == "discuss"].groupby("partner_id").size()
    assert discuss.get("P02", 0) >= 2  # the "gapped" profile
    assert discuss.get("P01", 0) < discuss.get("P02", 0)  # the "aligned" one has fewer large gaps
    assert (annual.groupby("partner_id")["gap"].apply(lambda g: g.abs().mean()).idxmin()) in ("P01", "P04", "P05")
    # demo answers pass the instrument's own checks (submit used the validator); spot-check types
    values = answers.set_index("item")["value"]
    assert isinstance(values["resources_given"].iloc[0], list)


def test_summary_for_bundle(demo_db, inst):
    db, _ = demo_db
    out = summary_for_bundle(store_mod.Store(db), "P02")
    dims = out["fit_dimensions"]
    assert list(dims.columns)[:2] == ["dimension", "dimension_label"]
    for col in ("district_mean", "partner_mean", "gap", "district_band", "partner_band", "gap_flag", "n_district",
                "n_partner"):
        assert col in dims.columns
    assert len(dims) == len(inst.dimensions)
    overall = out["fit_overall"]
    assert len(overall) == 1 and overall["wave"].iloc[0] == "annual"
    big = dims.loc[dims["gap"].abs().idxmax()]
    assert overall["biggest_gap_dimension"].iloc[0] == big["dimension"]
    assert overall["biggest_gap"].iloc[0] == pytest.approx(big["gap"])
    assert len(out["fit_prompts"]) >= 2 and out["fit_prompts"]["prompt"].str.startswith("On ").all()
    pre = summary_for_bundle(store_mod.Store(db), "P02", wave="pre_partnership")
    assert pre["fit_overall"]["wave"].iloc[0] == "pre_partnership"
    empty = summary_for_bundle(store_mod.Store(db), "P99")
    assert empty["fit_dimensions"].empty and len(empty["fit_overall"]) == 1


def test_score_and_export_verbs(demo_db, tmp_path, capsys):
    db, _ = demo_db
    assert main(["survey", "score", "--db", str(db), "--partner-id", "P02", "--wave", "annual",
                 "--out", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "Discussion prompts:" in out and "[P02 annual] On " in out
    assert pd.read_csv(tmp_path / "s" / "gap_report.csv")["partner_id"].eq("P02").all()
    assert main(["survey", "export", "--db", str(db), "--out", str(tmp_path / "e")]) == 0
    long = pd.read_csv(tmp_path / "e" / "answers_long.csv", dtype=str)
    wide = pd.read_csv(tmp_path / "e" / "answers_wide.csv", dtype=str)
    scores = pd.read_csv(tmp_path / "e" / "dimension_scores.csv", dtype={"partner_id": str})
    # the shipped instrument's version (surveys/build_partner_fit_v1.py)
    assert set(long["version"]) == {read_instrument().version} and "version" in wide.columns
    assert wide["response_id"].nunique() == long["response_id"].nunique() == len(wide)
    assert len(scores) == len(wide) * 10
    # a multi-choice answer is space-separated in the CSV
    assert long[long["item"] == "resources_given"]["value"].str.contains(" ").all()


def _kobo_frame(store, inst, *, labels_for=(), lang=None):
    """Turn the store's wide answers into what KoboToolbox exports: group paths, meta columns, ';'."""
    wide = responses.answers_wide(store, form_id="partner_fit")
    group_name = {label: name for name, label in inst.groups}
    frame = pd.DataFrame({"start": "2025-10-01T09:00:00", "end": "2025-10-01T09:20:00"}, index=wide.index)
    for it in inst.items:
        if it.name not in wide.columns:
            continue
        col = f"{group_name[it.group]}/{it.name}" if it.group else it.name
        values = wide[it.name]
        if it.type == "select_multiple":
            values = values.map(lambda v: " ".join(v) if isinstance(v, list) else "")
        elif it.name in labels_for:
            values = values.map(lambda v, it=it: it.choice(v).label_in(lang) if v is not None else "")
        frame[col] = values.map(lambda v: "" if v is None else str(v))
    frame["partner_id"] = wide["partner_id"]
    frame["role"] = wide["role"]
    frame["meta/instanceID"] = "uuid:" + wide["response_id"].astype(str)
    frame["_id"] = wide["response_id"]
    frame["_uuid"] = "u-" + wide["response_id"].astype(str)
    frame["_submission_time"] = "2025-10-01T09:21:00"
    frame["__version__"] = "vABC"
    frame["_index"] = range(1, len(frame) + 1)
    return wide, frame


def test_kobo_import_round_trip(demo_db, inst, tmp_path, capsys):
    db, _ = demo_db
    source = store_mod.Store(db)
    wide, frame = _kobo_frame(source, inst, labels_for=("d_ds1", "p_ds1", "collab_level"))
    csv = tmp_path / "kobo.csv"
    frame.to_csv(csv, sep=";", index=False)
    target_db = tmp_path / "target.sqlite"
    assert main(["survey", "import-kobo", str(csv), "--db", str(target_db), "--wave", "annual"]) == 0
    assert f"imported {len(wide)} response(s)" in capsys.readouterr().out
    target = store_mod.Store(target_db)
    a = responses.answers_long(source, form_id="partner_fit")
    b = responses.answers_long(target, form_id="partner_fit")
    key = {rid: f"kobo-u-{rid}" for rid in a["response_id"]}
    a = a.assign(respondent=a["response_id"].map(key))
    cols = ["partner_id", "role", "respondent", "item"]
    left = a[cols + ["value"]].assign(value=a["value"].map(repr)).sort_values(cols).reset_index(drop=True)
    right = b[cols + ["value"]].assign(value=b["value"].map(repr)).sort_values(cols).reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right)
    assert set(b["version"]) == {inst.version}
    # the same export again creates nothing
    assert main(["survey", "import-kobo", str(csv), "--db", str(target_db)]) == 0
    assert f"imported 0 response(s); {len(wide)} already imported" in capsys.readouterr().out
    # scores are identical whichever way the answers came in (waves differ: import put all in 'annual')
    assert len(responses.answers_long(target)) == len(b)


def test_kobo_export_with_spanish_labels_reads_as_choice_names(demo_db, inst, tmp_path):
    db, _ = demo_db
    wide, frame = _kobo_frame(store_mod.Store(db), inst, labels_for=("d_ds1", "collab_level"), lang="es")
    col = next(c for c in frame.columns if c.endswith("/d_ds1"))
    assert frame[col].isin(["Muy en desacuerdo", "En desacuerdo", "Ni de acuerdo ni en desacuerdo", "De acuerdo",
                            "Muy de acuerdo", "No sé", ""]).all() and (frame[col] != "").any()
    csv = tmp_path / "kobo_es.csv"
    frame.to_csv(csv, sep=";", index=False)
    long = read_kobo_csv(csv, inst)
    got = long[long["item"] == "d_ds1"]["value"].tolist()
    assert got == [v for v in wide["d_ds1"].tolist() if v is not None]


def test_kobo_import_rejects_bad_rows_before_writing(demo_db, inst, tmp_path):
    db, _ = demo_db
    _, frame = _kobo_frame(store_mod.Store(db), inst)
    col = next(c for c in frame.columns if c.endswith("/d_ds2"))
    row = frame.index[frame[col] != ""][1]
    frame.loc[row, col] = "7"
    csv = tmp_path / "bad.csv"
    frame.to_csv(csv, index=False)
    with pytest.raises(InputDataError, match="'7' is not a choice of 'd_ds2'") as info:
        read_kobo_csv(csv, inst)
    assert info.value.row == int(row) + 2 and info.value.column == col
    target = store_mod.Store(tmp_path / "t.sqlite")
    with pytest.raises(InputDataError):
        import_kobo(target, csv, inst)
    assert responses.answers_long(target, status=None).empty
    no_role = frame.drop(columns="role")
    no_role.to_csv(csv, index=False)
    with pytest.raises(InputDataError, match="no 'role' column") as info:
        read_kobo_csv(csv, inst)
    assert info.value.row == 1 and info.value.column == "role"


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_demo_profiles_hold_for_any_seed(tmp_path, inst, seed):
    store = store_mod.Store(tmp_path / "d.sqlite")
    write_demo_fit(store, SimpleNamespace(tables={"partners": PARTNERS.iloc[:2]}), seed=seed, instrument=inst)
    rep = gap_report(responses.answers_long(store, form_id="partner_fit", wave="annual"), inst)
    discuss = rep[rep["gap_flag"] == "discuss"].groupby("partner_id").size()
    assert discuss.get("P02", 0) >= 2
    assert rep[rep["partner_id"] == "P01"]["district_mean"].mean() >= 3.8  # "aligned" partners score high


def test_kobo_split_multi_choice_columns(demo_db, inst, tmp_path):
    """Kobo can export a select_multiple as one 0/1 column per option only; the answer is rebuilt."""
    db, _ = demo_db
    wide, frame = _kobo_frame(store_mod.Store(db), inst)
    main_col = next(c for c in frame.columns if c.endswith("/resources_given"))
    for choice in inst.item("resources_given").choices:
        frame[f"{main_col}/{choice.name}"] = frame[main_col].map(lambda v, n=choice.name: int(n in v.split()))
    frame = frame.drop(columns=main_col)
    csv = tmp_path / "split.csv"
    frame.to_csv(csv, index=False)
    got = read_kobo_csv(csv, inst)
    got = got[got["item"] == "resources_given"].set_index("submission")["value"]
    expected = wide.set_index("response_id")["resources_given"]
    assert len(got) == len(expected)
    for rid, value in expected.items():
        assert sorted(got[f"u-{rid}"]) == sorted(value)
