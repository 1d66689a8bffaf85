# ruff: noqa: RUF001  (typographic dashes and signs are intended: they are printed in the evidence)
"""`samdkit evaluate`: metrics with 95 % CIs, calibration, subgroups and acceptance criteria → evaluation JSON.

Reads the test-set predictions (reports/predictions.csv, samdkit.evaluate.predictions),
compliance/requirements.yaml (docs/requirements-grammar.md) and params.yaml `evaluate.threshold`,
`data.positive_label`, `data.classes`, `data.subgroup_columns`; writes reports/evaluation.json through
samdkit.evaluate.document (docs/evaluation-schema.md), which the report, the model card, the PR comment and
MLflow all read. Exit 1 when any acceptance criterion fails.

Aggregate only: subgroup labels come from the expected values of requirements.yaml, other values are counted;
no row value or id is ever written or printed.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samdkit.core import reuse
from samdkit.core.errors import UserError
from samdkit.core.findings import Finding, GateResult, render_result
from samdkit.core.options import add_format_option
from samdkit.core.project import Project, load_project


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
    parser.add_argument(reuse.FLAG, action="store_true", help=reuse.HELP)
    add_format_option(parser)


@dataclass
class Inputs:
    """The files of one evaluation and what params.yaml says about the outcome."""

    project: Project
    predictions: Path
    requirements: Path
    params: Path
    output: Path
    threshold: float | None = None
    positive_label: Any = 1
    classes: list[Any] | None = None
    subgroup_columns: list[str] | None = None

    def rel(self, path: Path) -> str:
        return self.project.shown(path)


def _inputs(args: argparse.Namespace) -> Inputs:
    project = load_project(".")
    return Inputs(
        project=project,
        predictions=Path(args.predictions) if args.predictions else project.path("predictions"),
        requirements=Path(args.requirements) if args.requirements else project.path("requirements"),
        params=Path(args.params) if args.params else project.path("params"),
        output=Path(args.output) if args.output else project.path("evaluation"),
    )


def _read_params(inputs: Inputs, threshold: float | None) -> None:
    """The threshold (--threshold over params.yaml), positive label, classes and subgroup columns."""
    from samdkit.core import params as core_params

    where = inputs.rel(inputs.params)
    params = core_params.read_params(inputs.project, inputs.params)
    if threshold is not None:
        inputs.threshold = core_params.threshold_value(threshold, "--threshold")
    else:
        inputs.threshold = core_params.decision_threshold(params, where)
    data = core_params.section(params, "data", where)
    columns = data.get("subgroup_columns")
    inputs.subgroup_columns = list(columns) if isinstance(columns, list) else None
    positive_label, classes = data.get("positive_label", 1), data.get("classes")
    if classes is not None and not isinstance(classes, list):
        raise UserError(f"{where}: data.classes must be a list of class labels")
    # a multiclass outcome lists its classes and has no single positive label
    if (positive_label is None and classes is None) or isinstance(positive_label, dict | list):
        raise UserError(
            f"{where}: data.positive_label must be a label (a number or text); "
            "a multiclass outcome lists data.classes instead"
        )
    inputs.positive_label = 1 if positive_label is None else positive_label  # None: multiclass
    inputs.classes = classes


def _document(inputs: Inputs, threshold: float | None) -> dict[str, Any]:
    """The evaluation document with the digests of its inputs (what the report pins)."""
    from samdkit.core.digests import sha256_hex
    from samdkit.evaluate import criteria
    from samdkit.evaluate.compute import compute
    from samdkit.evaluate.predictions import read_predictions

    req = criteria.load(inputs.requirements)
    _read_params(inputs, threshold)
    frame, classes = read_predictions(
        inputs.predictions, inputs.threshold, inputs.positive_label, inputs.classes
    )
    document = compute(
        frame, req, inputs.threshold, inputs.subgroup_columns, classes, inputs.positive_label
    )
    params = inputs.params
    document["inputs"] = {
        "predictions": {
            "path": inputs.rel(inputs.predictions),
            "sha256": sha256_hex(inputs.predictions),
            "rows": len(frame),
        },
        "requirements": {
            "path": inputs.rel(inputs.requirements),
            "sha256": sha256_hex(inputs.requirements),
        },
        "params": (
            {"path": inputs.rel(params), "sha256": sha256_hex(params)} if params.is_file() else None
        ),
    }
    return document


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _print_metric(name: str, m: dict[str, Any]) -> None:
    ci = m.get("ci") or {}
    print(
        f"  {name:<12} {_fmt(m.get('value'))}  95% CI {_fmt(ci.get('lower'))}–"
        f"{_fmt(ci.get('upper'))}  [{ci.get('method', '-')}]"
    )


def _print_metrics(document: dict[str, Any]) -> None:
    """The console summary: headline metrics, and one-vs-rest metrics per class for a multiclass outcome."""
    overall = document["overall"]
    if "classes" not in document:
        print(
            f"n={overall['n']} (positives {overall['n_positive']}), "
            f"threshold {_fmt(document['threshold'])}"
        )
    else:
        counts = ", ".join(f"{c} {n}" for c, n in overall["class_counts"].items())
        print(f"n={overall['n']} ({counts}), multiclass")
    for name in document["headline_metrics"]:
        _print_metric(name, overall["metrics"][name])
    for item in overall.get("per_class", []):
        print(f"  class {item['class']} (one-vs-rest):")
        for name in document["class_metrics"]:
            _print_metric(name, item["metrics"][name])


def _print_text(document: dict[str, Any], written: str, status: str | None) -> None:
    _print_metrics(document)
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
    print(written)
    if status:
        print(status)


def _findings(document: dict[str, Any], requirements: str) -> list[Finding]:
    """One finding per failed criterion row, at its line of requirements.yaml."""
    return [
        Finding(
            check=row["id"],
            message=(
                f"{row['criterion']}: observed {_fmt(row['observed'])}"
                + (f" in {row['subgroup']}" if row["subgroup"] else "")
                + f" (n={row['n']}) — {row['reason']}"
            ),
            file=requirements,
            line=int(row["source"].rsplit(":", 1)[1]) or None,
        )
        for row in document["criteria"]
        if row["result"] != "PASS"
    ]


def _detail(document: dict[str, Any], path: str, sha256: str) -> dict[str, Any]:
    """The gate result's detail: the file written, the headline metrics with their CIs, each criterion."""
    overall = document["overall"]["metrics"]
    metrics = {}
    for name in document["headline_metrics"]:
        ci = overall[name].get("ci") or {}
        metrics[name] = {
            "value": overall[name]["value"],
            "ci_lower": ci.get("lower"),
            "ci_upper": ci.get("upper"),
        }
    keys = ("id", "subgroup", "criterion", "observed", "n", "result", "reason")
    return {
        "evaluation": {"path": path, "sha256": sha256, "schema": document["schema"]},
        "metrics": metrics,
        "criteria": [{k: row[k] for k in keys} for row in document["criteria"]],
    }


