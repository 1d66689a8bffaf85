# ruff: noqa: RUF001  (typographic dashes and signs are intended: they are printed in the evidence)
"""`samdkit evaluate`: metrics with 95 % CIs, calibration, subgroups and acceptance criteria → evaluation JSON.

Reads the test-set predictions (reports/predictions.csv: label, score, predicted + subgroup columns; a row or
id column is ignored), compliance/requirements.yaml (docs/requirements-grammar.md) and params.yaml
`evaluate.threshold`, `data.positive_label` (labels may be text: label == positive_label is positive) and
`data.classes`; writes reports/evaluation.json (docs/evaluation-schema.md), which the report, the model
card, the PR comment and MLflow all read. Exit 1 when any acceptance criterion fails.

A multiclass outcome (score_<class> columns, or data.classes) gets one-vs-rest metrics per class, the
confusion matrix and the macro AUROC (schema v2); a binary one is exactly the v1 document.

Aggregate only: subgroup labels come from the expected values of requirements.yaml, other values are counted;
no row value or id is ever written or printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from samdkit import __version__
from samdkit.core import atomic
from samdkit.core.errors import UserError
from samdkit.core.findings import Finding, render
from samdkit.core.project import load_project, read_yaml
from samdkit.evaluate.criteria import Criterion, Requirements

SCHEMA = "samdkit/evaluation/v1"  # a binary outcome (unchanged since v1)
SCHEMA_MULTICLASS = "samdkit/evaluation/v2"  # v1 + `task`, `classes`, per-class entries
SCHEMAS = (SCHEMA, SCHEMA_MULTICLASS)  # what readers accept; anything else is refused
SCORE_PREFIX = "score_"
CORE_COLUMNS = ("sample_id", "label", "score", "predicted")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Compute the 2x2 table, sensitivity, specificity, PPV, NPV, accuracy, F1, AUROC, AUPRC with 95% CIs, "
        "calibration and per-subgroup metrics from the test-set predictions (a multiclass outcome: the "
        "confusion matrix, accuracy, macro AUROC and those metrics one-vs-rest per class); evaluate every acceptance "
        "criterion of compliance/requirements.yaml; write reports/evaluation.json. Exit 1 if a criterion fails."
    )
    parser.add_argument("--predictions", help="predictions CSV (default: reports/predictions.csv)")
    parser.add_argument(
        "--requirements", help="acceptance criteria (default: compliance/requirements.yaml)"
    )
    parser.add_argument(
        "--params", help="params.yaml holding evaluate.threshold (default: params.yaml)"
    )
    parser.add_argument(
        "--output", help="evaluation JSON to write (default: reports/evaluation.json)"
    )
    parser.add_argument(
        "--threshold", type=float, help="decision threshold (overrides params.yaml)"
    )
    parser.add_argument(
        "--no-mlflow",
        action="store_true",
        help="do not log the metrics to the MLflow run named in reports/train_run.json",
    )
    parser.add_argument("--format", choices=("text", "json", "github"), default="text")


def sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _some(names: list[str], shown: int = 8) -> str:
    """A list of class names for a one-line message: the first few, then how many more."""
    head = ", ".join(str(n) for n in names[:shown])
    return head if len(names) <= shown else f"{head} and {len(names) - shown} more"


def _threshold(args: argparse.Namespace, params_path: Path) -> float | None:
    if args.threshold is not None:
        return args.threshold
    if not params_path.is_file():
        return None
    params = read_yaml(params_path) or {}
    value = (params.get("evaluate") or {}).get("threshold") if isinstance(params, dict) else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise UserError(f"{params_path}: evaluate.threshold must be a number in [0, 1]")
    return float(value)


def _subgroup_columns(params_path: Path) -> list[str] | None:
    if not params_path.is_file():
        return None
    params = read_yaml(params_path) or {}
    cols = (params.get("data") or {}).get("subgroup_columns") if isinstance(params, dict) else None
    return list(cols) if isinstance(cols, list) else None


def _data_params(params_path: Path) -> dict[str, Any]:
    """params.yaml `data:` (positive_label, classes), or {} without the file."""
    if not params_path.is_file():
        return {}
    params = read_yaml(params_path) or {}
    data = params.get("data") if isinstance(params, dict) else None
    return data if isinstance(data, dict) else {}


def label_key(value: Any) -> str:
    """A label as text, integral numbers without `.0` (1, 1.0 and "1" are the same label)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _label_keys(series):
    """The label (or predicted) column as text keys, as label_key does for each value."""
    from pandas.api.types import is_float_dtype

    if is_float_dtype(series) and bool((series.dropna() % 1 == 0).all()):
        series = series.astype("Int64")
    return series.astype(str)


