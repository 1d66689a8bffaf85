"""reports/evaluation.json: the one strict, versioned reader and writer (docs/evaluation-schema.md).

`samdkit evaluate` writes it through `write`; the report, the model card, the PR comment, the PCCP judgement
and MLflow logging read it through `read` / `validate`. Validation checks every field a consumer uses, with its
type, so a foreign or hand-edited file is one line naming the field (exit 2), never a KeyError (exit 3).
Schemas: `samdkit/evaluation/v1` (a binary outcome, unchanged since v1) and `/v2` (multiclass: v1 + `task`,
`classes`, `class_metrics`, per-class entries).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from samdkit.core.errors import UserError

SCHEMA_BINARY = "samdkit/evaluation/v1"
SCHEMA_MULTICLASS = "samdkit/evaluation/v2"
SCHEMAS = (SCHEMA_BINARY, SCHEMA_MULTICLASS)  # what readers accept; anything else is refused
VERDICTS = ("PASS", "FAIL")

# the metrics of every binary entry (and of each one-vs-rest entry of a multiclass outcome)
BINARY_METRICS = (
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "accuracy",
    "prevalence",
    "f1",
    "auroc",
    "auprc",
)
CALIBRATION_METRICS = ("brier", "ece", "calibration_slope", "calibration_intercept")
MULTICLASS_METRICS = ("accuracy", "auroc")

# JSON kinds: a name for the message and a test (bool is not a number, a number is finite)
_Kind = tuple[str, Callable[[Any], bool]]
NUMBER: _Kind = (
    "a number",
    lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
)
INT: _Kind = ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool))
COUNT: _Kind = ("an integer >= 0", lambda v: INT[1](v) and v >= 0)
TEXT: _Kind = ("a string", lambda v: isinstance(v, str))
BOOL: _Kind = ("true or false", lambda v: isinstance(v, bool))
TABLE: _Kind = ("an object", lambda v: isinstance(v, dict))
LIST: _Kind = ("a list", lambda v: isinstance(v, list))
TEXTS: _Kind = (
    "a list of strings",
    lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v),
)
LABEL: _Kind = (
    "a label (text or number)",
    lambda v: TEXT[1](v) or NUMBER[1](v) or isinstance(v, bool),
)


def nullable(kind: _Kind) -> _Kind:
    return (f"{kind[0]} or null", lambda v: v is None or kind[1](v))


def one_of(*values: str) -> _Kind:
    return (" or ".join(repr(v) for v in values), lambda v: v in values)


class _Check:
    """Field checks on one parsed document; every failure names the dotted field."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, field: str, problem: str) -> UserError:
        return UserError(f"{self.where}: malformed evaluation: '{field}' {problem}")

    def field(self, table: dict[str, Any], key: str, kind: _Kind, path: str = "") -> Any:
        name = f"{path}.{key}" if path else key
        if key not in table:
            raise self.fail(name, "is missing")
        value = table[key]
        if not kind[1](value):
            raise self.fail(name, f"must be {kind[0]}")
        return value

    def fields(self, table: dict[str, Any], spec: dict[str, _Kind], path: str = "") -> None:
        for key, kind in spec.items():
            self.field(table, key, kind, path)

    def items(self, values: list[Any], kind: _Kind, path: str) -> None:
        for i, value in enumerate(values):
            if not kind[1](value):
                raise self.fail(f"{path}[{i}]", f"must be {kind[0]}")


def _metric(c: _Check, metric: Any, path: str) -> None:
    """{value, ci?}: ci is null or {lower, upper, level, method}."""
    if not isinstance(metric, dict):
        raise c.fail(path, "must be an object")
    c.field(metric, "value", nullable(NUMBER), path)
    ci = metric.get("ci")
    if ci is not None:
        if not isinstance(ci, dict):
            raise c.fail(f"{path}.ci", "must be an object or null")
        spec = {
            "lower": nullable(NUMBER),
            "upper": nullable(NUMBER),
            "level": NUMBER,
            "method": TEXT,
        }
        c.fields(ci, spec, f"{path}.ci")


def _metrics(c: _Check, entry: dict[str, Any], names: tuple[str, ...], path: str) -> None:
    table = c.field(entry, "metrics", TABLE, path)
    for name in names:
        _metric(c, c.field(table, name, TABLE, f"{path}.metrics"), f"{path}.metrics.{name}")


