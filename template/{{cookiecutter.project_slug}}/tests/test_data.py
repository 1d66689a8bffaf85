"""The prepare stage keeps the test set independent and the subgroups predetermined."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.config import ConfigError, load_params, require
from {{ cookiecutter.package_name }}.data import load_source, split


def test_train_and_test_share_no_sample(parts, params):
    id_col = params["data"]["id_column"]
    assert set(parts["train"][id_col]).isdisjoint(parts["test"][id_col])


def test_split_is_stratified_and_complete(parts, params):
    label = params["data"]["label_column"]
    total = len(parts["train"]) + len(parts["test"])
    assert total == len(load_source(params["data"]["source"]))
    prevalence = [parts[name][label].mean() for name in ("train", "test")]
    assert abs(prevalence[0] - prevalence[1]) < 0.02


def test_split_is_reproducible(parts, params):
    from {{ cookiecutter.package_name }}.data import add_size_tertile

    again = split(add_size_tertile(load_source(params["data"]["source"])), params["data"])
    assert again["test"]["sample_id"].tolist() == parts["test"]["sample_id"].tolist()


def test_golden_rows_come_from_test(parts, params):
    assert len(parts["golden"]) == params["data"]["golden_rows"]
    assert set(parts["golden"]["sample_id"]) <= set(parts["test"]["sample_id"])


def test_every_subgroup_is_represented_in_test(parts, params):
    for column in params["data"]["subgroup_columns"]:
        assert parts["test"][column].nunique() == 3


def test_duplicate_ids_are_refused(parts, params):
    import pandas as pd

    frame = parts["train"]
    with pytest.raises(ValueError, match="duplicate"):
        split(pd.concat([frame, frame.iloc[[0]]]), params["data"])


def test_missing_key_names_the_key(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("data:\n  seed: 1\n")
    with pytest.raises(ConfigError, match="data.source"):
        require(load_params(path), "data.source")


def test_unreadable_source_is_one_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_source(str(tmp_path / "absent.csv"))