def read_predictions(
    path: Path,
    threshold: float | None,
    positive_label: Any = 1,
    classes: list[Any] | None = None,
):
    """Load and check the predictions: (frame, classes or None for a binary outcome).

    Binary (a `score` column): `label` becomes 1/0 (= positive_label or not), `predicted` is derived from
    the threshold when absent. Multiclass (`score_<class>` columns, or params `data.classes`): `label`
    and `predicted` stay class names, `predicted` is the most probable class when absent.
    """
    import pandas as pd

    if not path.is_file():
        raise UserError(f"{path}: file not found (the project's predict step writes it)")
    try:
        frame = pd.read_csv(path, dtype={"sample_id": str})
    except Exception as exc:
        raise UserError(f"{path}: unreadable CSV: {exc}") from None
    score_columns = [c for c in frame.columns if str(c).startswith(SCORE_PREFIX)]
    if classes is not None or (score_columns and "score" not in frame.columns):
        return _read_multiclass(path, frame, score_columns, classes), classes_of(
            score_columns, classes
        )
    if score_columns:
        raise UserError(
            f"{path}: both 'score' and score_<class> columns: a binary outcome has one 'score' "
            "column, a multiclass one a score_<class> column per class"
        )
    return _read_binary(path, frame, threshold, positive_label), None


def classes_of(score_columns: list[str], classes: list[Any] | None) -> list[str]:
    """The class names: params `data.classes` when given, else the score_<class> columns in order."""
    if classes is not None:
        return [label_key(c) for c in classes]
    return [c[len(SCORE_PREFIX) :] for c in score_columns]


def _read_multiclass(path: Path, frame, score_columns: list[str], classes: list[Any] | None):
    names = classes_of(score_columns, classes)
    wanted = [SCORE_PREFIX + c for c in names]
    missing = [c for c in ["label", *wanted] if c not in frame.columns]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)}")
    extra = [c for c in score_columns if c not in wanted]
    if extra:
        raise UserError(
            f"{path}: score column(s) {', '.join(extra)} name no class of params.yaml data.classes"
        )
    if frame.empty:
        raise UserError(f"{path}: no rows")
    if frame[["label", *wanted]].isna().any().any():
        raise UserError(f"{path}: empty label or score values")
    frame["label"] = _label_keys(frame["label"])
    outside = int((~frame["label"].isin(names)).sum())
    if outside:  # the values are not echoed: a label column may hold anything
        raise UserError(
            f"{path}: {outside} row(s) have a label that is not among the classes "
            f"({_some(names)}): a score_<class> column missing, or a wrong label"
        )
    if len(names) < 3 or len(set(names)) != len(names):
        raise UserError(
            f"{path}: a multiclass outcome needs 3 or more distinct classes "
            f"(params.yaml data.classes or score_<class> columns), got {len(set(names))}; "
            "a binary one has a single 'score' column"
        )
    scores = frame[wanted]
    if (
        not all(pd_numeric(scores[c]) for c in wanted)
        or not ((scores >= 0) & (scores <= 1)).all().all()
    ):
        raise UserError(f"{path}: score_<class> values must be probabilities in [0, 1]")
    off = int(((scores.sum(axis=1) - 1).abs() > 1e-3).sum())
    if off:
        raise UserError(f"{path}: the score_<class> columns of {off} row(s) do not sum to 1")
    if "predicted" not in frame.columns:
        frame["predicted"] = [names[i] for i in scores.to_numpy().argmax(axis=1)]
    else:
        frame["predicted"] = _label_keys(frame["predicted"])
        outside = int((~frame["predicted"].isin(names)).sum())
        if outside:
            raise UserError(
                f"{path}: {outside} row(s) have a 'predicted' value that is not among the classes "
                f"({_some(names)})"
            )
    return frame


