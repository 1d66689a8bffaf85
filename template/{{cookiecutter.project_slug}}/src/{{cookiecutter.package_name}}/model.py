"""The model's definition and the one way to score data with it (training, evaluation, tests)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from {{ cookiecutter.package_name }}.config import ConfigError


def feature_columns(data: dict[str, Any]) -> list[str]:
    """The model's inputs: the numeric then the categorical features declared in params.yaml."""
    return [*data["numeric_features"], *data["categorical_features"]]


def build_pipeline(train: dict[str, Any], data: dict[str, Any]) -> Pipeline:
    """Imputation and encoding per column role, then a seeded logistic regression (binary or not).

    Numeric: median imputation, standardisation fitted on the training split only. Categorical:
    most-frequent imputation, one-hot encoding that ignores a value unseen in training.
    """
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categorical = make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    )
    columns = ColumnTransformer(
        [
            ("numeric", numeric, list(data["numeric_features"])),
            ("categorical", categorical, list(data["categorical_features"])),
        ],
        remainder="drop",
    )
    return make_pipeline(
        columns,
        LogisticRegression(
            C=float(train["C"]), max_iter=int(train["max_iter"]), random_state=train["seed"]
        ),
    )


def class_index(classes: Any, label: Any) -> int:
    """The position of an outcome value among the model's classes, compared as text (1 == "1")."""
    names = [str(c) for c in classes]
    if str(label) not in names:
        raise ValueError(f"class {label!r} is not among the model's classes")
    return names.index(str(label))


def probabilities(model: Any, frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    """One probability column per class (in the model's class order); columns picked by name.

    Works with a scikit-learn pipeline and with the MLflow pyfunc model (returns predict_proba).
    """
    inputs = frame[features]
    proba = (
        model.predict_proba(inputs) if hasattr(model, "predict_proba") else model.predict(inputs)
    )
    return np.asarray(proba, dtype=float)


def scores(model: Any, frame: pd.DataFrame, features: list[str], column: int = 1) -> np.ndarray:
    """Probability of one class (binary: the positive class, column 1 unless told)."""
    return probabilities(model, frame, features)[:, column]


def used_types(obj: Any) -> set[str]:
    """Every type the fitted pipeline is built of, walked through its attributes and containers."""
    found: set[str] = set()
    seen: set[int] = set()
    stack = [obj]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        kind = type(item)
        found.add(f"{kind.__module__}.{kind.__qualname__}")
        if isinstance(item, np.ndarray | np.dtype) or (
            isinstance(item, type) and issubclass(item, np.generic)
        ):
            found.add("numpy.dtype")
        if isinstance(item, type):
            continue
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set):
            stack.extend(item)
        elif isinstance(item, np.ndarray) and item.dtype == object:
            stack.extend(item.ravel().tolist())
        elif hasattr(item, "__dict__"):
            stack.extend(vars(item).values())
    return found


def skops_trusted_types(pipeline: Pipeline) -> list[str]:
    """The types skops must trust to load this pipeline: only those the pipeline itself is built of.

    skops reports the types it will not load by default; each must be one the pipeline built by
    build_pipeline uses, so any estimator or encoder offered here saves and loads with no list
    edited by hand, and a type nobody put in the pipeline is refused.
    """
    import tempfile
    from pathlib import Path

    import skops.io

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.skops"
        skops.io.dump(pipeline, path)
        untrusted = set(skops.io.get_untrusted_types(file=path))
    foreign = sorted(untrusted - used_types(pipeline))
    if foreign:
        raise ConfigError(f"skops: the model holds types the pipeline does not use: {foreign}")
    return sorted(untrusted)
