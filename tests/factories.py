"""Small real inputs shared by unit tests: the breast-cancer split and an MLflow (skops) model.

They follow docs/conventions.md, so a command tested here behaves the same on a generated project.
"""

from __future__ import annotations

import re
from pathlib import Path

FEATURE_LIMIT = 30


def snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def breast_cancer_frame():
    """The bundled scikit-learn dataset in the generated project's column layout (label 1 = malignant)."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    frame = pd.DataFrame(bunch.data, columns=[snake(n) for n in bunch.feature_names])
    frame.insert(0, "sample_id", [f"BC-{i + 1:04d}" for i in range(len(frame))])
    frame["size_tertile"] = pd.qcut(
        frame["mean_radius"], 3, labels=["small", "medium", "large"]
    ).astype(str)
    frame["label"] = (bunch.target == 0).astype(int)
    return frame


def write_split(directory: Path, seed: int = 42, golden_rows: int = 50) -> dict[str, Path]:
    """Write train.csv, test.csv and golden.csv like the generated project's prepare stage."""
    from sklearn.model_selection import train_test_split

    frame = breast_cancer_frame()
    train, test = train_test_split(frame, test_size=0.3, random_state=seed, stratify=frame["label"])
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / f"{name}.csv" for name in ("train", "test", "golden")}
    train.to_csv(paths["train"], index=False)
    test.to_csv(paths["test"], index=False)
    test.head(golden_rows).to_csv(paths["golden"], index=False)
    return paths


def feature_columns(frame) -> list[str]:
    return [c for c in frame.columns if c not in ("sample_id", "size_tertile", "label")]


def save_model(directory: Path, train_csv: Path, C: float = 1.0) -> Path:
    """Fit the default pipeline and save it as an MLflow model with skops serialisation."""
    import mlflow.sklearn
    import pandas as pd
    import sklearn
    import skops
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = pd.read_csv(train_csv)
    features = feature_columns(train)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000, random_state=0))
    model.fit(train[features], train["label"])
    mlflow.sklearn.save_model(
        model,
        str(directory),
        serialization_format="skops",
        pyfunc_predict_fn="predict_proba",
        # an explicit signature and requirements skip MLflow's slow inference subprocess
        signature=infer_signature(
            train[features].head(2), model.predict_proba(train[features].head(2))
        ),
        pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"skops=={skops.__version__}"],
    )
    return directory


def write_predictions(folder: Path, threshold: float = 0.5) -> Path:
    """reports/predictions.csv of the default model on the test split (sample_id, label, score, ...)."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    paths = write_split(folder)
    train, test = pd.read_csv(paths["train"]), pd.read_csv(paths["test"])
    features = feature_columns(train)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=0))
    model.fit(train[features], train["label"])
    out = test[["sample_id", "label", "size_tertile"]].copy()
    out["score"] = model.predict_proba(test[features])[:, 1]
    out["predicted"] = (out["score"] >= threshold).astype(int)
    path = folder / "predictions.csv"
    out[["sample_id", "label", "score", "predicted", "size_tertile"]].to_csv(path, index=False)
    return path