def pd_numeric(series) -> bool:
    from pandas.api.types import is_numeric_dtype

    return bool(is_numeric_dtype(series)) and series.dtype != bool


def _binary_labels(path: Path, frame, positive_label: Any) -> None:
    """`label` → 1 (the positive label) / 0; 0/1 data with the default positive label 1 stays as it is."""
    keys = _label_keys(frame["label"])
    positive = label_key(positive_label)
    values = set(keys.unique())
    if values <= {"0", "1"} and positive == "1":
        frame["label"] = (keys == "1").astype(int)
        return
    others = values - {positive}
    if len(others) > 1:
        hint = (
            "label must be 0/1 (1 = positive class)"
            if positive == "1"
            else f"a binary label has the positive_label '{positive}' and one other value"
        )
        raise UserError(
            f"{path}: {hint}; found {len(values)} distinct values (params.yaml data.positive_label; "
            "a multiclass outcome needs score_<class> columns)"
        )
    frame["label"] = (keys == positive).astype(int)
    if "predicted" in frame.columns:
        predicted = _label_keys(frame["predicted"])
        if not set(predicted.unique()) <= {"0", "1"}:  # class names instead of 1/0
            if not set(predicted.unique()) <= values | {positive}:
                raise UserError(f"{path}: 'predicted' must be 1/0 or the label values")
            frame["predicted"] = (predicted == positive).astype(int)


def _read_binary(path: Path, frame, threshold: float | None, positive_label: Any):
    missing = [c for c in ("label", "score") if c not in frame.columns]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)}")
    if frame.empty:
        raise UserError(f"{path}: no rows")
    if frame[["label", "score"]].isna().any().any():
        raise UserError(f"{path}: empty label or score values")
    _binary_labels(path, frame, positive_label)
    if not pd_numeric(frame["score"]):
        raise UserError(f"{path}: score must be a probability in [0, 1]")
    if not frame["score"].between(0, 1).all():
        raise UserError(f"{path}: score must be a probability in [0, 1]")
    if "predicted" not in frame.columns:
        if threshold is None:
            raise UserError(
                f"{path}: no 'predicted' column and no evaluate.threshold in params.yaml"
            )
        frame["predicted"] = (frame["score"] >= threshold).astype(int)
    elif threshold is not None:
        at_or_above = (frame["score"] >= threshold).astype(int)
        above = (frame["score"] > threshold).astype(int)
        pred = frame["predicted"].astype(int)
        if not ((pred == at_or_above).all() or (pred == above).all()):
            bad = int((pred != at_or_above).sum())
            raise UserError(
                f"{path}: 'predicted' disagrees with score >= threshold {threshold:g} in {bad} row(s); "
                "predictions and params.yaml evaluate.threshold are out of step"
            )
    return frame


def _entry(
    frame, methods, *, with_curves: bool, classes: list[str] | None = None
) -> dict[str, Any]:
    """Metrics, CIs and calibration of one set of cases (the whole test set or one subgroup)."""
    from samdkit.evaluate import metrics

    if classes is not None:
        scores = frame[[SCORE_PREFIX + c for c in classes]].to_numpy(dtype=float)
        entry = _sklearn(
            metrics.multiclass, frame["label"], scores, frame["predicted"], classes, methods
        )
        if with_curves:  # one-vs-rest ROC curve of each class, for the report's figure
            for k, item in enumerate(entry["per_class"]):
                is_class = (frame["label"] == item["class"]).astype(int)
                item["curves"] = metrics.curves(is_class, scores[:, k])
        return entry
    entry = metrics.classification(frame["label"], frame["score"], frame["predicted"], methods)
    entry["calibration"] = metrics.calibration(frame["label"], frame["score"], methods)
    if with_curves:
        entry["curves"] = metrics.curves(frame["label"], frame["score"])
    return entry


