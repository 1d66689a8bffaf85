"""The evaluate stage: score the held-out test split with the saved model, once, for every consumer.

It writes reports/predictions.csv (which `samdkit evaluate` turns into metrics with confidence
intervals and acceptance verdicts) and reports/metrics.json (point estimates,
for `dvc metrics diff`). reports/ is committed and published, so predictions.csv names each case
by its row in data/prepared/test.csv, never by its id (which may be a record number), and keeps
only the subgroup labels listed in compliance/requirements.yaml (other values are left empty).

predictions.csv contract (read by `samdkit evaluate`, which takes data.positive_label and
data.classes from params.yaml):
- `row`: the case's row in data/prepared/test.csv (1 = first data row);
- `label`: the outcome as written in the data (numbers or text);
- binary (data.classes null): `score`, the probability of data.positive_label, and `predicted`,
  1 when score >= evaluate.threshold (the positive class) else 0;
- multiclass (data.classes lists three or more): `score_<class>` per class of data.classes, in
  that order (probabilities summing to 1), and `predicted`, the most probable class's name;
- then one column per subgroup of data.subgroup_columns.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml
from sklearn.metrics import confusion_matrix, roc_auc_score

from {{ cookiecutter.package_name }}.config import (
    DataError,
    data_settings,
    load_params,
    require,
    run_cli,
)
from {{ cookiecutter.package_name }}.model import class_index, feature_columns, probabilities

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


def point_metrics(predictions: pd.DataFrame, classes: list | None, positive) -> dict[str, float]:
    """Point estimates for `dvc metrics diff`; samdkit evaluate computes the CIs and verdicts."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    labels = predictions["label"].astype(str)
    if classes is None:
        truth = (labels == str(positive)).astype(int)
        tn, fp, fn, tp = confusion_matrix(truth, predictions["predicted"], labels=[0, 1]).ravel()
        return {
            "auroc": float(roc_auc_score(truth, predictions["score"])),
            "sensitivity": float(tp / (tp + fn)) if tp + fn else float("nan"),
            "specificity": float(tn / (tn + fp)) if tn + fp else float("nan"),
            "n_test": int(len(truth)),
        }
    names = sorted(str(c) for c in classes)  # scikit-learn wants the labels in sorted order
    proba = predictions[[f"score_{c}" for c in names]].to_numpy()
    predicted = predictions["predicted"].astype(str)
    return {
        "auroc_macro": float(
            roc_auc_score(labels, proba, multi_class="ovr", average="macro", labels=names)
        ),
        "accuracy": float(accuracy_score(labels, predicted)),
        "balanced_accuracy": float(balanced_accuracy_score(labels, predicted)),
        "n_test": int(len(labels)),
    }


def predict(model, test: pd.DataFrame, data: dict, model_classes: list, threshold: float):
    """The score and predicted columns of the contract (module docstring)."""
    proba = probabilities(model, test, feature_columns(data))
    if proba.shape[1] != len(model_classes):
        raise DataError("the model and reports/train_run.json disagree (run: dvc repro train)")
    classes = data["classes"]
    if classes is None:
        score = proba[:, class_index(model_classes, data["positive_label"])]
        return {"score": score, "predicted": (score >= threshold).astype(int)}
    columns = {f"score_{c}": proba[:, class_index(model_classes, c)] for c in classes}
    best = proba.argmax(axis=1)
    columns["predicted"] = [model_classes[i] for i in best]
    return columns


def main() -> None:
    import mlflow
    import mlflow.pyfunc

    params = load_params()
    data = data_settings(params, full=False)
    threshold = float(require(params, "evaluate.threshold"))
    for path, stage in ((TEST_CSV, "prepare"), (MODEL_DIR, "train"), (RUN_FILE, "train")):
        if not path.exists():
            raise FileNotFoundError(f"{path}: not found (run: dvc repro {stage})")
    run = json.loads(RUN_FILE.read_text(encoding="utf-8"))
    test = pd.read_csv(TEST_CSV)
    model = mlflow.pyfunc.load_model(str(MODEL_DIR))
    # the row of test.csv (1 = first data row) stands in for the id, kept in the DVC-tracked data
    predictions = pd.DataFrame(
        {"row": range(1, len(test) + 1), "label": test[data["label_column"]]}
    )
    for name, values in predict(model, test, data, run["classes"], threshold).items():
        predictions[name] = values
    labels = expected_labels()
    for column in data["subgroup_columns"]:
        values = test[column].astype(str).where(test[column].notna(), "")
        predictions[column] = values.where(values.isin(labels.get(column, set())), "")
    PREDICTIONS.parent.mkdir(parents=True, exist_ok=True)
    tmp = PREDICTIONS.with_name(f".{PREDICTIONS.name}.tmp")
    predictions.to_csv(tmp, index=False)
    tmp.replace(PREDICTIONS)

    metrics = point_metrics(predictions, data["classes"], data.get("positive_label"))
    METRICS.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    mlflow.set_tracking_uri(run["tracking_uri"])
    with mlflow.start_run(run_id=run["run_id"]):
        mlflow.log_metrics({f"test_{k}": v for k, v in metrics.items() if k != "n_test"})
    summary = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if k != "n_test")
    print(f"evaluate: {metrics['n_test']} rows, threshold {threshold}: {summary} -> {PREDICTIONS}")


if __name__ == "__main__":
    run_cli(main)
