"""Great Expectations 1.x glue for `samdkit check-data`: load suites, validate, draft, upgrade.

great_expectations and pandas are imported inside functions (a 3 s import); nothing here runs on
`samdkit --help`. A validation goes through a GX data source: pandas for a local file, or a SQL or
Spark data source (samdkit.data_sources) serving the same suite JSON unchanged.

Suites are read and written in GX 1.x's own layout (``ExpectationSuiteSchema``, what a GX file
context stores): a suite GX saved (ids and all) loads as it is; a GX 0.x suite is refused with the
command that converts it (`upgrade_suite`). Results keep aggregates only (counts, rates, statistics,
type and column names): row values and ids stay in memory and reach the terminal only on
``--show-values``.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

from samdkit.core.errors import UserError

DATASOURCES = ("pandas",)
PARTIAL_EXAMPLES = 10
# a GX 0.x suite: its top-level name key and its per-expectation type key
LEGACY_SUITE_KEY, LEGACY_TYPE_KEY = "expectation_suite_name", "expectation_type"
# 0.x per-expectation run options; in 1.x they are options of the run, not of the suite
RUN_OPTIONS = ("result_format", "include_config", "catch_exceptions")
# observed values that are names (of types, of columns), not row values
NAMED_OBSERVATIONS = {
    "expect_column_values_to_be_of_type",
    "expect_column_values_to_be_in_type_list",
    "expect_table_columns_to_match_ordered_list",
    "expect_table_columns_to_match_set",
    "expect_table_column_count_to_be_between",
    "expect_table_column_count_to_equal",
}
TABLE_COLUMNS = {"expect_table_columns_to_match_ordered_list", "expect_table_columns_to_match_set"}
# observed values of an identifying column that are counts or shares, never one of its values
IDENTIFIER_COUNTS = {
    "expect_column_unique_value_count_to_be_between",
    "expect_column_proportion_of_unique_values_to_be_between",
    "expect_column_proportion_of_non_null_values_to_be_between",
}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def is_legacy(raw: dict[str, Any]) -> bool:
    """A GX 0.x suite (``expectation_suite_name``, ``expectation_type``)."""
    expectations = raw.get("expectations")
    return LEGACY_SUITE_KEY in raw or (
        isinstance(expectations, list)
        and any(isinstance(e, dict) and LEGACY_TYPE_KEY in e for e in expectations)
    )


def read_suite_json(path: Path, label: str, *, legacy: bool = False) -> dict[str, Any]:
    """The JSON of a GX 1.x suite file, or one clear line (a 0.x suite only when ``legacy``)."""
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
    if is_legacy(raw) and not legacy:
        raise UserError(
            f"{label}: a Great Expectations 0.x suite ('{LEGACY_SUITE_KEY}', "
            f"'{LEGACY_TYPE_KEY}'), which GX 1.x does not load: convert it with "
            f"`samdkit check-data --upgrade-suite {label} NEW.json`, review NEW.json, use it"
        )
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


def _import_gx() -> Any:
    _skip_iri_format_checker()
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.CRITICAL)
    return gx


def build_expectations(expectations: list[dict[str, Any]], label: str) -> list[Any]:
    """GX Expectation objects, one by one (GX's ExpectationSuite(**json) drops a bad one silently).

    GX's own ``id`` and ``rendered_content`` are left out: a suite GX saved carries them, and an
    expectation with an id counts, for GX, as belonging to another suite.
    """
    _import_gx()
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    built = []
    for number, written in enumerate(copy.deepcopy(expectations), start=1):
        written.pop("id", None)
        written.pop("rendered_content", None)
        try:
            built.append(ExpectationConfiguration(**written).to_domain_obj())
        except Exception as exc:  # GX raises pydantic, TypeError and its own errors
            kind = written.get("type", "?")
            raise UserError(
                f"{label}: invalid expectation suite: expectation {number} ({kind}): "
                f"{_first_line(exc)}"
            ) from None
    return built


def suite_to_json(suite: Any) -> dict[str, Any]:
    """A suite as GX's own serialiser writes it, without GX's random ids (reviewed files stay stable)."""
    from great_expectations.core.expectation_suite import ExpectationSuiteSchema

    payload = json.loads(ExpectationSuiteSchema().dumps(suite))
    payload.pop("id", None)
    for expectation in payload["expectations"]:
        expectation.pop("id", None)
        expectation.pop("rendered_content", None)
    return _plain(payload)


def upgrade_suite(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A GX 1.x suite from a 0.x one, and one line per thing that did not convert as it was."""
    gx = _import_gx()
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    built, notes = [], []
    for number, old in enumerate(raw["expectations"], start=1):
        kind = old.get(LEGACY_TYPE_KEY) or old.get("type") or "?"
        kwargs = dict(old.get("kwargs") or {})
        dropped = [key for key in RUN_OPTIONS if kwargs.pop(key, None) is not None]
        if dropped:
            notes.append(
                f"expectation {number} ({kind}): dropped {', '.join(dropped)} "
                "(a run option in GX 1.x, set by samdkit)"
            )
        urns = [
            k
            for k, v in kwargs.items()
            if isinstance(v, dict) and not str(v.get("$PARAMETER", "")).isidentifier()
        ]
        if urns:
            notes.append(
                f"expectation {number} ({kind}): not converted: {', '.join(urns)} uses a 0.x "
                "evaluation-parameter expression; GX 1.x takes a plain parameter name"
            )
            continue
        try:
            config = ExpectationConfiguration(type=kind, kwargs=kwargs, meta=old.get("meta") or {})
            built.append(config.to_domain_obj())
        except Exception as exc:
            notes.append(f"expectation {number} ({kind}): not converted: {_first_line(exc)}")
    meta = {k: v for k, v in (raw.get("meta") or {}).items() if k != "great_expectations_version"}
    version = (raw.get("meta") or {}).get("great_expectations_version")
    meta["upgraded_from"] = f"Great Expectations {version or '0.x'} suite"
    name = str(raw.get(LEGACY_SUITE_KEY) or raw.get("name") or "suite")
    return suite_to_json(gx.ExpectationSuite(name=name, expectations=built, meta=meta)), notes


class Validator:
    """One ephemeral GX context with one data source, reused for every suite of a run."""

    def __init__(self, datasource: str = "pandas") -> None:
        if datasource not in DATASOURCES:
            raise UserError(
                f"data source '{datasource}' is not supported (supported: {', '.join(DATASOURCES)})"
            )
        gx = _import_gx()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        self.source = self.context.data_sources.add_pandas("samdkit")
        self._assets = 0

    def load_suite(self, raw: dict[str, Any], label: str) -> tuple[Any, list[dict[str, Any]]]:
        """A GX ExpectationSuite from its JSON, and its expectations as written in the file."""
        expectations = raw["expectations"]
        if not expectations:
            raise UserError(f"{label}: the suite has no expectations")
        built = build_expectations(expectations, label)
        try:
            suite = self.gx.ExpectationSuite(
                name=str(raw["name"]), expectations=built, meta=raw.get("meta")
            )
        except Exception as exc:
            raise UserError(f"{label}: invalid expectation suite: {_first_line(exc)}") from None
        for index, expectation in enumerate(suite.expectations):
            expectation.id = (
                f"00000000-0000-0000-0000-{index:012d}"  # maps results back to the file
            )
        return suite, expectations

    def open(self, source: Any, plan: dict[str, Any], root: Path) -> Any:
        """A database or Spark source opened in this context (data_sources.EngineData)."""
        from samdkit.data.sources import open_source

        self._assets += 1
        return open_source(self.context, source, plan, root, self._assets)

    def _batch(self, frame: Any) -> Any:
        if hasattr(frame, "batch"):  # a database or Spark source: the data stays there
            return frame.batch
        self._assets += 1
        asset = self.source.add_dataframe_asset(f"batch-{self._assets}")
        return asset.add_batch_definition_whole_dataframe("whole").get_batch(
            batch_parameters={"dataframe": object_text(frame)}
        )

    def validate(
        self,
        suite: Any,
        written: list[dict[str, Any]],
        frame: Any,
        parameters: dict[str, Any],
        *,
        show_values: bool = False,
        id_column: str | None = None,
        identifying: frozenset[str] = frozenset(),
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """One aggregate result per expectation (suite order), and the row values behind failures.

        The observed values of an ``identifying`` column (the id column, and the project's
        identifying columns) are withheld: its max is an MRN; its counts are kept.

        The row values (GX's partial lists, the failing rows' ids, raw observed values and
        messages) are asked of GX only with ``show_values``, and are for the terminal only.
        """
        result_format: dict[str, Any] = {"result_format": "BASIC", "partial_unexpected_count": 0}
        if show_values:
            result_format = {"result_format": "SUMMARY", "partial_unexpected_count": 10}
            if id_column and id_column in list(frame.columns):
                result_format["unexpected_index_column_names"] = [id_column]
        if not hasattr(frame, "batch"):  # a pandas frame: its text reaches GX as objects
            _text_as_str(suite)
        batch = self._batch(frame)
        result = batch.validate(
            suite, expectation_parameters=parameters, result_format=result_format
        )
        rows, values = [], []
        for item in result.results:
            index = int(item.expectation_config.id.rsplit("-", 1)[1])
            row = _row(item, written[index], frame)
            if row["column"] in identifying and row["type"] not in IDENTIFIER_COUNTS:
                row["observed_value"] = _identifier(row["type"], row["observed_value"])
            if not row["success"] and "row_condition" in item.expectation_config.kwargs:
                row["rows_matching_condition"] = self._rows_matching(
                    batch, item.expectation_config.kwargs
                )
            rows.append((index, row))
            if show_values and not item.success:
                values.append({"index": index, **_row_values(item)})
        ordered = [row for _, row in sorted(rows, key=lambda pair: pair[0])]
        return ordered, sorted(values, key=lambda v: v["index"])

    def _rows_matching(self, batch: Any, kwargs: dict[str, Any]) -> int | None:
        """How many rows a failed expectation's row_condition selects (counted by GX)."""
        import great_expectations.expectations as gxe

        condition = {k: kwargs[k] for k in ("row_condition", "condition_parser") if k in kwargs}
        try:
            count = gxe.ExpectTableRowCountToBeBetween(min_value=0, **condition)
            observed = batch.validate(count).result.get("observed_value")
        except Exception:  # the condition itself is broken: the expectation says so
            return None
        return observed if isinstance(observed, int) else None


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


def _numeric(value: Any) -> bool:
    """A number, or lists and mappings of numbers only."""
    if isinstance(value, list):
        return all(_numeric(v) for v in value)
    if isinstance(value, dict):
        return all(_numeric(v) for v in value.values())
    return isinstance(value, int | float) and not isinstance(value, bool)


def _aggregate_observed(kind: str, observed: Any) -> Any:
    """GX's observed value when it is a statistic or a name; else a count, never a row value."""
    observed = _plain(observed)
    if observed is None or kind in NAMED_OBSERVATIONS:
        return observed
    if _numeric(observed):
        return observed  # a statistic (mean, count, quantiles with their levels)
    count = len(observed) if isinstance(observed, list | dict) else 1
    return {"withheld": "row values", "count": count}


def _identifier(kind: str, observed: Any) -> Any:
    """An identifying column's observation: a type name stays, anything drawn from its values not."""
    if observed is None or kind in NAMED_OBSERVATIONS:
        return observed
    return {"withheld": "identifier"}


def object_text(frame: Any) -> Any:
    """The frame with its text columns as object dtype, as GX 1.x's type expectations know text.

    pandas 3 reads text as its ``str`` dtype, which GX compares by dtype name: ``type_list
    ["str"]`` and ``type_ "object"`` would fail on text (docs/data-checks.md: str, object and
    string all mean text). On object dtype GX checks each value, so every text name holds.
    """
    text = {column: object for column in frame.columns if _kind(frame[column].dtype) == "text"}
    return frame.astype(text) if text else frame


def _text_as_str(suite: Any) -> None:
    """Ask GX for "str" wherever the suite names text (str, object, string...: docs/data-checks.md).

    On object-dtype text GX checks each value's Python type, and "str" is the one text name it
    knows there (it rejects "string", and fails "object" in a type list). The suite is this
    validation's own (loaded per job); results still show the names as written.
    """
    import great_expectations.expectations as gxe

    from samdkit.data.casting import type_target

    def name(value: Any) -> Any:
        return "str" if isinstance(value, str) and type_target(value) == "text" else value

    for expectation in suite.expectations:
        if isinstance(expectation, gxe.ExpectColumnValuesToBeOfType):
            expectation.type_ = name(expectation.type_)
        elif isinstance(expectation, gxe.ExpectColumnValuesToBeInTypeList) and isinstance(
            expectation.type_list, list
        ):
            expectation.type_list = list(dict.fromkeys(name(t) for t in expectation.type_list))


def _messages(item: Any) -> list[str]:
    exception = item.exception_info or {}
    messages = (
        [exception.get("exception_message")]
        if "raised_exception" in exception
        else [
            info.get("exception_message") for info in exception.values() if isinstance(info, dict)
        ]
    )
    return [m for m in messages if m]


def _scrubbed(message: str | None, frame: Any, column: Any) -> str | None:
    """GX's message unless it quotes a value of the column (pandas' errors can)."""
    if message is None:
        return None
    message = message.strip().splitlines()[0] if message.strip() else message
    if not hasattr(frame, "iloc"):  # an engine's message: its values are not here to compare
        from samdkit.data.sources import withhold_quoted

        return withhold_quoted(message, [*frame.columns, column])  # the suite's column too
    if isinstance(column, str) and column in frame.columns:
        values = frame[column].dropna().astype(str).unique()
        if any(len(v) >= 2 and v in message for v in values):
            return "withheld: the message quotes row values (--show-values shows it)"
    return message


def _row(item: Any, written: dict[str, Any], frame: Any) -> dict[str, Any]:
    """The aggregate result of one expectation: counts, rates, statistics, names."""
    result = item.result or {}
    kind = written.get("type") or item.expectation_config.type
    kwargs = dict(written.get("kwargs", {}))
    messages = _messages(item)
    details = result.get("details") if kind in TABLE_COLUMNS else None
    return {
        "type": kind,
        "column": kwargs.get("column"),
        "kwargs": _plain(kwargs),
        "meta": _plain(written.get("meta") or {}),
        "success": bool(item.success),
        "observed_value": _aggregate_observed(kind, result.get("observed_value")),
        "element_count": result.get("element_count"),
        "missing_count": result.get("missing_count"),
        "unexpected_count": result.get("unexpected_count"),
        "unexpected_percent": _plain(result.get("unexpected_percent")),
        "details": _plain(details),
        "exception": _scrubbed(messages[0] if messages else None, frame, kwargs.get("column")),
    }


def _row_values(item: Any) -> dict[str, Any]:
    """What `_row` leaves out: for --show-values on a terminal, never for a file."""
    result = item.result or {}
    return {
        "type": item.expectation_config.type,
        "column": item.expectation_config.kwargs.get("column"),
        "observed_value": _plain(result.get("observed_value")),
        "unexpected": _plain(result.get("partial_unexpected_list")),
        "missing": _plain(result.get("partial_missing_list")),
        "rows": _plain(result.get("partial_unexpected_index_list")),
        "messages": _messages(item),
    }


def gx_type_name(dtype: Any) -> str | None:
    """The ``type_`` that GX's pandas check of expect_column_values_to_be_of_type accepts for dtype.

    GX compares the dtype's scalar type with what the name resolves to (numpy, pandas or a
    native type), so e.g. a timezone-aware column is ``Timestamp`` and a category column
    ``CategoricalDtypeType``. None for object columns (GX checks those value by value).
    """
    _import_gx()
    from great_expectations.expectations.core.expect_column_values_to_be_of_type import (
        ExpectColumnValuesToBeOfType,
    )

    if getattr(dtype, "kind", None) == "O" and str(dtype) == "object":
        return None
    for name in dict.fromkeys([str(dtype), dtype.type.__name__]):
        try:
            if ExpectColumnValuesToBeOfType._validate_pandas(None, dtype, name)["success"]:
                return name
        except (TypeError, ValueError, AttributeError):
            continue
    return None


def _kind(dtype: Any) -> str:
    """bool, number, category, text or other (datetimes, durations, mixed objects)."""
    import pandas as pd
    import pyarrow as pa

    arrow = getattr(dtype, "pyarrow_dtype", None)
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if isinstance(dtype, pd.CategoricalDtype) or (
        arrow is not None and pa.types.is_dictionary(arrow)
    ):
        return "category"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_timedelta64_dtype(dtype):
        if arrow is None or pa.types.is_integer(arrow) or pa.types.is_floating(arrow):
            return "number"
        return "other"
    if pd.api.types.is_string_dtype(dtype) and str(dtype) != "object":
        return "text"
    return "other"


def _bounds(series: Any, margin: float) -> tuple[float | int, float | int]:
    """The column's range widened by ``margin`` of its span, rounded outward to 6 digits."""
    low, high = _plain(series.min()), _plain(series.max())
    span = float(high) - float(low)
    pad = span * margin if span else (abs(float(low)) * margin or 1.0)
    floor = float(f"{float(low) - pad:.6g}")
    ceiling = float(f"{float(high) + pad:.6g}")
    if low >= 0 > floor:
        floor = 0.0
    return (floor if floor <= low else low), (ceiling if ceiling >= high else high)


def _value_set(series: Any, min_cell: int) -> list[Any] | None:
    """The column's values, when each was seen at least ``min_cell`` times; else None.

    The small-cell rule of published subgroups (requirements.yaml publication.min_cell_size): a
    value seen a few times (a patient's name typed into the wrong column) is a row value, and a
    suite is committed and echoed into reports/data-check.json, which the signed report carries.
    """
    if int(series.value_counts().min()) < min_cell:
        return None
    return sorted({_plain(v) for v in series.dropna().unique()}, key=lambda v: (str(type(v)), v))


def _all_text(series: Any) -> bool:
    """An object column whose every present value is a str (a CSV column read as written)."""
    if str(series.dtype) != "object":
        return False
    present = series.dropna()
    return bool(len(present)) and all(isinstance(v, str) for v in present)


def _column_expectations(
    series: Any,
    column: str,
    *,
    is_id: bool,
    is_label: bool,
    margin: float,
    max_categories: int,
    min_cell: int,
    rare_columns: list[str],
) -> list[Any]:
    import great_expectations.expectations as gxe

    found: list[Any] = []
    # text is "str" whatever its dtype (the batch GX sees holds it as objects: object_text),
    # also a CSV's text read as written (objects, each a str; an empty cell missing)
    text = _kind(series.dtype) == "text" or _all_text(series)
    type_name = "str" if text else gx_type_name(series.dtype)
    if type_name:
        found.append(gxe.ExpectColumnValuesToBeOfType(column=column, type_=type_name))
    if not series.isna().any():
        found.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
    if is_id:
        return [*found, gxe.ExpectColumnValuesToBeUnique(column=column)]
    kind = "text" if text else _kind(series.dtype)
    present = series.dropna()
    distinct = present.nunique()
    # a value set only for a few values that repeat: never a list of identifiers
    categorical = distinct <= max_categories and distinct * 2 <= len(present)
    if present.empty:
        return found
    if is_label or (kind in ("bool", "category", "text") and categorical):
        values = _value_set(present, min_cell)
        if values is None:
            rare_columns.append(column)
        else:
            found.append(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=values))
    elif kind == "number":
        low, high = _bounds(present, margin)
        found.append(
            gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)
        )
    return found