def _sklearn(function, *args, **kwargs):
    """Call a metric function; a scikit-learn/scipy complaint about the input is one line (exit 2)."""
    try:
        return function(*args, **kwargs)
    except ValueError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(
            f"predictions: scikit-learn could not compute the metrics: {first}"
        ) from None


def _observed(criterion: Criterion, entry: dict[str, Any]) -> float | None:
    from samdkit.evaluate.metrics import class_entry, flat

    if criterion.class_name is not None and entry.get("per_class") is not None:
        entry = class_entry(entry, criterion.class_name) or {}
    metric = flat(entry).get(criterion.metric) or {}
    if criterion.statistic == "value":
        return metric.get("value")
    ci = metric.get("ci") or {}
    return ci.get("lower" if criterion.statistic == "ci_lower" else "upper")


def check_classes(req: Requirements, classes: list[str] | None, positive_label: Any) -> None:
    """Every `class:` of a criterion names a class of the outcome; multiclass one-vs-rest metrics name one.

    Checked before any metric is computed: a typo in a class is bad input (exit 2), never a FAIL.
    """
    from samdkit.evaluate.metrics import MULTICLASS_OVERALL

    for crit in req.criteria:
        where = f"{req.path}:{crit.line}: {crit.id}"
        if classes is None:
            if crit.class_name is not None and crit.class_name != label_key(positive_label):
                raise UserError(
                    f"{where}: class '{crit.class_name}' of a binary outcome must be the "
                    f"positive_label '{label_key(positive_label)}' (or left out)"
                )
        elif crit.class_name is None and crit.metric not in MULTICLASS_OVERALL:
            raise UserError(
                f"{where}: {crit.metric} of a multiclass outcome is one-vs-rest: name a class "
                f"(class: one of {_some(classes)}); without a class only "
                f"{', '.join(MULTICLASS_OVERALL)} apply"
            )
        elif crit.class_name is not None and crit.class_name not in classes:
            raise UserError(
                f"{where}: class '{crit.class_name}' is not a class of the outcome "
                f"({_some(classes)})"
            )


def evaluate_criteria(
    req: Requirements,
    overall: dict[str, Any],
    subgroups: list[dict[str, Any]],
    multiclass: bool = False,
) -> list[dict[str, Any]]:
    """Each criterion (one row per subgroup level for `column=*`) → PASS/FAIL with the observed value."""
    rows: list[dict[str, Any]] = []
    for crit in req.criteria:
        base = {
            "id": crit.id,
            "need": crit.need,
            "need_text": req.needs.get(crit.need or "", None),
            "text": crit.text,
            "metric": crit.metric,
            "statistic": crit.statistic,
            "comparator": crit.comparator,
            "threshold": crit.threshold,
            "risks": list(crit.risks),
            "criterion": crit.describe(req.methods.confidence_level),
            "source": f"{req.path.name}:{crit.line}",
        }
        if crit.class_name is not None or multiclass:
            base["class"] = crit.class_name
        if crit.subgroup_column is None:
            targets = [(None, overall)]
        else:
            targets = [
                (g, g)
                for g in subgroups
                if g["column"] == crit.subgroup_column
                and (crit.subgroup_value is None or g["value"] == crit.subgroup_value)
            ]
        if not targets:
            rows.append(
                {
                    **base,
                    "subgroup": f"{crit.subgroup_column}={crit.subgroup_value or '*'}",
                    "n": 0,
                    "observed": None,
                    "result": "FAIL",
                    "reason": "subgroup has no cases in the test set",
                }
            )
            continue
        for group, entry in targets:
            observed = _observed(crit, entry)
            row = {
                **base,
                "subgroup": None if group is None else f"{group['column']}={group['value']}",
                "n": entry["n"],
                "observed": observed,
            }
            if group is not None and group["below_min_n"]:
                row.update(
                    result="FAIL", reason=f"n={entry['n']} below the minimum n={group['min_n']}"
                )
            elif observed is None:
                row.update(result="FAIL", reason="metric undefined for these cases")
            else:
                ok = crit.check(observed)
                row.update(
                    result="PASS" if ok else "FAIL", reason=None if ok else "criterion not met"
                )
            rows.append(row)
    return rows


