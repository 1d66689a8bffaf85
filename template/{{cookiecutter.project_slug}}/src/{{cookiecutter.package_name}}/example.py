"""The template's embedded example data (params.yaml data.source "sklearn:breast_cancer").

scikit-learn's bundled Wisconsin diagnostic breast-cancer data, so a fresh project runs offline.
A project on its own data deletes this file (README, "Use your own data").
"""

from __future__ import annotations

import re

import pandas as pd


def _snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def load_embedded() -> pd.DataFrame:
    """The example's rows; label 1 = malignant; size_tertile is its predetermined subgroup."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    frame = pd.DataFrame(bunch.data, columns=[_snake(n) for n in bunch.feature_names])
    frame.insert(0, "sample_id", [f"BC-{i + 1:04d}" for i in range(len(frame))])
    tertile = pd.qcut(frame["mean_radius"], 3, labels=["small", "medium", "large"])
    frame["size_tertile"] = tertile.astype(str)
    frame["label"] = (bunch.target == 0).astype(int)
    return frame
