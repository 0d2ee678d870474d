"""add_partners: a generated district widened to many partners stays a valid district."""
from __future__ import annotations

import shutil

import pandas as pd
import pytest

from partner_analysis.data.dataset import read_dataset
from partner_analysis.data.load import validate_dataset
from partner_analysis.data.synth_partners import add_partners
from partner_analysis.exceptions import ConfigError


def test_widened_district_is_valid_and_new_partners_draw_on_demo_programmes(demo_dir, tmp_path):
    data = tmp_path / "d"
    shutil.copytree(demo_dir, data)
    before = read_dataset(data)
    store = sorted(p.relative_to(data) for p in (data / "records").rglob("*")) if (data / "records").exists() else []
    add_partners(data, partners=30, seed=3)
    assert validate_dataset(data).rows["partners"] == 30
    after = read_dataset(data)
    new = after["partners"][~after["partners"]["partner_id"].isin(before["partners"]["partner_id"])]
    assert len(new) == 30 - len(before["partners"]) and new["partner_id"].is_unique
    progs = after["programs"].set_index("program_id")
    part = after["participation"]
    old_part = before["participation"].merge(before["programs"][["program_id", "type"]], on="program_id")
    for pid in new["partner_id"].astype(str):
        mine = progs[progs["partner_id"].astype(str) == pid]
        assert len(mine) == 1
        students = set(part.loc[part["program_id"].astype(str) == mine.index[0], "student_id"].astype(str))
        # participants come from a demo programme of the same type
        pool = set(old_part.loc[old_part["type"].astype(str) == str(mine["type"].iloc[0]), "student_id"].astype(str))
        assert students <= pool
    pd.testing.assert_frame_equal(after["students"], before["students"])
    if store:
        assert sorted(p.relative_to(data) for p in (data / "records").rglob("*")) == store
    with pytest.raises(ConfigError):
        add_partners(data, partners=5)
