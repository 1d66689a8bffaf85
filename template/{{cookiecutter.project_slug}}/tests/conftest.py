"""Shared, real inputs: the embedded data split as the prepare stage does, a model fit on it."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.config import load_params
from {{ cookiecutter.package_name }}.data import add_size_tertile, load_source, split
from {{ cookiecutter.package_name }}.model import build_pipeline, feature_columns


@pytest.fixture(scope="session")
def params(pytestconfig):
    return load_params(pytestconfig.rootpath / "params.yaml")


@pytest.fixture(scope="session")
def parts(params):
    frame = add_size_tertile(load_source(params["data"]["source"]))
    return split(frame, params["data"])


@pytest.fixture(scope="session")
def features(parts, params):
    return feature_columns(parts["train"], params["data"])


@pytest.fixture(scope="session")
def model(parts, params, features):
    train = parts["train"]
    return build_pipeline(params["train"]).fit(
        train[features], train[params["data"]["label_column"]]
    )
