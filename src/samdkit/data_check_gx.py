"""Great Expectations 1.x glue for `samdkit check-data`: load suites, validate, draft a suite.

great_expectations and pandas are imported inside functions (a 3 s import); nothing here runs on
`samdkit --help`. A validation goes through a GX data source chosen by name (``pandas`` today), so a
SQL or Spark data source can later serve the same suite JSON unchanged.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

from samdkit.errors import UserError

DATASOURCES = ("pandas",)
PARTIAL_EXAMPLES = 10
# expect_column_values_to_be_of_type names (type_list does not match pandas 3's "str" dtype)
_TYPES = {"float": "float64", "int": "int64", "str": "str", "bool": "bool"}


def read_suite_json(path: Path, label: str) -> dict[str, Any]:
    """The JSON of a suite file (GX ExpectationSuite.to_json_dict layout), or one clear line."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{label}: suite file not found") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{label}: malformed suite JSON: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("expectations"), list):
        raise UserError(f"{label}: not a Great Expectations suite (no 'expectations' list)")
    if not all(isinstance(e, dict) for e in raw["expectations"]):
        raise UserError(f"{label}: every expectation must be a JSON object")
    raw.setdefault("name", path.stem)
    return raw


def _skip_iri_format_checker() -> None:
    """Keep jsonschema from loading rfc3987-syntax while GX imports (1.3 s of GX's 4.5 s import).

    GX imports altair, which imports jsonschema, which loads rfc3987-syntax's IRI format checker when it
    is installed (cyclonedx-bom brings it, through jsonschema[format-nongpl]); that module builds a lark
    grammar at import. Nothing here validates IRI formats, so this process goes without the checker:
    jsonschema treats a module set to None in sys.modules as not installed.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]


class Validator:
    """One ephemeral GX context with one data source, reused for every suite of a run."""

    def __init__(self, datasource: str = "pandas") -> None:
        if datasource not in DATASOURCES:
            raise UserError(
                f"data source '{datasource}' is not supported (supported: {', '.join(DATASOURCES)})"
            )
        _skip_iri_format_checker()
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        logging.getLogger("great_expectations").setLevel(logging.CRITICAL)
        self.gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        self.source = self.context.data_sources.add_pandas("samdkit")
        self._assets = 0

    def load_suite(self, raw: dict[str, Any], label: str) -> tuple[Any, list[dict[str, Any]]]:
        """A GX ExpectationSuite from its JSON, and its expectations as written in the file."""
        from great_expectations.expectations.expectation_configuration import (
            ExpectationConfiguration,
        )

        expectations = raw["expectations"]
        if not expectations:
            raise UserError(f"{label}: the suite has no expectations")
        # built one by one: GX's ExpectationSuite(**json) logs and silently drops an invalid one
        built = []
        for number, written in enumerate(copy.deepcopy(expectations), start=1):
            try:
                built.append(ExpectationConfiguration(**written).to_domain_obj())
            except Exception as exc:  # GX raises pydantic, TypeError and its own errors
                text = str(exc).strip()
                first = text.splitlines()[0] if text else type(exc).__name__
                kind = written.get("type", "?")
                raise UserError(
                    f"{label}: invalid expectation suite: expectation {number} ({kind}): {first}"
                ) from None
        try:
            suite = self.gx.ExpectationSuite(
                name=str(raw["name"]), expectations=built, meta=raw.get("meta")
            )
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(f"{label}: invalid expectation suite: {first}") from None
        for index, expectation in enumerate(suite.expectations):
            expectation.id = (
                f"00000000-0000-0000-0000-{index:012d}"  # maps results back to the file
            )
        return suite, expectations

    def validate(
        self, suite: Any, written: list[dict[str, Any]], frame: Any, parameters: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Validate frame against suite; one result per expectation, in the suite's order."""
        self._assets += 1
        asset = self.source.add_dataframe_asset(f"batch-{self._assets}")
        batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(
            batch_parameters={"dataframe": frame}
        )
        result = batch.validate(
            suite,
            expectation_parameters=parameters,
            result_format={
                "result_format": "SUMMARY",
                "partial_unexpected_count": PARTIAL_EXAMPLES,
            },
        )
        rows = []
        for item in result.results:
            index = int(item.expectation_config.id.rsplit("-", 1)[1])
            rows.append((index, _row(item, written[index])))
        return [row for _, row in sorted(rows, key=lambda pair: pair[0])]


