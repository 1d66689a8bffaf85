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
    INT,
    LIST,
    NUMBER,
    SHA256,
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


_NUMBERS: Kind = (
    "a list of numbers",
    lambda v: isinstance(v, list) and all(NUMBER[1](x) for x in v),
)
# what a metric entry may hold besides its value (proportions: counts; macro AUROC: how it averages)
_METRIC_LATER: dict[str, Kind] = {
    "ci": nullable(TABLE),
    "note": TEXT,
    "numerator": COUNT,
    "denominator": COUNT,
    "average": TEXT,
}
_BINARY_KEYS = (
    "n",
    "n_positive",
    "n_negative",
    "confusion_matrix",
    "metrics",
    "calibration",
    "curves",
)
_MULTICLASS_KEYS = ("n", "class_counts", "confusion_matrix", "metrics", "per_class")
_GAPPED = ("gap_to_overall",)  # a subgroup's entries: the gap of each metric to the overall one


def _metric(f: Fields, metric: Any, path: str) -> None:
    """{value, ci?, note?, numerator?, denominator?, average?}: ci is null or {lower, upper, level, method}."""
    f.exact(f.table(metric, path), {"value": _NUMBER_OR_NULL}, path, _METRIC_LATER)
    if metric.get("ci") is not None:
        f.exact(metric["ci"], _CI, f"{path}.ci")


def _metrics(
    f: Fields, table: dict[str, Any], key: str, names: tuple[str, ...], path: str, more: tuple = ()
) -> dict[str, Any]:
    """table[key] holds each named metric and nothing else (but `more`, checked by the caller)."""
    where = f"{path}.{key}"
    metrics = f.field(table, key, TABLE, path)
    for name in names:
        _metric(f, f.field(metrics, name, TABLE, where), f"{where}.{name}")
    f.only(metrics, (*names, *more), where)
    return metrics


def _curves(f: Fields, entry: dict[str, Any], path: str) -> None:
    """The ROC and PR curves (the overall entry only): lists of numbers."""
    if "curves" not in entry:
        return
    curves = f.exact(
        f.field(entry, "curves", TABLE, path), {"roc": TABLE, "pr": TABLE}, f"{path}.curves"
    )
    f.exact(curves["roc"], {"fpr": _NUMBERS, "tpr": _NUMBERS}, f"{path}.curves.roc")
    f.exact(curves["pr"], {"recall": _NUMBERS, "precision": _NUMBERS}, f"{path}.curves.pr")


def _binary_entry(f: Fields, entry: Any, path: str, more: tuple[str, ...] = ()) -> None:
    """A 2x2 entry: counts, the confusion matrix, every metric and the calibration; `more` the caller checks."""
    f.fields(f.table(entry, path), {"n": COUNT, "n_positive": COUNT, "n_negative": COUNT}, path)
    matrix = f.field(entry, "confusion_matrix", TABLE, path)
    f.exact(matrix, dict.fromkeys(("tp", "fp", "fn", "tn"), COUNT), f"{path}.confusion_matrix")
    _metrics(f, entry, "metrics", BINARY_METRICS, path)
    _metrics(f, entry, "calibration", CALIBRATION_METRICS, path, ("bins",))
    for i, item in enumerate(f.objects(entry["calibration"], "bins", f"{path}.calibration")):
        f.exact(item, _BIN, f"{path}.calibration.bins[{i}]")
    _curves(f, entry, path)
    f.only(entry, (*_BINARY_KEYS, *more), path)


def _multiclass_entry(
    f: Fields, entry: Any, classes: list[str], path: str, more: tuple[str, ...] = ()
) -> None:
    """A K-class entry: counts per class, the KxK matrix, accuracy, macro AUROC, one binary entry per class."""
    f.field(f.table(entry, path), "n", COUNT, path)
    f.exact(
        f.field(entry, "class_counts", TABLE, path),
        dict.fromkeys(classes, COUNT),
        f"{path}.class_counts",
    )
    matrix = f.field(entry, "confusion_matrix", TABLE, path)
    axes = {"rows": one_of("reference"), "columns": one_of("predicted")}
    f.exact(matrix, {"labels": TEXTS, "matrix": LIST}, f"{path}.confusion_matrix", axes)
    if matrix["labels"] != classes:
        raise f.fail(f"{path}.confusion_matrix.labels", "must list the classes in order")
    rows = matrix["matrix"]
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
        _binary_entry(f, item, f"{path}.per_class[{i}]", ("class", *_GAPPED))
        if "gap_to_overall" in item:
            _gaps(f, item, f"{path}.per_class[{i}]")
    f.only(entry, (*_MULTICLASS_KEYS, *more), path)


def _gaps(f: Fields, entry: dict[str, Any], path: str) -> None:
    """Keyed by metric ids (data by design): each key a metric samdkit computes, each value a number."""
    metric_id = ("a metric id", lambda k: k in METRIC_LABELS)
    f.keyed(
        f.field(entry, "gap_to_overall", TABLE, path),
        f"{path}.gap_to_overall",
        _NUMBER_OR_NULL,
        metric_id,
    )


