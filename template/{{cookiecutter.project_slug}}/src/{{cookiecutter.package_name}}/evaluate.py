"""The evaluate stage: score the held-out test split with the saved model, once, for every consumer.

It writes reports/predictions.csv (which `samdkit evaluate` turns into metrics with confidence
intervals and acceptance verdicts) and reports/metrics.json (point estimates,
for `dvc metrics diff`). reports/ is committed and published, so predictions.csv names each case
by its row in data/prepared/test.csv, never by its id (which may be a record number), and keeps
only the subgroup labels listed in compliance/requirements.yaml (other values are left empty).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml
from sklearn.metrics import confusion_matrix, roc_auc_score

from {{ cookiecutter.package_name }}.config import load_params, require, run_cli
from {{ cookiecutter.package_name }}.model import feature_columns, scores

TEST_CSV = Path("data/prepared/test.csv")
MODEL_DIR = Path("models/model")
PREDICTIONS = Path("reports/predictions.csv")
METRICS = Path("reports/metrics.json")
RUN_FILE = Path("reports/train_run.json")
REQUIREMENTS = Path("compliance/requirements.yaml")


def expected_labels(path: Path = REQUIREMENTS) -> dict[str, set[str]]:
    """The labels each subgroup column may carry into reports/ (requirements.yaml `subgroups`)."""
    if not path.is_file():
        return {}
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    groups = doc.get("subgroups") if isinstance(doc, dict) else None
    return {
        str(g["column"]): {str(v) for v in g.get("values") or []}
        for g in groups or []
        if isinstance(g, dict) and "column" in g
    }


def point_metrics(labels: pd.Series, score: pd.Series, predicted: pd.Series) -> dict[str, float]:
    tn, fp, fn, tp = confusion_matrix(labels, predicted, labels=[0, 1]).ravel()
    return {
        "auroc": float(roc_auc_score(labels, score)),
        "sensitivity": float(tp / (tp + fn)) if tp + fn else float("nan"),
        "specificity": float(tn / (tn + fp)) if tn + fp else float("nan"),
        "n_test": int(len(labels)),
    }


def main() -> None:
    import mlflow
    import mlflow.pyfunc

    params = load_params()
    data = require(params, "data")
    threshold = float(require(params, "evaluate.threshold"))
    if not TEST_CSV.is_file():
        raise FileNotFoundError(f"{TEST_CSV}: not found (run: dvc repro prepare)")
    if not MODEL_DIR.is_dir():
        raise FileNotFoundError(f"{MODEL_DIR}: not found (run: dvc repro train)")
    test = pd.read_csv(TEST_CSV)
    model = mlflow.pyfunc.load_model(str(MODEL_DIR))
    label_col = data["label_column"]
    # the row of test.csv (1 = first data row) stands in for the id, kept in the DVC-tracked data
    predictions = pd.DataFrame({"row": range(1, len(test) + 1), "label": test[label_col]})
    predictions["score"] = scores(model, test, feature_columns(test, data))
    predictions["predicted"] = (predictions["score"] >= threshold).astype(int)
    labels = expected_labels()
    for column in data.get("subgroup_columns", []):
        values = test[column].astype(str).where(test[column].notna(), "")
        predictions[column] = values.where(values.isin(labels.get(column, set())), "")
    PREDICTIONS.parent.mkdir(parents=True, exist_ok=True)
    predictions.to_csv(PREDICTIONS, index=False)

    metrics = point_metrics(predictions["label"], predictions["score"], predictions["predicted"])
    METRICS.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if RUN_FILE.is_file():
        run = json.loads(RUN_FILE.read_text(encoding="utf-8"))
        mlflow.set_tracking_uri(run["tracking_uri"])
        with mlflow.start_run(run_id=run["run_id"]):
            mlflow.log_metrics({f"test_{k}": v for k, v in metrics.items() if k != "n_test"})
    summary = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if k != "n_test")
    print(f"evaluate: {metrics['n_test']} rows, threshold {threshold}: {summary} -> {PREDICTIONS}")


if __name__ == "__main__":
    run_cli(main)