def _subgroup_parts(frame, req: Requirements, columns: list[str]):
    """(column, label, rows) for each expected label with cases, and the count of other rows per column.

    Labels come from requirements.yaml, never from the data; a value outside the list (a name typed
    into the wrong column, a record number) is counted and never echoed.
    """
    from pandas.api.types import is_float_dtype

    parts, unexpected = [], []
    for column in columns:
        expected = req.expected_values(column)
        values = frame[column]
        if is_float_dtype(values) and bool((values.dropna() % 1 == 0).all()):
            values = values.astype("Int64")  # codes 0/1 read as 0.0/1.0 next to an empty cell
        labels = values.astype(str).where(values.notna())
        for value in expected:
            part = frame[labels == value]
            if len(part):
                parts.append((column, value, part))
        other = int((~labels.isin(expected)).sum())
        if other:
            unexpected.append({"column": column, "rows": other})
    return parts, unexpected


def mark_suppressed(subgroups: list[dict[str, Any]], min_cell: int) -> None:
    """Flag cells that published outputs must not show: n below min_cell, plus one partner cell.

    With one small cell alone suppressed in a column, overall minus the others would reveal it, so the
    next smallest cell of that column is suppressed too (complementary suppression).
    """
    by_column: dict[str, list[dict[str, Any]]] = {}
    for g in subgroups:
        g["suppressed"] = g["n"] < min_cell
        by_column.setdefault(g["column"], []).append(g)
    for groups in by_column.values():
        hidden = [g for g in groups if g["suppressed"]]
        shown = sorted((g for g in groups if not g["suppressed"]), key=lambda g: g["n"])
        if len(hidden) == 1 and shown:
            shown[0]["suppressed"] = True


def _gaps(entry: dict[str, Any], reference: dict[str, Any]) -> dict[str, float | None]:
    """{metric: entry value - reference value} (None when either is undefined)."""
    from samdkit.evaluate.metrics import flat

    ref_flat, gaps = flat(reference), {}
    for name, metric in flat(entry).items():
        ref = ref_flat.get(name, {}).get("value")
        val = metric.get("value")
        gaps[name] = None if ref is None or val is None else val - ref
    return gaps


def compute(
    frame,
    req: Requirements,
    threshold: float | None,
    subgroup_columns: list[str] | None,
    classes: list[str] | None = None,
    positive_label: Any = 1,
) -> dict[str, Any]:
    """The whole evaluation document (without input digests); `classes` set = a multiclass outcome."""
    from samdkit.core import parallel
    from samdkit.evaluate.metrics import HEADLINE, MULTICLASS_OVERALL, class_entry

    methods = req.methods
    check_classes(req, classes, positive_label)
    wanted = list(subgroup_columns or [])
    for group in req.subgroups:
        if group.column not in wanted:
            wanted.append(group.column)
    for crit in req.criteria:
        if crit.subgroup_column and crit.subgroup_column not in wanted:
            wanted.append(crit.subgroup_column)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise UserError(
            f"predictions have no subgroup column(s) {', '.join(missing)} "
            f"(named in {req.path.name} or params.yaml data.subgroup_columns)"
        )
    parts, unexpected = _subgroup_parts(frame, req, wanted)
    # the bootstrap of each set of cases is independent and seeded: spread over the cores
    entries = parallel.map_ordered(
        lambda task: _entry(task[0], methods, with_curves=task[1], classes=classes),
        [(frame, True)] + [(part, False) for _, _, part in parts],
    )
    overall = entries[0]
    subgroups: list[dict[str, Any]] = []
    for (column, value, _), entry in zip(parts, entries[1:], strict=True):
        min_n = req.min_n(column)
        gaps = _gaps(entry, overall)
        for item in entry.get("per_class") or []:  # multiclass: each class against its overall
            item["gap_to_overall"] = _gaps(item, class_entry(overall, item["class"]) or {})
        subgroups.append(
            {
                "column": column,
                "value": value,
                "min_n": min_n,
                "below_min_n": entry["n"] < min_n,
                **entry,
                "gap_to_overall": gaps,
            }
        )
    mark_suppressed(subgroups, req.min_cell)
    criteria = evaluate_criteria(req, overall, subgroups, multiclass=classes is not None)
    failed = [c for c in criteria if c["result"] != "PASS"]
    kind: dict[str, Any] = {
        "schema": SCHEMA,
        "threshold": threshold,
        "positive_label": positive_label,
        "headline_metrics": list(HEADLINE),
    }
    if classes is not None:
        kind = {
            "schema": SCHEMA_MULTICLASS,
            "task": "multiclass",
            "classes": list(classes),
            "threshold": None,  # the predicted class is the project's (most probable by default)
            "positive_label": None,
            "headline_metrics": list(MULTICLASS_OVERALL),
            "class_metrics": ["sensitivity", "specificity", "ppv", "npv", "f1", "auroc"],
        }
    return {
        **kind,
        "generator": {"name": "samdkit", "version": __version__},
        "methods": methods.as_dict(),
        "overall": overall,
        "subgroups": subgroups,
        "subgroups_below_min_n": [
            f"{g['column']}={g['value']}" for g in subgroups if g["below_min_n"]
        ],
        "subgroup_values_unexpected": unexpected,
        "publication": {"min_cell_size": req.min_cell},
        "criteria": criteria,
        "summary": {
            "criteria": len(criteria),
            "passed": len(criteria) - len(failed),
            "failed": len(failed),
        },
        "verdict": "FAIL" if failed else "PASS",
    }


