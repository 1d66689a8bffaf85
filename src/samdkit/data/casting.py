"""Typing only as the suite says: which columns a suite types, and the lossless conversion of their text.

A declared type (expect_column_values_to_be_of_type, ..._in_type_list) converts a column and counts the cells
that do not parse; expectations comparing numbers (or booleans) type it only when every written cell parses.
"""

from __future__ import annotations

from typing import Any

from samdkit.data.reading import Dataset

NUMERIC_STATISTICS = {
    "expect_column_mean_to_be_between",
    "expect_column_median_to_be_between",
    "expect_column_stdev_to_be_between",
    "expect_column_sum_to_be_between",
    "expect_column_quantile_values_to_be_between",
    "expect_column_value_z_scores_to_be_less_than",
}
BOUNDED = {
    "expect_column_values_to_be_between",
    "expect_column_min_to_be_between",
    "expect_column_max_to_be_between",
}
VALUE_SETS = {
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set",
    "expect_column_distinct_values_to_be_in_set",
    "expect_column_distinct_values_to_contain_set",
    "expect_column_distinct_values_to_equal_set",
    "expect_column_most_common_value_to_be_in_set",
}
DECLARING = {"expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list"}
TEXT_TYPES = {"str", "string", "object", "object_", "o", "stringdtype", "unicode", "unicode_"}
INTEGER_TEXT = r"[+-]?[0-9]+"
NUMBER_TEXT = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"


def type_target(name: Any) -> str | None:
    """What a GX ``type_`` name asks of a text column: text, int, float, bool, datetime, ..."""
    low = str(name).strip().lower()
    if low in TEXT_TYPES:
        return "text"
    if low.startswith(("int", "uint", "long")):
        return "int"
    if low.startswith(("float", "double")):
        return "float"
    if low in {"bool", "bool_", "boolean"}:
        return "bool"
    if (low.startswith("datetime64[") and "," in low) or low in {"timestamp", "datetimetzdtype"}:
        return "datetime_tz"
    if low.startswith("datetime"):
        return "datetime"
    if low.startswith("timedelta"):
        return "timedelta"
    if low in {"category", "categoricaldtypetype", "categoricaldtype"}:
        return "category"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _uses(expectation: dict[str, Any]) -> str | None:
    """The kind of values an expectation compares its column with, from its kwargs."""
    kind, kwargs = expectation.get("type"), expectation.get("kwargs") or {}
    if kind in NUMERIC_STATISTICS:
        return "number"
    if kind in BOUNDED and any(_is_number(kwargs.get(k)) for k in ("min_value", "max_value")):
        return "number"
    values = kwargs.get("value_set")
    if kind in VALUE_SETS and isinstance(values, list) and values:
        if all(_is_number(v) for v in values):
            return "number"
        if all(isinstance(v, bool) for v in values):
            return "bool"
    return None