def _subgroups(f: Fields, doc: dict[str, Any], classes: list[str] | None) -> None:
    for i, group in enumerate(f.objects(doc, "subgroups")):
        path = f"subgroups[{i}]"
        more = (*_SUBGROUP, *_GAPPED)
        if classes is None:
            _binary_entry(f, group, path, more)
        else:
            _multiclass_entry(f, group, classes, path, more)
        f.fields(group, _SUBGROUP, path)
        _gaps(f, group, path)
    f.field(doc, "subgroups_below_min_n", TEXTS)
    for i, item in enumerate(f.objects(doc, "subgroup_values_unexpected")):
        f.exact(item, {"column": TEXT, "rows": COUNT}, f"subgroup_values_unexpected[{i}]")


def _criteria(f: Fields, doc: dict[str, Any]) -> None:
    """The criteria rows, the summary and the verdict, which must agree (a hand-edited PASS is refused)."""
    rows = f.objects(doc, "criteria")
    for i, row in enumerate(rows):
        f.exact(row, _CRITERION, f"criteria[{i}]", {"class": nullable(TEXT)})
    summary = f.field(doc, "summary", TABLE)
    f.exact(summary, dict.fromkeys(("criteria", "passed", "failed"), COUNT), "summary")
    failed = sum(row["result"] != "PASS" for row in rows)
    counted = (summary["criteria"], summary["passed"], summary["failed"])
    if counted != (len(rows), len(rows) - failed, failed):
        raise f.fail("summary", "does not count the criteria rows")
    if f.field(doc, "verdict", one_of(*VERDICTS)) != ("FAIL" if failed else "PASS"):
        raise f.fail("verdict", "does not agree with the criteria rows")


_METHODS: dict[str, Kind] = {
    "confidence_level": NUMBER,
    "proportion_ci": TABLE,
    "bootstrap": TABLE,
    "calibration": TABLE,
}
_PROPORTION_CI: dict[str, Kind] = {"name": TEXT, "description": TEXT, "library": TEXT}
_BOOTSTRAP: dict[str, Kind] = {
    "resamples": COUNT,
    "seed": nullable(INT),
    "method": TEXT,
    "stratified": BOOL,
    "description": TEXT,
    "library": TEXT,
}
_CALIBRATION_METHOD: dict[str, Kind] = {
    "bins": COUNT,
    "strategy": TEXT,
    "slope": TEXT,
    "intercept": TEXT,
    "ece": TEXT,
}
_FILE: dict[str, Kind] = {"path": TEXT, "sha256": SHA256}


def _header(f: Fields, doc: dict[str, Any]) -> None:
    """generator, inputs (the digests the report pins), methods, publication."""
    f.exact(f.field(doc, "generator", TABLE), {"name": TEXT, "version": TEXT}, "generator")
    inputs = f.exact(
        f.field(doc, "inputs", TABLE),
        {"predictions": TABLE, "requirements": TABLE, "params": nullable(TABLE)},
        "inputs",
    )
    f.exact(inputs["predictions"], {**_FILE, "rows": COUNT}, "inputs.predictions")
    f.exact(inputs["requirements"], _FILE, "inputs.requirements")
    if inputs["params"] is not None:
        f.exact(inputs["params"], _FILE, "inputs.params")
    methods = f.exact(f.field(doc, "methods", TABLE), _METHODS, "methods")
    f.exact(methods["proportion_ci"], _PROPORTION_CI, "methods.proportion_ci")
    f.exact(methods["bootstrap"], _BOOTSTRAP, "methods.bootstrap")
    f.exact(methods["calibration"], _CALIBRATION_METHOD, "methods.calibration")
    f.exact(f.field(doc, "publication", TABLE), {"min_cell_size": COUNT}, "publication")
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


# every top-level field of a v1 document; v2 adds the keys of a multiclass outcome
_TOP_KEYS = (
    *("schema", "generator", "inputs", "methods", "publication", "threshold", "positive_label"),
    *("headline_metrics", "overall", "subgroups", "subgroups_below_min_n"),
    *("subgroup_values_unexpected", "criteria", "summary", "verdict"),
)
_MULTICLASS_TOP = ("task", "classes", "class_metrics")


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
    f.only(doc, _TOP_KEYS if classes is None else (*_TOP_KEYS, *_MULTICLASS_TOP), "")
    return doc


def read(path: str | Path, name: str | None = None) -> dict[str, Any]:
    """Parse and validate an evaluation file; `name` is how messages call it (default: the path)."""
    return read_json(path, name, validate, "evaluation not found (run 'samdkit evaluate' first)")


def write(path: str | Path, doc: dict[str, Any]) -> Path:
    """Validate, then write atomically as stable JSON (sorted keys, 2-space indent): same data, same bytes."""
    return write_json(path, doc, validate)
