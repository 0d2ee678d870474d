"""Duplicate handling: exact repeats, key conflicts, possible duplicates by identifying attributes."""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from partner_analysis.data.dedupe import (default_min_identity, drop_exact_duplicates, key_conflicts,
                                          possible_duplicates)

IDENTITY = ["school_id", "grade_level", "birth_date", "gender"]


def _students(rows):
    return pd.DataFrame(rows, columns=["student_id", *IDENTITY, "_row"])


def test_exact_duplicates_ignore_provenance_and_keep_first():
    f = _students([["01", "A", 9, "2010-01-01", "F", 2], ["01", "A", 9, "2010-01-01", "F", 3],
                   ["02", "A", 9, "2010-01-01", "F", 4], ["01", "A", 9, "2010-01-01", "F", 5]])
    out, n = drop_exact_duplicates(f)
    assert n == 2
    assert out["_row"].tolist() == [2, 4]
    assert f.shape == (4, 6), "the input frame is not modified"


def test_key_conflicts_name_both_rows_and_the_differing_columns():
    f = _students([["01", "A", 9, "2010-01-01", "F", 2], ["02", "A", 9, None, "F", 3],
                   ["01", "A", 10, "2010-01-01", "F", 4], ["02", "B", 9, None, "F", 5], ["03", "A", 9, None, "M", 6]])
    c = key_conflicts(f, ["student_id"])
    assert c.to_dict("records") == [
        {"position": 2, "first_position": 0, "differs": "grade_level"},
        {"position": 3, "first_position": 1, "differs": "school_id"}]


def test_key_conflicts_ignore_missing_keys():
    f = _students([[None, "A", 9, None, "F", 2], [None, "B", 9, None, "F", 3]])
    assert key_conflicts(f, ["student_id"]).empty


def test_possible_duplicates_groups_different_ids_only():
    f = _students([
        ["01", "A", 9, "2010-01-01", "F", 2],
        ["02", "A", 9, "2010-01-01", "F", 3],   # looks like 01
        ["03", "A", 9, "2010-01-02", "F", 4],
        ["04", "B", 11, None, "M", 5],
        ["05", "B", 11, None, "M", 6],          # looks like 04 (3 of 4 attributes known: enough)
        ["06", "C", 12, None, None, 7],
        ["07", "C", 12, None, None, 8],         # only 2 of 4 known: not compared
    ])
    found = possible_duplicates(f, id_column="student_id", identity=IDENTITY)
    assert found.groupby("group")["student_id"].apply(list).tolist() == [["01", "02"], ["04", "05"]]
    assert found["group_size"].tolist() == [2, 2, 2, 2]
    assert found["_row"].tolist() == [2, 3, 5, 6]
    strict = possible_duplicates(f, id_column="student_id", identity=IDENTITY, min_identity=4)
    assert strict["student_id"].tolist() == ["01", "02"]


def test_default_min_identity():
    # two thirds of the identity columns, at least three (or all when fewer)
    assert [default_min_identity(k) for k in (1, 2, 3, 4, 6, 8, 13)] == [1, 2, 3, 3, 4, 6, 9]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.sampled_from("AB"), st.integers(9, 10), st.sampled_from("FM")),
                min_size=1, max_size=60), st.randoms(use_true_random=False))
def test_possible_duplicates_match_an_independent_groupby_and_ignore_row_order(rows, rnd):
    f = pd.DataFrame(rows, columns=["student_id", "school_id", "grade_level", "gender"])
    f["student_id"] = f["student_id"].map(lambda i: f"{i:04d}")
    ident = ["school_id", "grade_level", "gender"]
    found = possible_duplicates(f, id_column="student_id", identity=ident)
    # oracle: attribute combinations shared by more than one distinct ID
    n_ids = f.groupby(ident)["student_id"].nunique()
    expected = f.merge(n_ids[n_ids > 1].rename("n").reset_index(), on=ident)
    assert len(found) == len(expected)
    assert (found["group"].max() if len(found) else 0) == int((n_ids > 1).sum())
    order = list(range(len(f)))
    rnd.shuffle(order)
    shuffled = possible_duplicates(f.iloc[order].reset_index(drop=True), id_column="student_id", identity=ident)
    assert sorted(map(tuple, shuffled[["student_id", *ident]].to_numpy().tolist())) == \
        sorted(map(tuple, found[["student_id", *ident]].to_numpy().tolist()))


def test_possible_duplicates_vectorised_on_many_rows(rng):
    n = 200_000
    f = pd.DataFrame({"student_id": np.char.zfill(np.arange(n).astype(str), 6),
                      "school_id": rng.choice(["0101", "0102"], n),
                      "grade_level": rng.integers(9, 13, n),
                      "birth_date": pd.to_datetime("2008-01-01") + pd.to_timedelta(rng.integers(0, 1460, n), "D"),
                      "gender": rng.choice(["F", "M"], n)})
    found = possible_duplicates(f, id_column="student_id", identity=IDENTITY)
    oracle = f.groupby(IDENTITY)["student_id"].transform("size")
    assert len(found) == int((oracle > 1).sum())
