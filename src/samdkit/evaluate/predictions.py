"""reports/predictions.csv read and checked: a binary outcome (`score`) or a multiclass one (`score_<class>`).

Columns: `label` (numbers or text; `label == data.positive_label` is positive), `score` or one `score_<class>`
per class, `predicted` (derived when absent), subgroup columns; a row or id column is ignored. Bad input is one
line, exit 2, naming counts, never a row value (docs/evaluation-schema.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from samdkit.core.errors import UserError

SCORE_PREFIX = "score_"


def some(names: list[str], shown: int = 8) -> str:
    """A list of class names for a one-line message: the first few, then how many more."""
    head = ", ".join(str(n) for n in names[:shown])
    return head if len(names) <= shown else f"{head} and {len(names) - shown} more"


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
            f"({some(names)}): a score_<class> column missing, or a wrong label"
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
                f"({some(names)})"
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