def _reused(inputs: Inputs, args: argparse.Namespace) -> tuple[dict[str, Any], reuse.Reuse] | str:
    """The document this job's evaluate stage wrote, read strictly, or why it must be computed again."""
    from samdkit.evaluate import document as evaluation_document

    given = ("predictions", "requirements", "params", "threshold")
    own = [f for f in given if getattr(args, f) is not None]  # --threshold 0 is given too
    if own:
        return f"--{own[0]} evaluates other inputs than the pipeline's stage"
    project = inputs.project
    path = project.path("evaluation")
    found = reuse.check(project, path, "samdkit evaluate")
    if isinstance(found, str):
        return found
    try:
        document = evaluation_document.read(path, project.shown(path))
    except UserError as exc:
        return str(exc)
    pinned = document["inputs"]
    keys = ["predictions", "requirements"] + (["params"] if inputs.params.is_file() else [])
    if not all(pinned.get(k) for k in keys) or (pinned.get("params") and "params" not in keys):
        return "the stage's result pins other input files than the gate reads"
    pins = [(pinned[k]["path"], pinned[k]["sha256"]) for k in keys]
    if [p for p, _ in pins] != [inputs.rel(getattr(inputs, k)) for k in keys]:
        return "the stage's result names other input files than the gate reads"
    changed = reuse.pinned_changed(project.root, pins)
    return changed or (document, found)


def run(args: argparse.Namespace) -> int:
    from samdkit.core.digests import sha256_hex
    from samdkit.evaluate import document as evaluation_document

    inputs = _inputs(args)
    reused = _reused(inputs, args) if args.reuse_pipeline else None
    if isinstance(reused, str):
        reuse.note(reused)
    status, source = None, None
    if isinstance(reused, tuple):
        document, found = reused
        source = found.summary
        # the stage logged its metrics to MLflow when it ran; the file is written only where asked
        if inputs.output.resolve() != inputs.project.path("evaluation").resolve():
            evaluation_document.write(inputs.output, document)
    else:
        document = _document(inputs, args.threshold)
        evaluation_document.write(inputs.output, document)
    sha256 = sha256_hex(inputs.output)
    if not args.no_mlflow and source is None:
        from samdkit.evaluate.tracking import log_to_mlflow

        status = log_to_mlflow(inputs.project.path("train_run"), document, sha256)
    path = inputs.rel(inputs.output)
    if args.format == "text":
        written = f"{path} (sha256 {sha256})"
        _print_text(document, f"{written} {source}" if source else f"wrote {written}", status)
    result = GateResult(
        gate="evaluate",
        verdict=document["verdict"],
        findings=_findings(document, inputs.rel(inputs.requirements)),
        summary={**document["summary"], **({"source": source} if source else {})},
        outputs={"evaluation": path, "sha256": sha256},
        detail=_detail(document, path, sha256),
    )
    print(render_result(result, args.format, title="samdkit evaluate"))
    return 1 if document["verdict"] != "PASS" else 0
