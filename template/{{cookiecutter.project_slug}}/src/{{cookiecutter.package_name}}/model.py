"""The model's definition and the one way to score data with it (training, evaluation, tests)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler


def feature_columns(frame: pd.DataFrame, data: dict[str, Any]) -> list[str]:
    """Every column but the id, the label, the subgroup and the excluded columns, in file order."""
    excluded = {
        data["id_column"],
        data["label_column"],
        *data.get("subgroup_columns", []),
        *(data.get("exclude_columns") or []),
    }
    return [c for c in frame.columns if c not in excluded]


def build_pipeline(train: dict[str, Any]) -> Pipeline:
    """Standardised logistic regression: simple, calibrated, explainable; seeded for determinism."""
    return make_pipeline(
        StandardScaler(),
        LogisticRegression(
            C=float(train["C"]), max_iter=int(train["max_iter"]), random_state=train["seed"]
        ),
    )


def scores(model: Any, frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    """Probability of the positive class; columns are picked by name, in any order.

    Works with a scikit-learn pipeline and with the MLflow pyfunc model (returns predict_proba).
    """
    inputs = frame[features]
    proba = (
        model.predict_proba(inputs) if hasattr(model, "predict_proba") else model.predict(inputs)
    )
    return np.asarray(proba, dtype=float)[:, 1]
