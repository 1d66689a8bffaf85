"""The evaluation logged to MLflow: each overall metric and CI bound on the training run, and the verdict.

The run is the one reports/train_run.json names; logging is best effort (a missing run file or a failing
tracking server is a status line, never a failed evaluation).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def _run_id(train_run: Path) -> tuple[dict[str, Any] | None, str]:
    """(the training run's record, its run id), or (None, why it cannot be logged)."""
    import json

    if not train_run.is_file():
        return None, f"MLflow: not logged ({train_run.name} absent)"
    try:
        info = json.loads(train_run.read_text(encoding="utf-8"))
        return info, info["run_id"]
    except (ValueError, KeyError, TypeError):
        return None, f"MLflow: not logged ({train_run.name} has no run_id)"


def metric_values(document: dict[str, Any]) -> dict[str, float]:
    """test_<metric>[_class_<class>][_ci_lower|_ci_upper] -> value, from a validated evaluation document."""
    import re

    from samdkit.evaluate.metrics import flat

    parts = [("", document["overall"])] + [  # multiclass: test_<metric>_class_<class> too
        ("_class_" + re.sub(r"[^A-Za-z0-9_.-]", "_", item["class"]), item)
        for item in document["overall"].get("per_class") or []
    ]
    values: dict[str, float] = {}
    for suffix, entry in parts:
        for name, metric in flat(entry).items():
            if metric.get("value") is not None:
                values[f"test_{name}{suffix}"] = metric["value"]
            ci = metric.get("ci") or {}
            for side in ("lower", "upper"):
                if ci.get(side) is not None:
                    values[f"test_{name}{suffix}_ci_{side}"] = ci[side]
    return values


def log_to_mlflow(train_run: Path, document: dict[str, Any], sha256: str) -> str:
    """Log overall metrics and the verdict to the training run; returns a one-line status."""
    info, run_id = _run_id(train_run)
    if info is None:
        return run_id
    import time

    from mlflow.entities import Metric, RunTag
    from mlflow.tracking import MlflowClient

    stamp = int(time.time() * 1000)
    batch = [Metric(k, v, stamp, 0) for k, v in metric_values(document).items()]
    tags = [
        RunTag("samdkit.evaluation.verdict", document["verdict"]),
        RunTag("samdkit.evaluation.sha256", sha256),
    ]
    try:
        client = MlflowClient(tracking_uri=info.get("tracking_uri"))
        client.log_batch(run_id, metrics=batch, tags=tags)
    except Exception as exc:
        print(f"samdkit evaluate: warning: MLflow logging failed: {exc}", file=sys.stderr)
        return f"MLflow: logging to run {run_id} FAILED ({type(exc).__name__})"
    return f"MLflow: logged {len(batch)} metrics to run {run_id}"