def _binary_entry(c: _Check, entry: Any, path: str) -> None:
    """A 2x2 entry: counts, the confusion matrix, every metric and the calibration."""
    if not isinstance(entry, dict):
        raise c.fail(path, "must be an object")
    c.fields(entry, {"n": COUNT, "n_positive": COUNT, "n_negative": COUNT}, path)
    matrix = c.field(entry, "confusion_matrix", TABLE, path)
    c.fields(matrix, dict.fromkeys(("tp", "fp", "fn", "tn"), COUNT), f"{path}.confusion_matrix")
    _metrics(c, entry, BINARY_METRICS, path)
    calibration = c.field(entry, "calibration", TABLE, path)
    for name in CALIBRATION_METRICS:
        _metric(
            c,
            c.field(calibration, name, TABLE, f"{path}.calibration"),
            f"{path}.calibration.{name}",
        )
    bins = c.field(calibration, "bins", LIST, f"{path}.calibration")
    spec = {
        "lower": NUMBER,
        "upper": NUMBER,
        "n": COUNT,
        "mean_score": NUMBER,
        "observed_fraction": NUMBER,
    }
    for i, item in enumerate(bins):
        if not isinstance(item, dict):
            raise c.fail(f"{path}.calibration.bins[{i}]", "must be an object")
        c.fields(item, spec, f"{path}.calibration.bins[{i}]")
    if "curves" in entry and not isinstance(entry["curves"], dict):
        raise c.fail(f"{path}.curves", "must be an object")


def _multiclass_entry(c: _Check, entry: Any, classes: list[str], path: str) -> None:
    """A K-class entry: counts per class, the KxK matrix, accuracy and macro AUROC, one binary entry per class."""
    if not isinstance(entry, dict):
        raise c.fail(path, "must be an object")
    c.field(entry, "n", COUNT, path)
    counts = c.field(entry, "class_counts", TABLE, path)
    for name in classes:
        c.field(counts, name, COUNT, f"{path}.class_counts")
    matrix = c.field(entry, "confusion_matrix", TABLE, path)
    if c.field(matrix, "labels", TEXTS, f"{path}.confusion_matrix") != classes:
        raise c.fail(f"{path}.confusion_matrix.labels", "must list the classes in order")
    rows = c.field(matrix, "matrix", LIST, f"{path}.confusion_matrix")
    square = len(rows) == len(classes) and all(
        isinstance(r, list) and len(r) == len(classes) and all(COUNT[1](v) for v in r) for r in rows
    )
    if not square:
        raise c.fail(f"{path}.confusion_matrix.matrix", "must be a class x class table of counts")
    _metrics(c, entry, MULTICLASS_METRICS, path)
    per_class = c.field(entry, "per_class", LIST, path)
    if [item.get("class") if isinstance(item, dict) else None for item in per_class] != classes:
        raise c.fail(
            f"{path}.per_class", "must hold one entry per class, in the order of 'classes'"
        )
    for i, item in enumerate(per_class):
        _binary_entry(c, item, f"{path}.per_class[{i}]")
        if "gap_to_overall" in item:
            _gaps(c, item["gap_to_overall"], f"{path}.per_class[{i}].gap_to_overall")


def _gaps(c: _Check, gaps: Any, path: str) -> None:
    if not isinstance(gaps, dict):
        raise c.fail(path, "must be an object")
    for name, value in gaps.items():
        if not nullable(NUMBER)[1](value):
            raise c.fail(f"{path}.{name}", "must be a number or null")


def _subgroups(c: _Check, doc: dict[str, Any], entry: Callable[[Any, str], None]) -> None:
    spec = {"column": TEXT, "value": TEXT, "min_n": COUNT, "below_min_n": BOOL, "suppressed": BOOL}
    for i, group in enumerate(c.field(doc, "subgroups", LIST)):
        path = f"subgroups[{i}]"
        entry(group, path)
        c.fields(group, spec, path)
        _gaps(c, c.field(group, "gap_to_overall", TABLE, path), f"{path}.gap_to_overall")
    c.field(doc, "subgroups_below_min_n", TEXTS)
    for i, item in enumerate(c.field(doc, "subgroup_values_unexpected", LIST)):
        if not isinstance(item, dict):
            raise c.fail(f"subgroup_values_unexpected[{i}]", "must be an object")
        c.fields(item, {"column": TEXT, "rows": COUNT}, f"subgroup_values_unexpected[{i}]")


_CRITERION: dict[str, _Kind] = {
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
    "observed": nullable(NUMBER),
    "result": one_of(*VERDICTS),
    "reason": nullable(TEXT),
}


def _criteria(c: _Check, doc: dict[str, Any]) -> None:
    """The criteria rows, the summary and the verdict, which must agree (a hand-edited PASS is refused)."""
    rows = c.field(doc, "criteria", LIST)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise c.fail(f"criteria[{i}]", "must be an object")
        c.fields(row, _CRITERION, f"criteria[{i}]")
        if "class" in row and not nullable(TEXT)[1](row["class"]):
            raise c.fail(f"criteria[{i}].class", "must be a string or null")
    summary = c.field(doc, "summary", TABLE)
    c.fields(summary, {"criteria": COUNT, "passed": COUNT, "failed": COUNT}, "summary")
    failed = sum(row["result"] != "PASS" for row in rows)
    if (summary["criteria"], summary["failed"], summary["passed"]) != (
        len(rows),
        failed,
        len(rows) - failed,
    ):
        raise c.fail("summary", "does not count the criteria rows")
    if c.field(doc, "verdict", one_of(*VERDICTS)) != ("FAIL" if failed else "PASS"):
        raise c.fail("verdict", "does not agree with the criteria rows")