def log_to_mlflow(train_run: Path, document: dict[str, Any]) -> str:
    """Log overall metrics and the verdict to the training run; returns a one-line status."""
    if not train_run.is_file():
        return f"MLflow: not logged ({train_run.name} absent)"
    try:
        info = json.loads(train_run.read_text(encoding="utf-8"))
        run_id = info["run_id"]
    except (ValueError, KeyError, TypeError):
        return f"MLflow: not logged ({train_run.name} has no run_id)"
    import re
    import time

    from mlflow.entities import Metric, RunTag
    from mlflow.tracking import MlflowClient

    from samdkit.evaluate.metrics import flat

    stamp = int(time.time() * 1000)
    batch = []
    parts = [("", document["overall"])] + [  # multiclass: test_<metric>_class_<class> too
        ("_class_" + re.sub(r"[^A-Za-z0-9_.-]", "_", item["class"]), item)
        for item in document["overall"].get("per_class") or []
    ]
    for suffix, entry in parts:
        for name, metric in flat(entry).items():
            if metric.get("value") is not None:
                batch.append(Metric(f"test_{name}{suffix}", metric["value"], stamp, 0))
            ci = metric.get("ci") or {}
            for side in ("lower", "upper"):
                if ci.get(side) is not None:
                    batch.append(Metric(f"test_{name}{suffix}_ci_{side}", ci[side], stamp, 0))
    tags = [
        RunTag("samdkit.evaluation.verdict", document["verdict"]),
        RunTag("samdkit.evaluation.sha256", document.get("_sha256", "")),
    ]
    try:
        client = MlflowClient(tracking_uri=info.get("tracking_uri"))
        client.log_batch(run_id, metrics=batch, tags=tags)
    except Exception as exc:
        print(f"samdkit evaluate: warning: MLflow logging failed: {exc}", file=sys.stderr)
        return f"MLflow: logging to run {run_id} FAILED ({type(exc).__name__})"
    return f"MLflow: logged {len(batch)} metrics to run {run_id}"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _print_metric(name: str, m: dict[str, Any]) -> None:
    ci = m.get("ci") or {}
    print(
        f"  {name:<12} {_fmt(m.get('value'))}  95% CI {_fmt(ci.get('lower'))}–"
        f"{_fmt(ci.get('upper'))}  [{ci.get('method', '-')}]"
    )