def plan_types(expectations: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Per column, the type a suite gives it and which expectation says so.

    A declared type (expect_column_values_to_be_of_type, or the first convertible type of
    ..._in_type_list without a text type) wins; otherwise expectations comparing numbers (or
    booleans) make the column numeric (or boolean). Anything else stays text.
    """
    declared: dict[str, dict[str, str]] = {}
    implied: dict[str, dict[str, str]] = {}
    for expectation in expectations:
        kind, kwargs = expectation.get("type"), expectation.get("kwargs") or {}
        column = kwargs.get("column")
        if not isinstance(column, str):
            continue
        if kind == "expect_column_values_to_be_of_type":
            target = type_target(kwargs.get("type_"))
            if target:
                declared.setdefault(column, {"as": target, "declared_by": kind})
        elif kind == "expect_column_values_to_be_in_type_list":
            targets = [type_target(t) for t in kwargs.get("type_list") or []]
            if "text" in targets:
                declared.setdefault(column, {"as": "text", "declared_by": kind})
            elif any(targets):
                target = next(t for t in targets if t)
                declared.setdefault(column, {"as": target, "declared_by": kind})
        elif use := _uses(expectation):
            implied.setdefault(column, {"as": use, "declared_by": kind})
    plan = {**implied, **declared}
    return {column: spec for column, spec in plan.items() if spec["as"] != "text"}


def _arrow_text(series: Any) -> Any:
    import pyarrow as pa

    text = pa.array(series, from_pandas=True)  # Arrow-backed text: no copy
    return text if pa.types.is_large_string(text.type) else text.cast(pa.large_string())


def _cast(text: Any, to: Any) -> Any:
    """Arrow's cast of every cell, or None when one cell does not parse."""
    import pyarrow as pa

    try:
        return text.cast(to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _int_series(ints: Any) -> Any:
    import pandas as pd
    import pyarrow as pa

    values = ints.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    return values if ints.null_count else values.astype("int64")


def _parse_numbers(series: Any, target: str) -> tuple[Any, int]:
    """Text to numbers, exactly: Arrow's correctly rounded parser; integers stay integers.

    ``int`` gives int64 (Int64 when cells are missing), ``float`` float64, ``number`` int64
    when every cell is an integer (Python ints beyond int64, never rounded) and float64
    otherwise. A cell that is not a number becomes missing and is counted. The common case
    (every cell parses) is one Arrow cast; the rest goes through `_parse_numbers_cellwise`.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = _arrow_text(series)
    if target in ("int", "number") and (ints := _cast(text, pa.int64())) is not None:
        return _int_series(ints).set_axis(series.index), 0
    floats = _cast(text, pa.float64()) if target in ("float", "number") else None
    # "nan" and "inf" parse, but are not numbers as written here: the cellwise path counts them
    if floats is not None and pc.all(pc.is_finite(floats)).as_py() is not False:
        # a number column of integers beyond int64 (all integral) must not become floats
        fractional = pc.any(pc.not_equal(floats, pc.floor(floats))).as_py()
        if target == "float" or fractional:
            return floats.to_pandas().set_axis(series.index), 0
    return _parse_numbers_cellwise(text, target, series.index)


def _parse_numbers_cellwise(text: Any, target: str, index: Any) -> tuple[Any, int]:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    present = len(text) - text.null_count
    text = pc.replace_substring_regex(pc.utf8_trim_whitespace(text), r"^\+", "")
    is_int = pc.match_substring_regex(text, f"^{INTEGER_TEXT}$")
    all_int = bool(pc.all(pc.fill_null(is_int, True)).as_py())
    if target == "int" or (target == "number" and all_int):
        ints = pc.if_else(is_int, text, pa.scalar(None, pa.large_string()))
        if (parsed := _cast(ints, pa.int64())) is not None:
            values = _int_series(parsed)
        else:  # beyond int64: Python ints for a number, unparsed for int64
            values = pd.Series(
                [None if v is None else int(v) for v in ints.to_pylist()], dtype=object
            )
            if target == "int":
                fits = values.map(lambda v: v is None or -(2**63) <= v < 2**63)
                values = values.where(fits, None).astype("Int64")
        return values.set_axis(index), present - int(values.notna().sum())
    numbers = pc.if_else(
        pc.match_substring_regex(text, f"^{NUMBER_TEXT}$"), text, pa.scalar(None, pa.large_string())
    )
    values = numbers.cast(pa.float64()).to_pandas()
    return values.set_axis(index), present - int(values.notna().sum())


def convert(series: Any, target: str) -> tuple[Any, int]:
    """A text column typed as ``target``, and how many written cells did not parse."""
    import pandas as pd

    present = int(series.notna().sum())
    if target in ("int", "float", "number"):
        return _parse_numbers(series, target)
    if target == "bool":
        low = series.str.strip().str.lower()
        values = low.map({"true": True, "false": False}).astype("boolean")
        if not values.isna().any():
            values = values.astype(bool)
    elif target in ("datetime", "datetime_tz"):
        values = pd.to_datetime(
            series, format="ISO8601", errors="coerce", utc=target == "datetime_tz"
        )
    elif target == "timedelta":
        values = pd.to_timedelta(series, errors="coerce")
    elif target == "category":
        return series.astype("category"), 0
    else:
        return series, 0
    return values, present - int(values.notna().sum())


def typed(dataset: Dataset, plan: dict[str, dict[str, str]]) -> tuple[Any, dict[str, Any]]:
    """The frame a suite sees: a text dataset's planned columns converted, with what happened.

    A declared type converts the column even when some cells do not parse (they become missing,
    and are counted); a type only implied by numeric expectations converts it only when every
    written cell parses, else the column stays text for the other expectations.
    """
    if not dataset.text:
        return dataset.frame, {}
    frame, typing = dataset.frame, {}
    columns = {}
    for column, spec in plan.items():
        if column not in frame.columns:
            continue
        values, unparsed = convert(frame[column], spec["as"])
        typing[column] = {**spec, "unparsed": unparsed}
        if unparsed and spec["declared_by"] not in DECLARING:
            typing[column]["kept_as_text"] = True  # only a declared type may turn text missing
        else:
            columns[column] = values
    return (frame.assign(**columns) if columns else frame), typing


def draft_plan(frame: Any) -> dict[str, dict[str, str]]:
    """For a draft from text: the columns whose every written value is a number or a boolean.

    Conservative: an integer with a leading zero (``000123``) is a code and stays text, and so
    does an integer beyond int64 and any column with one value that is not a number.
    """
    plan = {}
    for column in frame.columns:
        values = frame[column].dropna()
        if values.empty:
            continue
        if values.str.fullmatch(r"-?(?:0|[1-9][0-9]*)").all():
            if not convert(values, "int")[1]:
                plan[column] = {"as": "int", "declared_by": "draft"}
        elif values.str.fullmatch(NUMBER_TEXT).all() and not values.str.match(r"-?0[0-9]").any():
            plan[column] = {"as": "float", "declared_by": "draft"}
        elif values.str.lower().isin(["true", "false"]).all():
            plan[column] = {"as": "bool", "declared_by": "draft"}
    return plan
