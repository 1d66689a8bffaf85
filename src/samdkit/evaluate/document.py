"""reports/evaluation.json: the one strict, versioned reader and writer (docs/evaluation-schema.md).

`samdkit evaluate` writes it through `write`; the report, the model card, the PR comment, the PCCP judgement
and MLflow logging read it through `read` / `validate`. Validation checks every field a consumer uses, with its
type, so a foreign or hand-edited file is one line naming the field (exit 2), never a KeyError (exit 3).
Schemas: `samdkit/evaluation/v1` (a binary outcome, unchanged since v1) and `/v2` (multiclass: v1 + `task`,
`classes`, `class_metrics`, per-class entries).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from samdkit.core.fields import (
    BOOL,
    COUNT,
    LIST,
    NUMBER,
    TABLE,
    TEXT,
    TEXTS,
    Fields,
    Kind,
    check_schema,
    either,
    nullable,
    one_of,
    read_json,
    write_json,
)
from samdkit.evaluate import metrics as _metrics

# metric id -> (kind, label): what each metric of the document means, for its readers (report, comment)
METRIC_LABELS: dict[str, tuple[str, str]] = _metrics.METRICS

SCHEMA_BINARY = "samdkit/evaluation/v1"
SCHEMA_MULTICLASS = "samdkit/evaluation/v2"
SCHEMAS = (SCHEMA_BINARY, SCHEMA_MULTICLASS)  # what readers accept; anything else is refused
VERDICTS = ("PASS", "FAIL")

# the metrics of every binary entry (and of each one-vs-rest entry of a multiclass outcome)
BINARY_METRICS = (
    *("sensitivity", "specificity", "ppv", "npv", "accuracy", "prevalence"),
    *("f1", "auroc", "auprc"),
)
CALIBRATION_METRICS = ("brier", "ece", "calibration_slope", "calibration_intercept")
MULTICLASS_METRICS = ("accuracy", "auroc")

_NUMBER_OR_NULL = nullable(NUMBER)
_LABEL = nullable(either(TEXT, NUMBER, BOOL))
_CI: dict[str, Kind] = {
    "lower": _NUMBER_OR_NULL,
    "upper": _NUMBER_OR_NULL,
    "level": NUMBER,
    "method": TEXT,
}
_BIN: dict[str, Kind] = {
    "lower": NUMBER,
    "upper": NUMBER,
    "n": COUNT,
    "mean_score": NUMBER,
    "observed_fraction": NUMBER,
}
_SUBGROUP: dict[str, Kind] = {
    "column": TEXT,
    "value": TEXT,
    "min_n": COUNT,
    "below_min_n": BOOL,
    "suppressed": BOOL,
}
_CRITERION: dict[str, Kind] = {
    "id": TEXT,
    "need": nullable(TEXT),
    "need_text": nullable(TEXT),
    "text": nullable(TEXT),
    "metric": TEXT,
    "statistic": one_of("value", "ci_lower", "ci_upper"),
    "comparator": one_of(">=", ">", "<=", "<"),
    "threshold": NUMBER,
    "risks": TEXTS,
    "criterion": TEXT,
    "source": TEXT,
    "subgroup": nullable(TEXT),
    "n": COUNT,
    "observed": _NUMBER_OR_NULL,
    "result": one_of(*VERDICTS),
    "reason": nullable(TEXT),
}


def _metric(f: Fields, metric: Any, path: str) -> None:
    """{value, ci?}: ci is null or {lower, upper, level, method}."""
    f.field(f.table(metric, path), "value", _NUMBER_OR_NULL, path)
    if metric.get("ci") is not None:
        f.fields(f.table(metric["ci"], f"{path}.ci"), _CI, f"{path}.ci")


def _metrics(f: Fields, table: dict[str, Any], key: str, names: tuple[str, ...], path: str) -> None:
    """table[key] holds each named metric."""
    where = f"{path}.{key}"
    metrics = f.field(table, key, TABLE, path)
    for name in names:
        _metric(f, f.field(metrics, name, TABLE, where), f"{where}.{name}")


def _binary_entry(f: Fields, entry: Any, path: str) -> None:
    """A 2x2 entry: counts, the confusion matrix, every metric and the calibration."""
    f.fields(f.table(entry, path), {"n": COUNT, "n_positive": COUNT, "n_negative": COUNT}, path)
    matrix = f.field(entry, "confusion_matrix", TABLE, path)
    f.fields(matrix, dict.fromkeys(("tp", "fp", "fn", "tn"), COUNT), f"{path}.confusion_matrix")
    _metrics(f, entry, "metrics", BINARY_METRICS, path)
    _metrics(f, entry, "calibration", CALIBRATION_METRICS, path)
    for i, item in enumerate(f.objects(entry["calibration"], "bins", f"{path}.calibration")):
        f.fields(item, _BIN, f"{path}.calibration.bins[{i}]")
    f.optional(entry, {"curves": TABLE}, path)


def _multiclass_entry(f: Fields, entry: Any, classes: list[str], path: str) -> None:
    """A K-class entry: counts per class, the KxK matrix, accuracy, macro AUROC, one binary entry per class."""
    f.field(f.table(entry, path), "n", COUNT, path)
    f.fields(
        f.field(entry, "class_counts", TABLE, path),
        dict.fromkeys(classes, COUNT),
        f"{path}.class_counts",
    )
    matrix = f.field(entry, "confusion_matrix", TABLE, path)
    if f.field(matrix, "labels", TEXTS, f"{path}.confusion_matrix") != classes:
        raise f.fail(f"{path}.confusion_matrix.labels", "must list the classes in order")
    rows = f.field(matrix, "matrix", LIST, f"{path}.confusion_matrix")
    square = len(rows) == len(classes) and all(
        isinstance(r, list) and len(r) == len(classes) and all(COUNT[1](v) for v in r) for r in rows
    )
    if not square:
        raise f.fail(f"{path}.confusion_matrix.matrix", "must be a class x class table of counts")
    _metrics(f, entry, "metrics", MULTICLASS_METRICS, path)
    per_class = f.objects(entry, "per_class", path)
    if [item.get("class") for item in per_class] != classes:
        raise f.fail(
            f"{path}.per_class", "must hold one entry per class, in the order of 'classes'"
        )
    for i, item in enumerate(per_class):
        _binary_entry(f, item, f"{path}.per_class[{i}]")
        if "gap_to_overall" in item:
            _gaps(f, item, f"{path}.per_class[{i}]")


def _gaps(f: Fields, entry: dict[str, Any], path: str) -> None:
    gaps = f.field(entry, "gap_to_overall", TABLE, path)
    f.fields(gaps, dict.fromkeys(gaps, _NUMBER_OR_NULL), f"{path}.gap_to_overall")


def _subgroups(f: Fields, doc: dict[str, Any], classes: list[str] | None) -> None:
    for i, group in enumerate(f.objects(doc, "subgroups")):
        path = f"subgroups[{i}]"
        if classes is None:
            _binary_entry(f, group, path)
        else:
            _multiclass_entry(f, group, classes, path)
        f.fields(group, _SUBGROUP, path)
        _gaps(f, group, path)
    f.field(doc, "subgroups_below_min_n", TEXTS)
    for i, item in enumerate(f.objects(doc, "subgroup_values_unexpected")):
        f.fields(item, {"column": TEXT, "rows": COUNT}, f"subgroup_values_unexpected[{i}]")


def _criteria(f: Fields, doc: dict[str, Any]) -> None:
    """The criteria rows, the summary and the verdict, which must agree (a hand-edited PASS is refused)."""
    rows = f.objects(doc, "criteria")
    for i, row in enumerate(rows):
        f.fields(row, _CRITERION, f"criteria[{i}]")
        f.optional(row, {"class": nullable(TEXT)}, f"criteria[{i}]")
    summary = f.field(doc, "summary", TABLE)
    f.fields(summary, dict.fromkeys(("criteria", "passed", "failed"), COUNT), "summary")
    failed = sum(row["result"] != "PASS" for row in rows)
    counted = (summary["criteria"], summary["passed"], summary["failed"])
    if counted != (len(rows), len(rows) - failed, failed):
        raise f.fail("summary", "does not count the criteria rows")
    if f.field(doc, "verdict", one_of(*VERDICTS)) != ("FAIL" if failed else "PASS"):
        raise f.fail("verdict", "does not agree with the criteria rows")


def _header(f: Fields, doc: dict[str, Any]) -> None:
    """generator, inputs (the digests the report pins), methods, publication."""
    f.fields(f.field(doc, "generator", TABLE), {"name": TEXT, "version": TEXT}, "generator")
    inputs = f.field(doc, "inputs", TABLE)
    predictions = f.field(inputs, "predictions", TABLE, "inputs")
    f.fields(predictions, {"path": TEXT, "sha256": TEXT, "rows": COUNT}, "inputs.predictions")
    requirements = f.field(inputs, "requirements", TABLE, "inputs")
    f.fields(requirements, {"path": TEXT, "sha256": TEXT}, "inputs.requirements")
    if f.field(inputs, "params", nullable(TABLE), "inputs") is not None:
        f.fields(inputs["params"], {"path": TEXT, "sha256": TEXT}, "inputs.params")
    spec = {
        "confidence_level": NUMBER,
        "proportion_ci": TABLE,
        "bootstrap": TABLE,
        "calibration": TABLE,
    }
    f.fields(f.field(doc, "methods", TABLE), spec, "methods")
    f.field(f.field(doc, "publication", TABLE), "min_cell_size", COUNT, "publication")
    f.fields(doc, {"threshold": _NUMBER_OR_NULL, "positive_label": _LABEL})


def _names(f: Fields, doc: dict[str, Any], key: str, known: tuple[str, ...]) -> None:
    for i, name in enumerate(f.field(doc, key, TEXTS)):
        if name not in known:
            raise f.fail(f"{key}[{i}]", f"names no metric of the entry ({', '.join(known)})")


def _outcome(f: Fields, doc: dict[str, Any]) -> list[str] | None:
    """The classes of a v2 document (None for v1), with the keys that say which outcome it is."""
    if doc["schema"] == SCHEMA_BINARY:
        for key in ("task", "classes", "class_metrics"):
            if key in doc:
                raise f.fail(key, f"belongs to a multiclass outcome ({SCHEMA_MULTICLASS}), not v1")
        _names(f, doc, "headline_metrics", BINARY_METRICS)
        return None
    f.field(doc, "task", one_of("multiclass"))
    classes = f.field(doc, "classes", TEXTS)
    if len(classes) < 3 or len(set(classes)) != len(classes):
        raise f.fail("classes", "must list 3 or more distinct class names")
    _names(f, doc, "headline_metrics", MULTICLASS_METRICS)
    _names(f, doc, "class_metrics", BINARY_METRICS)
    return classes


def validate(doc: Any, where: str) -> dict[str, Any]:
    """Check a parsed evaluation document; raise UserError naming the first defect, else return it."""
    f = check_schema(doc, where, "evaluation", SCHEMAS, "samdkit evaluate")
    _header(f, doc)
    classes = _outcome(f, doc)
    if classes is None:
        _binary_entry(f, f.field(doc, "overall", TABLE), "overall")
    else:
        _multiclass_entry(f, f.field(doc, "overall", TABLE), classes, "overall")
    _subgroups(f, doc, classes)
    _criteria(f, doc)
    return doc


def read(path: str | Path, name: str | None = None) -> dict[str, Any]:
    """Parse and validate an evaluation file; `name` is how messages call it (default: the path)."""
    return read_json(path, name, validate, "evaluation not found (run 'samdkit evaluate' first)")


def write(path: str | Path, doc: dict[str, Any]) -> Path:
    """Validate, then write atomically as stable JSON (sorted keys, 2-space indent): same data, same bytes."""
    return write_json(path, doc, validate)
