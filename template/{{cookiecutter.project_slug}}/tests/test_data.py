"""The prepare stage keeps the test set independent, the classes and subgroups predetermined."""

from __future__ import annotations

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import ConfigError, load_params, require
from {{ cookiecutter.package_name }}.data import load_source, split


def test_train_and_test_share_no_sample(parts, data):
    id_col = data["id_column"]
    assert set(parts["train"][id_col]).isdisjoint(parts["test"][id_col])


def test_split_is_stratified_and_complete(parts, data, source):
    label = data["label_column"]
    assert len(parts["train"]) + len(parts["test"]) == len(source)
    for value in set(source[label].astype(str)):
        share = [(parts[n][label].astype(str) == value).mean() for n in ("train", "test")]
        assert abs(share[0] - share[1]) <= 1 / len(parts["test"]) + 0.01, value


def test_every_class_is_in_train_and_test(parts, data):
    classes = data["classes"] or [data["positive_label"]]
    for name in ("train", "test"):
        seen = set(parts[name][data["label_column"]].astype(str))
        assert {str(c) for c in classes} <= seen, name


def test_split_is_reproducible(parts, data, source):
    again = split(source, data)
    id_col = data["id_column"]
    assert again["test"][id_col].tolist() == parts["test"][id_col].tolist()


def test_golden_rows_come_from_test(parts, data):
    id_col = data["id_column"]
    assert len(parts["golden"]) == min(int(data["golden_rows"]), len(parts["test"]))
    assert set(parts["golden"][id_col]) <= set(parts["test"][id_col])


def test_every_expected_subgroup_value_is_in_test(parts, data, subgroups):
    for column in data["subgroup_columns"]:
        expected = {str(v) for v in subgroups.get(column, [])}
        assert expected, f"list {column}'s expected values in compliance/requirements.yaml"
        assert expected <= set(parts["test"][column].dropna().astype(str)), column


def test_duplicate_ids_are_refused(source, data):
    with pytest.raises(ValueError, match="duplicate"):
        split(pd.concat([source, source.iloc[[0]]]), data)


def test_a_column_without_a_role_is_refused(source, data):
    with pytest.raises(ValueError, match="no role"):
        split(source.assign(unlisted_column=0), data)


def test_an_unknown_label_is_refused(source, data):
    broken = source.copy()
    broken[data["label_column"]] = broken[data["label_column"]].astype(object)
    broken.iloc[0, broken.columns.get_loc(data["label_column"])] = "not-a-class"
    with pytest.raises(ValueError, match="data"):
        split(broken, data)


def test_missing_key_names_the_key(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("data:\n  seed: 1\n")
    with pytest.raises(ConfigError, match="data.source"):
        require(load_params(path), "data.source")


def test_unreadable_source_is_one_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_source(str(tmp_path / "absent.csv"))