def _header(c: _Check, doc: dict[str, Any]) -> None:
    """generator, inputs (the digests the report pins), methods, publication."""
    c.fields(c.field(doc, "generator", TABLE), {"name": TEXT, "version": TEXT}, "generator")
    inputs = c.field(doc, "inputs", TABLE)
    c.fields(
        c.field(inputs, "predictions", TABLE, "inputs"),
        {"path": TEXT, "sha256": TEXT, "rows": COUNT},
        "inputs.predictions",
    )
    c.fields(
        c.field(inputs, "requirements", TABLE, "inputs"),
        {"path": TEXT, "sha256": TEXT},
        "inputs.requirements",
    )
    params = c.field(inputs, "params", nullable(TABLE), "inputs")
    if params is not None:
        c.fields(params, {"path": TEXT, "sha256": TEXT}, "inputs.params")
    methods = c.field(doc, "methods", TABLE)
    c.fields(
        methods,
        {
            "confidence_level": NUMBER,
            "proportion_ci": TABLE,
            "bootstrap": TABLE,
            "calibration": TABLE,
        },
        "methods",
    )
    c.field(c.field(doc, "publication", TABLE), "min_cell_size", COUNT, "publication")


def _binary(c: _Check, doc: dict[str, Any]) -> None:
    for key in ("task", "classes", "class_metrics"):
        if key in doc:
            raise c.fail(
                key, f"belongs to a multiclass outcome ({SCHEMA_MULTICLASS}), not {SCHEMA_BINARY}"
            )
    c.fields(doc, {"threshold": nullable(NUMBER), "positive_label": nullable(LABEL)})
    _headline(c, doc, "headline_metrics", BINARY_METRICS)
    _binary_entry(c, c.field(doc, "overall", TABLE), "overall")
    _subgroups(c, doc, lambda group, path: _binary_entry(c, group, path))


def _multiclass(c: _Check, doc: dict[str, Any]) -> None:
    c.field(doc, "task", one_of("multiclass"))
    classes = c.field(doc, "classes", TEXTS)
    if len(classes) < 3 or len(set(classes)) != len(classes):
        raise c.fail("classes", "must list 3 or more distinct class names")
    c.fields(doc, {"threshold": nullable(NUMBER), "positive_label": nullable(LABEL)})
    _headline(c, doc, "headline_metrics", MULTICLASS_METRICS)
    _headline(c, doc, "class_metrics", BINARY_METRICS)
    _multiclass_entry(c, c.field(doc, "overall", TABLE), classes, "overall")
    _subgroups(c, doc, lambda group, path: _multiclass_entry(c, group, classes, path))


def _headline(c: _Check, doc: dict[str, Any], key: str, known: tuple[str, ...]) -> None:
    for i, name in enumerate(c.field(doc, key, TEXTS)):
        if name not in known:
            raise c.fail(f"{key}[{i}]", f"names no metric of the entry ({', '.join(known)})")


def validate(doc: Any, where: str) -> dict[str, Any]:
    """Check a parsed evaluation document; raise UserError naming the first defect, else return it."""
    c = _Check(where)
    if not isinstance(doc, dict):
        raise UserError(f"{where}: malformed evaluation: the top level must be a JSON object")
    schema = doc.get("schema")
    if "schema" not in doc:
        raise c.fail("schema", "is missing (not a samdkit evaluation?)")
    if schema not in SCHEMAS:
        shown = str(schema)[:60]
        raise UserError(
            f"{where}: schema {shown!r} is not one this samdkit reads ({', '.join(SCHEMAS)}): "
            "run samdkit evaluate again"
        )
    _header(c, doc)
    (_binary if schema == SCHEMA_BINARY else _multiclass)(c, doc)
    _criteria(c, doc)
    return doc


def read(path: str | Path, name: str | None = None) -> dict[str, Any]:
    """Parse and validate an evaluation file; `name` is how messages call it (default: the path)."""
    from samdkit.core import bounded

    path = Path(path)
    where = name or str(path)
    if not path.is_file():
        raise UserError(f"{where}: evaluation not found (run 'samdkit evaluate' first)")
    return validate(bounded.read_json(path, where), where)


def write(path: str | Path, doc: dict[str, Any]) -> Path:
    """Validate, then write atomically as stable JSON (sorted keys, 2-space indent): same data, same bytes."""
    from samdkit.core import atomic

    validate(doc, str(path))
    return atomic.write_json(path, doc)
