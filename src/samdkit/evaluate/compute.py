"""The evaluation document computed: metrics of the whole test set and of each subgroup, the criteria judged.

`compute` returns the document without its input digests (the command adds them); its shape is
samdkit.evaluate.document's (v1 binary, v2 multiclass).
"""

from __future__ import annotations

from typing import Any

from samdkit import __version__
from samdkit.core.errors import UserError
from samdkit.evaluate.criteria import Requirements, evaluate_criteria
from samdkit.evaluate.document import SCHEMA_BINARY, SCHEMA_MULTICLASS
from samdkit.evaluate.predictions import SCORE_PREFIX, label_key, some


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
                f"(class: one of {some(classes)}); without a class only "
                f"{', '.join(MULTICLASS_OVERALL)} apply"
            )
        elif crit.class_name is not None and crit.class_name not in classes:
            raise UserError(
                f"{where}: class '{crit.class_name}' is not a class of the outcome "
                f"({some(classes)})"
            )


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


def _wanted_columns(frame, req: Requirements, subgroup_columns: list[str] | None) -> list[str]:
    """params.yaml data.subgroup_columns, then every column requirements.yaml names; all must exist."""
    wanted = list(subgroup_columns or [])
    for column in [g.column for g in req.subgroups] + [c.subgroup_column for c in req.criteria]:
        if column and column not in wanted:
            wanted.append(column)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise UserError(
            f"predictions have no subgroup column(s) {', '.join(missing)} "
            f"(named in {req.path.name} or params.yaml data.subgroup_columns)"
        )
    return wanted


def _subgroups(
    parts: list[tuple[str, str, Any]], entries: list[dict[str, Any]], overall: dict[str, Any], req
) -> list[dict[str, Any]]:
    """Each subgroup's entry with its minimum n, its gaps to the whole test set and its suppression flag."""
    from samdkit.evaluate.metrics import class_entry

    subgroups: list[dict[str, Any]] = []
    for (column, value, _), entry in zip(parts, entries, strict=True):
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
    return subgroups


def _outcome(
    threshold: float | None, positive_label: Any, classes: list[str] | None
) -> dict[str, Any]:
    """The keys that say which outcome this is: v1 binary, or v2 multiclass."""
    from samdkit.evaluate.metrics import HEADLINE, MULTICLASS_OVERALL

    if classes is None:
        return {
            "schema": SCHEMA_BINARY,
            "threshold": threshold,
            "positive_label": positive_label,
            "headline_metrics": list(HEADLINE),
        }
    return {
        "schema": SCHEMA_MULTICLASS,
        "task": "multiclass",
        "classes": list(classes),
        "threshold": None,  # the predicted class is the project's (most probable by default)
        "positive_label": None,
        "headline_metrics": list(MULTICLASS_OVERALL),
        "class_metrics": ["sensitivity", "specificity", "ppv", "npv", "f1", "auroc"],
    }


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

    methods = req.methods
    check_classes(req, classes, positive_label)
    parts, unexpected = _subgroup_parts(frame, req, _wanted_columns(frame, req, subgroup_columns))
    # the bootstrap of each set of cases is independent and seeded: spread over the cores
    entries = parallel.map_ordered(
        lambda task: _entry(task[0], methods, with_curves=task[1], classes=classes),
        [(frame, True)] + [(part, False) for _, _, part in parts],
    )
    overall = entries[0]
    subgroups = _subgroups(parts, entries[1:], overall, req)
    criteria = evaluate_criteria(req, overall, subgroups, multiclass=classes is not None)
    failed = [c for c in criteria if c["result"] != "PASS"]
    return {
        **_outcome(threshold, positive_label, classes),
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