def _print_metrics(document: dict[str, Any], threshold: float | None) -> None:
    """The console summary: headline metrics, and one-vs-rest metrics per class for a multiclass outcome."""
    overall = document["overall"]
    if "classes" not in document:
        print(f"n={overall['n']} (positives {overall['n_positive']}), threshold {_fmt(threshold)}")
        for name in document["headline_metrics"]:
            _print_metric(name, overall["metrics"][name])
        return
    counts = ", ".join(f"{c} {n}" for c, n in overall["class_counts"].items())
    print(f"n={overall['n']} ({counts}), multiclass")
    for name in document["headline_metrics"]:
        _print_metric(name, overall["metrics"][name])
    for item in overall["per_class"]:
        print(f"  class {item['class']} (one-vs-rest):")
        for name in document["class_metrics"]:
            _print_metric(name, item["metrics"][name])


def run(args: argparse.Namespace) -> int:
    project = load_project(".")
    pred_path = Path(args.predictions) if args.predictions else project.path("predictions")
    req_path = Path(args.requirements) if args.requirements else project.path("requirements")
    params_path = Path(args.params) if args.params else project.path("params")
    out_path = Path(args.output) if args.output else project.path("evaluation")

    from samdkit.evaluate import criteria

    req = criteria.load(req_path)
    threshold = _threshold(args, params_path)
    data = _data_params(params_path)
    positive_label = data.get("positive_label", 1)
    classes = data.get("classes")
    if classes is not None and not isinstance(classes, list):
        raise UserError(f"{params_path}: data.classes must be a list of class labels")
    # a multiclass outcome lists its classes and has no single positive label
    if (positive_label is None and classes is None) or isinstance(positive_label, dict | list):
        raise UserError(
            f"{params_path}: data.positive_label must be a label (a number or text); "
            "a multiclass outcome lists data.classes instead"
        )
    if positive_label is None:
        positive_label = 1  # unused: the outcome is multiclass
    frame, classes = read_predictions(pred_path, threshold, positive_label, classes)
    document = compute(
        frame, req, threshold, _subgroup_columns(params_path), classes, positive_label
    )

    def rel(p: Path) -> str:
        try:
            return str(p.resolve().relative_to(project.root))
        except ValueError:
            return str(p)

    document["inputs"] = {
        "predictions": {
            "path": rel(pred_path),
            "sha256": sha256_file(pred_path),
            "rows": len(frame),
        },
        "requirements": {"path": rel(req_path), "sha256": sha256_file(req_path)},
        "params": (
            {"path": rel(params_path), "sha256": sha256_file(params_path)}
            if params_path.is_file()
            else None
        ),
    }
    atomic.write_json(out_path, document)
    document["_sha256"] = sha256_file(out_path)

    status = None
    if not args.no_mlflow:
        status = log_to_mlflow(project.path("train_run"), document)

    findings = [
        Finding(
            check=row["id"],
            message=(
                f"{row['criterion']}: observed {_fmt(row['observed'])}"
                + (f" in {row['subgroup']}" if row["subgroup"] else "")
                + f" (n={row['n']}) — {row['reason']}"
            ),
            file=rel(req_path),
            line=int(row["source"].rsplit(":", 1)[1]) or None,
        )
        for row in document["criteria"]
        if row["result"] != "PASS"
    ]
    summary = dict(document["summary"])
    if args.format == "text":
        _print_metrics(document, threshold)
        for row in document["criteria"]:
            where = f" [{row['subgroup']}]" if row["subgroup"] else ""
            print(
                f"  {row['result']:<4} {row['id']}{where}: {row['criterion']} (observed {_fmt(row['observed'])})"
            )
        for item in document["subgroup_values_unexpected"]:
            print(
                f"  {item['column']}: {item['rows']} row(s) with values outside the expected list "
                "(not reported as a subgroup)"
            )
        if document["subgroups_below_min_n"]:
            print("  subgroups below minimum n: " + ", ".join(document["subgroups_below_min_n"]))
        print(f"wrote {rel(out_path)} (sha256 {document['_sha256']})")
        if status:
            print(status)
    print(render(findings, args.format, title="samdkit evaluate", summary=summary))
    return 1 if document["verdict"] != "PASS" else 0