def draft_suite(
    frame: Any,
    name: str,
    *,
    id_column: str | None,
    label_column: str | None,
    cross_parameters: dict[str, str],
    margin: float = 0.1,
    max_categories: int = 20,
    min_cell: int = 11,
) -> dict[str, Any]:
    """A GX suite JSON drafted from a trusted, typed frame: a starting point to review, never a verdict.

    Schema (ordered columns, GX's type name of each dtype), not-null where the data has no null,
    numeric ranges widened by ``margin`` of their span (floored at 0 for non-negative data),
    value sets for a few repeated values and the label (only when every value was seen at least
    ``min_cell`` times; the columns left without one are named in ``meta.no_value_set``), uniqueness
    of the id, row-count bounds
    (half to ten times the rows), and for each ``cross_parameters`` entry (parameter name ->
    column) a not-in-set expectation whose values are fed at run time. Written through GX's own
    serialiser.
    """
    gx = _import_gx()
    import great_expectations.expectations as gxe

    rows, rare = len(frame), []
    expectations: list[Any] = [
        gxe.ExpectTableColumnsToMatchOrderedList(column_list=[str(c) for c in frame.columns]),
        gxe.ExpectTableRowCountToBeBetween(min_value=max(1, rows // 2), max_value=rows * 10),
    ]
    for column in frame.columns:
        expectations += _column_expectations(
            frame[column],
            str(column),
            is_id=column == id_column,
            is_label=column == label_column,
            margin=margin,
            max_categories=max_categories,
            min_cell=min_cell,
            rare_columns=rare,
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
    meta: dict[str, Any] = {
        "notes": "Drafted by `samdkit check-data --init` from a trusted dataset: review every "
        "bound before committing."
    }
    if rare:
        meta["no_value_set"] = {
            "columns": rare,
            "reason": f"a value seen fewer than {min_cell} times (the small-cell minimum, "
            "requirements.yaml publication.min_cell_size) is not copied into a suite: "
            "write the allowed values by hand if the column needs a value set",
        }
    return suite_to_json(gx.ExpectationSuite(name=name, expectations=expectations, meta=meta))
