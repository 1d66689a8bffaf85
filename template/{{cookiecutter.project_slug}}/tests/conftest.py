"""Shared, real inputs: the configured data split as the prepare stage does, a model fit on it.

Every column name, class and subgroup comes from params.yaml and compliance/requirements.yaml, so
these tests run unchanged on any data that satisfies the settings.
"""

from __future__ import annotations

import pytest
import yaml

from {{ cookiecutter.package_name }}.config import data_settings, load_params
from {{ cookiecutter.package_name }}.data import load_source, split
from {{ cookiecutter.package_name }}.model import build_pipeline, feature_columns


@pytest.fixture(scope="session")
def params(pytestconfig):
    return load_params(pytestconfig.rootpath / "params.yaml")


@pytest.fixture(scope="session")
def data(params):
    return data_settings(params)


@pytest.fixture(scope="session")
def source(data, pytestconfig):
    source = str(data["source"])
    path = pytestconfig.rootpath / source
    return load_source(str(path) if path.is_file() else source)


@pytest.fixture(scope="session")
def parts(source, data):
    return split(source, data)


@pytest.fixture(scope="session")
def features(data):
    return feature_columns(data)


@pytest.fixture(scope="session")
def subgroups(pytestconfig):
    """The predetermined subgroups and their expected values (compliance/requirements.yaml)."""
    doc = yaml.safe_load((pytestconfig.rootpath / "compliance/requirements.yaml").read_text())
    return {g["column"]: list(g.get("values") or []) for g in (doc or {}).get("subgroups") or []}


@pytest.fixture(scope="session")
def model(parts, params, data, features):
    train = parts["train"]
    return build_pipeline(params["train"], data).fit(train[features], train[data["label_column"]])