def _plain(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN to None, containers recursively."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _row(item: Any, written: dict[str, Any]) -> dict[str, Any]:
    result = item.result or {}
    exception = item.exception_info or {}
    messages = (
        [exception.get("exception_message")]
        if "raised_exception" in exception
        else [
            info.get("exception_message") for info in exception.values() if isinstance(info, dict)
        ]
    )
    messages = [m for m in messages if m]
    kwargs = dict(written.get("kwargs", {}))
    return {
        "type": written.get("type") or item.expectation_config.type,
        "column": kwargs.get("column"),
        "kwargs": _plain(kwargs),
        "meta": _plain(written.get("meta") or {}),
        "success": bool(item.success),
        "observed_value": _plain(result.get("observed_value")),
        "element_count": result.get("element_count"),
        "unexpected_count": result.get("unexpected_count"),
        "unexpected_percent": _plain(result.get("unexpected_percent")),
        "partial_unexpected_list": _plain(result.get("partial_unexpected_list")),
        "details": _plain(result.get("details")),
        "exception": messages[0] if messages else None,
    }


def _kind(dtype: Any) -> str:
    import pandas as pd

    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    return "str"


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def draft_suite(
    frame: Any,
    name: str,
    *,
    id_column: str | None,
    label_column: str | None,
    cross_parameters: dict[str, str],
    margin: float = 0.1,
    max_categories: int = 20,
) -> dict[str, Any]:
    """A GX suite JSON drafted from a trusted frame: a starting point to review, never a verdict.

    Schema (ordered columns, a type per column), not-null where the data has no null, numeric
    ranges widened by ``margin`` of their span (floored at 0 for non-negative data), value sets
    for low-cardinality columns and the label, uniqueness of the id, row-count bounds (half to ten
    times the rows), and for each ``cross_parameters`` entry (parameter name -> column) a
    not-in-set expectation whose values are fed at run time.
    """
    import great_expectations as gx
    import great_expectations.expectations as gxe

    rows = len(frame)
    expectations: list[Any] = [
        gxe.ExpectTableColumnsToMatchOrderedList(column_list=[str(c) for c in frame.columns]),
        gxe.ExpectTableRowCountToBeBetween(min_value=max(1, rows // 2), max_value=rows * 10),
    ]
    for column in frame.columns:
        series = frame[column]
        kind = _kind(series.dtype)
        expectations.append(gxe.ExpectColumnValuesToBeOfType(column=column, type_=_TYPES[kind]))
        if not series.isna().any():
            expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
        if column == id_column:
            expectations.append(gxe.ExpectColumnValuesToBeUnique(column=column))
            continue
        distinct = sorted(_plain(v) for v in series.dropna().unique())
        if column == label_column or (kind in ("str", "bool") and len(distinct) <= max_categories):
            expectations.append(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=distinct))
        elif kind in ("int", "float") and distinct:
            low, high = float(series.min()), float(series.max())
            pad = (high - low) * margin
            low = 0.0 if low >= 0 and low - pad < 0 else low - pad
            expectations.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=column, min_value=_round(low), max_value=_round(high + pad)
                )
            )
    for parameter, column in cross_parameters.items():
        if column in frame.columns:
            expectations.append(
                gxe.ExpectColumnValuesToNotBeInSet(
                    column=column,
                    value_set={"$PARAMETER": parameter},
                    meta={"notes": f"independence: no {column} of '{parameter}' may appear here"},
                )
            )
    suite = gx.ExpectationSuite(name=name, expectations=expectations)
    payload = suite.to_json_dict()
    payload.pop("id", None)
    for expectation in payload["expectations"]:
        expectation.pop("id", None)
        expectation.pop("rendered_content", None)
    payload["meta"] = {
        "notes": "Drafted by `samdkit check-data --init` from a trusted dataset: review every "
        "bound before committing."
    }
    return _plain(payload)
