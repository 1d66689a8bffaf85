"""`samdkit check-data`: validate the project's datasets against Great Expectations 1.x suites.

Configuration, in the project's pyproject.toml (every key optional; these are the defaults)::

    [tool.samdkit.data]
    datasource = "pandas"              # the GX data source type; the suites do not depend on it
    id_column = "sample_id"            # used by --init (uniqueness), --show-values (row ids)
    label_column = "label"             # used by --init (value set)
    identifying_columns = []           # more columns whose values identify a patient (names, MRNs):
                                       # like id_column, their observed values are never reported

    [[tool.samdkit.data.checks]]       # which dataset is validated by which suite
    dataset = "train_data"             # a path key of samdkit.project (DEFAULT_PATHS) or a path
    suite = "compliance/expectations/train.json"
    # likewise test_data with test.json and golden_data with golden.json

    [tool.samdkit.data.parameters]     # values fed to {"$PARAMETER": name} in a suite at run time
    train_ids = { dataset = "train_data", column = "sample_id" }

    [tool.samdkit.data.exempt]         # pipeline datasets deliberately left without a suite
    # "data/raw/lesions.csv" = "validated upstream by the registry (SOP-12)"

The parameters carry what no single-batch expectation can see: the test suite holds
``expect_column_values_to_not_be_in_set`` on ``sample_id`` with
``value_set={"$PARAMETER": "train_ids"}``, so an id present in both train and test fails like
any other expectation (test independence, GMLP).

Reading (docs/data-checks.md): a CSV is read as written, every cell as text and only an empty
cell missing; a column is typed only as its suite says (``expect_column_values_to_be_of_type``,
``..._in_type_list``, or expectations that compare numbers), losslessly, and a cell that does not
parse counts as a failure of that typing. Parquet keeps its own (Arrow) types.

Coverage: every dataset of the pipeline (the train/test/golden path keys, dvc.yaml deps and outs
under ``data/``, a file ``data.source`` in params.yaml) needs a check or an exemption, or the
run fails naming the file.

Datasets: ``.csv`` (also ``.csv.gz``, ``.tsv``), ``.parquet``/``.pq``; or a named source in
``[tool.samdkit.data.sources]`` (a database table or query, a Spark read: samdkit.data_sources). A missing, unreadable or
empty dataset, a missing or malformed suite, a GX 0.x suite: one line, exit 2. Any failed
expectation or unchecked dataset: exit 1.

The result, ``reports/data-check.json`` (``project.path("data_check")``, written atomically, no
timestamps so that it is reproducible), holds aggregates only — counts, rates, statistics, column,
type and expectation names, never a row value or id::

    {
      "schema": "samdkit/data-check/1",
      "success": true,                 # every expectation passed and every dataset is checked
      "passed": 130, "total": 130,     # expectations, over all validations
      "datasource": "pandas",
      "engines": ["pandas"],
      "great_expectations": "1.24.x",
      "coverage": {"datasets": [...], "unchecked": [], "exempt": {}},
      "validations": [{
        "suite": {"name": "train", "path": "compliance/expectations/train.json", "sha256": "..."},
        "dataset": {"path": "data/prepared/train.csv", "sha256": "...", "rows": 398, "columns": 33,
                    "read_as": "text",      # "text" (CSV) or "typed" (Parquet, database)
                    "source": {"engine": "pandas", "path": "data/prepared/train.csv"}},
        "engine": "pandas",                 # or "sql", "spark"
        "not_run": [],                      # expectations GX could not run on this engine
        "typing": {"mean_radius": {"as": "float", "declared_by": "expect_column_values_to_be_of_type",
                                   "unparsed": 0}},
        "parameters": {"train_ids": {"dataset": "data/prepared/train.csv", "column": "sample_id",
                                     "values": 398}},
        "success": true, "passed": 65, "total": 65,
        "expectations": [{
          "type": "expect_column_values_to_be_between", "column": "mean_radius",
          "kwargs": {...as written in the suite, "$PARAMETER" references unresolved...},
          "meta": {...}, "success": true,
          "observed_value": null,         # statistics and names only; else {"withheld", "count"}
          "element_count": 398, "missing_count": 0, "unexpected_count": 0,
          "unexpected_percent": 0.0,
          "details": null,                # mismatched column names (table expectations only)
          "exception": null,              # GX's message when the expectation could not run
          "reason": "observed 0 of 398 values unexpected; expected ..."
        }]
      }]
    }

``--show-values`` prints the row values and ids behind failures to stderr when it is a terminal,
never to a file. ``--init`` drafts a suite per configured check (or for ``--dataset`` into
``--suite``) from data the team trusts; it never overwrites a suite without ``--force``.
``--upgrade-suite OLD NEW`` converts a GX 0.x suite.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samdkit.core import atomic
from samdkit.core.errors import UserError
from samdkit.core.findings import FORMATS, Finding, render
from samdkit.core.project import DEFAULT_PATHS, Project, load_project, read_yaml
from samdkit.data import sources as data_sources
from samdkit.data.gx import DATASOURCES
from samdkit.data.sources import Source

SCHEMA = "samdkit/data-check/1"
DEFAULT_CHECKS = [
    {"dataset": "train_data", "suite": "train.json"},
    {"dataset": "test_data", "suite": "test.json"},
    {"dataset": "golden_data", "suite": "golden.json"},
]
DEFAULT_PARAMETERS = {"train_ids": {"dataset": "train_data", "column": "sample_id"}}
DATA_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".parquet", ".pq")
PIPELINE_KEYS = ("train_data", "test_data", "golden_data")
TYPING_CHECK = "samdkit_column_values_parse_as_declared_type"
UNCHECKED = "samdkit/dataset-without-suite"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Validate datasets against Great Expectations suites (JSON under "
        "compliance/expectations), write reports/data-check.json and print a summary. Settings "
        "live in [tool.samdkit.data] of pyproject.toml. CSV cells are read as written (text) and "
        "typed only as the suite says. "
        "Exit 1 when an expectation fails or a pipeline dataset has no suite, 2 on bad input."
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format")
    parser.add_argument(
        "--dataset", help="validate (or draft from) this file instead of the configured checks"
    )
    parser.add_argument("--suite", help="the suite JSON for --dataset")
    parser.add_argument("--output", help="result file (default: reports/data-check.json)")
    parser.add_argument("--root", default=".", help="project root (default: current folder)")
    parser.add_argument(
        "--init", action="store_true", help="draft suite(s) from trusted data instead of validating"
    )
    parser.add_argument(
        "--force", action="store_true", help="with --init/--upgrade-suite: overwrite"
    )
    parser.add_argument(
        "--show-values",
        action="store_true",
        help="also print the row values and ids behind failures, to a terminal only (never a file)",
    )
    parser.add_argument(
        "--upgrade-suite",
        nargs=2,
        metavar=("OLD", "NEW"),
        help="convert a Great Expectations 0.x suite OLD into a GX 1.x suite NEW",
    )
    data_sources.add_arguments(parser)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _dataset_path(project: Project, value: Any) -> Path:
    if not isinstance(value, str) or not value:
        raise UserError("pyproject.toml: [tool.samdkit.data] dataset must be a path or a path key")
    known = {**DEFAULT_PATHS, **project.settings.get("paths", {})}
    return (project.path(value) if value in known else project.root / value).resolve()


def _suite_path(project: Project, value: Any) -> Path:
    if not isinstance(value, str) or not value:
        raise UserError("pyproject.toml: [tool.samdkit.data] suite must be a path")
    path = Path(value)
    if len(path.parts) == 1:  # a bare file name lives in the expectations folder
        return project.path("expectations") / path
    return project.root / path


def _config(project: Project, args: argparse.Namespace) -> dict[str, Any]:
    section = project.section("data")
    checks = section.get("checks", DEFAULT_CHECKS)
    parameters = section.get("parameters", DEFAULT_PARAMETERS)
    exempt = section.get("exempt", {})
    if not isinstance(checks, list) or not all(isinstance(c, dict) for c in checks):
        raise UserError("pyproject.toml: [[tool.samdkit.data.checks]] must be tables")
    if not isinstance(parameters, dict) or not all(
        isinstance(p, dict) for p in parameters.values()
    ):
        raise UserError("pyproject.toml: [tool.samdkit.data.parameters] entries must be tables")
    if not isinstance(exempt, dict) or not all(
        isinstance(r, str) and r.strip() for r in exempt.values()
    ):
        raise UserError("pyproject.toml: [tool.samdkit.data.exempt] maps a path to a reason")
    identifying = section.get("identifying_columns", [])
    if not isinstance(identifying, list) or not all(isinstance(c, str) for c in identifying):
        raise UserError(
            "pyproject.toml: [tool.samdkit.data] identifying_columns must be a list of column names"
        )
    id_column = section.get("id_column", "sample_id")
    datasource = section.get("datasource", "pandas")
    if datasource not in DATASOURCES:
        raise UserError(
            f"pyproject.toml: [tool.samdkit.data] datasource '{datasource}' is not supported "
            f"(supported: {', '.join(DATASOURCES)})"
        )
    sources = data_sources.configured(section, project.root)
    adhoc = data_sources.from_arguments(args, project.root)
    if bool(args.dataset or adhoc) != bool(args.suite):
        raise UserError(
            "--dataset (or --url/--url-env with --table/--query) and --suite go together"
        )
    if adhoc or args.dataset:
        dataset = adhoc or sources.get(args.dataset) or Path(args.dataset).resolve()
        pairs = [(_local(dataset), Path(args.suite).resolve())]
    else:
        pairs = [
            (
                _local(sources.get(c.get("dataset")) or _dataset_path(project, c.get("dataset"))),
                _suite_path(project, c.get("suite")),
            )
            for c in checks
        ]
    return {
        "datasource": datasource,
        "id_column": id_column,
        "identifying": frozenset([str(id_column), *identifying]),
        "label_column": section.get("label_column", "label"),
        "pairs": pairs,
        "adhoc": bool(args.dataset or adhoc),
        "exempt": {(project.root / p).resolve(): r for p, r in exempt.items()},
        "parameters": {
            name: (_dataset_path(project, spec.get("dataset")), str(spec.get("column", "")))
            for name, spec in parameters.items()
        },
    }


def _local(dataset: Path | Source) -> Path | Source:
    """A source read by pandas is its file, as it always was."""
    return dataset.path if isinstance(dataset, Source) and dataset.engine == "pandas" else dataset


def sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# -- reading: as written -------------------------------------------------------------------------


@dataclass
class Dataset:
    """A dataset as read: ``text`` when every cell is the text written in the file (CSV)."""

    frame: Any
    text: bool


def _is_data_file(path: Path) -> bool:
    return path.name.lower().endswith(DATA_SUFFIXES) and not path.name.startswith(".")


def _read_csv(path: Path, label: str) -> Any:
    """Every cell as the text written; only an empty cell (quoted or not) is missing.

    Arrow's reader (three times pandas' own here); on a malformed file pandas' C reader says
    where, in words that quote no cell (Arrow's message quotes the offending row).
    """
    import pandas as pd

    options = {
        "sep": "\t" if path.name.lower().endswith(".tsv") else ",",
        "dtype": str,
        "keep_default_na": False,
        "na_values": [""],
        "encoding": "utf-8",
    }
    # checked before Arrow reads: a decoding error raised in Arrow's reader threads can abort the
    # interpreter at exit ("terminate called without an active exception")
    bad = _first_bad_utf8(path)
    if bad is not None:
        offset, byte, line = bad
        raise UserError(
            f"{label}: not UTF-8 text (byte 0x{byte:02x} at offset {offset}, line {line}): "
            "save the file as UTF-8"
        )
    try:
        return pd.read_csv(path, engine="pyarrow", **options)
    except pd.errors.ParserError:
        return pd.read_csv(path, **options)


def _first_bad_utf8(path: Path) -> tuple[int, int, int] | None:
    """Where a file stops being UTF-8: byte offset, the byte, its line; None when all of it is."""
    import codecs
    import gzip

    decoder = codecs.getincrementaldecoder("utf-8")()
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    offset, lines = 0, 1
    with opener(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = offset + exc.start
                return bad, chunk[exc.start], lines + chunk[: exc.start].count(b"\n")
            offset += len(chunk)
            lines += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return offset, 0, lines  # the file ends inside a multi-byte character
    return None


def _read_parquet(path: Path) -> Any:
    """Arrow's types as they are: integers and booleans with nulls stay integers and booleans."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    frame = table.to_pandas()
    for index, field in enumerate(table.schema):
        column = table.column(index)
        if not column.null_count or frame.iloc[:, index].dtype.kind not in "fO":
            continue  # restored from pandas' metadata, or no null to force a float/object column
        if pa.types.is_integer(field.type):
            name = str(field.type)
            nullable = pd.api.types.pandas_dtype(
                "UInt" + name[4:] if name.startswith("uint") else "Int" + name[3:]
            )
        elif field.type == pa.bool_():
            nullable = pd.BooleanDtype()
        else:
            continue
        frame[frame.columns[index]] = column.to_pandas(
            types_mapper=lambda t, n=nullable, f=field.type: n if t == f else None
        ).set_axis(frame.index)
    return frame


def read_dataset(path: Path, label: str) -> Dataset:
    """A non-empty dataset from a CSV or Parquet file, read without guessing, or one clear line."""
    import pandas as pd

    if not path.is_file():
        raise UserError(f"{label}: dataset not found")
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            dataset = Dataset(_read_parquet(path), text=False)
        elif name.endswith((".csv", ".csv.gz", ".tsv")):
            dataset = Dataset(_read_csv(path, label), text=True)
        else:
            raise UserError(f"{label}: unsupported dataset format (use .csv or .parquet)")
    except pd.errors.EmptyDataError:
        raise UserError(f"{label}: dataset is empty") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{label}: unreadable dataset: {first}") from None
    if dataset.frame.empty:
        raise UserError(f"{label}: dataset is empty (no rows)")
    return dataset


# -- typing: only as the suite says ---------------------------------------------------------------

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


# -- parameters and coverage ----------------------------------------------------------------------


def _parameter_uses(expectations: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Each {"$PARAMETER": name} of a suite, and the columns it is compared with."""
    uses: dict[str, set[str]] = {}
    for expectation in expectations:
        kwargs = expectation.get("kwargs") or {}
        for value in kwargs.values():
            if isinstance(value, dict) and "$PARAMETER" in value:
                column = kwargs.get("column")
                uses.setdefault(value["$PARAMETER"], set()).update(
                    [column] if isinstance(column, str) else []
                )
    return uses


def _parameters_for(
    suite_json: list[dict[str, Any]],
    config: dict[str, Any],
    root: Path,
    datasets: dict[Path, Dataset],
    plan: dict[str, dict[str, str]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Values for a suite's {"$PARAMETER": name} references, and their provenance.

    The source column is read as written and typed as the suite types the column it is
    compared with, so text ids meet text ids and numbers meet numbers exactly.
    """
    import pandas as pd

    values, provenance = {}, {}
    for name, columns in sorted(_parameter_uses(suite_json).items()):
        if name not in config["parameters"]:
            raise UserError(
                f"suite parameter '{name}' is not defined in [tool.samdkit.data.parameters]"
            )
        path, column = config["parameters"][name]
        label = _rel(path, root)
        if path not in datasets:
            datasets[path] = read_dataset(path, label)
        source = datasets[path]
        if column not in source.frame.columns:
            raise UserError(
                f"{label}: parameter '{name}' needs column '{column}', which is missing"
            )
        series = source.frame[column].dropna()
        targets = {plan[c]["as"] for c in columns if c in plan}
        if len(targets) > 1:
            raise UserError(f"suite parameter '{name}' is compared with columns of different types")
        if targets and source.text:
            series = convert(pd.Series(series.to_numpy(), dtype="str"), targets.pop())[0].dropna()
        values[name] = list(dict.fromkeys(series.tolist()))
        provenance[name] = {"dataset": label, "column": column, "values": len(values[name])}
    return values, provenance


def _dvc_paths(project: Project) -> list[str]:
    dvc = project.root / "dvc.yaml"
    if not dvc.is_file():
        return []
    stages = (read_yaml(dvc) or {}).get("stages") or {}
    paths = []
    for stage in stages.values() if isinstance(stages, dict) else []:
        for key in ("deps", "outs"):
            for entry in (stage or {}).get(key) or []:
                path = entry if isinstance(entry, str) else next(iter(entry), None)
                if isinstance(path, str) and "${" not in path:
                    paths.append(path)
    return paths


def _source_path(project: Project) -> list[str]:
    params = project.path("params")
    if not params.is_file():
        return []
    data = (read_yaml(params) or {}).get("data")
    source = data.get("source") if isinstance(data, dict) else None
    return [source] if isinstance(source, str) and _is_data_file(Path(source)) else []


def pipeline_datasets(project: Project) -> list[Path]:
    """The data files the pipeline produces or consumes, as this module knows them.

    The train/test/golden path keys when present, every dvc.yaml stage dependency or output
    under ``data/`` (a file, or the data files of a folder), and ``data.source`` of params.yaml
    when it is a data file.
    """
    found = {project.path(key).resolve() for key in PIPELINE_KEYS if project.path(key).is_file()}
    for value in [*_dvc_paths(project), *_source_path(project)]:
        path = (project.root / value).resolve()
        if Path(_rel(path, project.root)).parts[:1] != ("data",):
            continue
        if path.is_dir():
            found.update(
                p
                for p in path.rglob("*")
                if p.is_file()
                and _is_data_file(p)
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif _is_data_file(path):
            found.add(path)
    return sorted(found)


def coverage(project: Project, config: dict[str, Any]) -> dict[str, Any]:
    """Which pipeline datasets have a check, which are exempt, which have neither."""
    root = project.root
    datasets = pipeline_datasets(project)
    checked = {d.path if isinstance(d, Source) else d for d, _ in config["pairs"]}
    exempt = config["exempt"]
    return {
        "datasets": [_rel(p, root) for p in datasets],
        "unchecked": [_rel(p, root) for p in datasets if p not in checked and p not in exempt],
        "exempt": {_rel(p, root): reason for p, reason in sorted(exempt.items())},
    }


# -- validation -----------------------------------------------------------------------------------


def _typing_rows(typing: dict[str, Any], frame: Any) -> list[dict[str, Any]]:
    """A failed pseudo-expectation per column whose written cells did not all parse."""
    rows = []
    for column, spec in typing.items():
        if not spec["unparsed"]:
            continue
        kept = spec.get("kept_as_text", False)
        if not hasattr(frame, "iloc"):  # Spark: the engine counted the written cells
            written = frame.written[column]
            rows.append(_typing_row(column, spec, written, frame.rows - written))
            continue
        present = int(frame[column].notna().sum()) + (0 if kept else spec["unparsed"])
        missing = int(frame[column].isna().sum()) - (0 if kept else spec["unparsed"])
        rows.append(_typing_row(column, spec, present, missing))
    return rows


def _typing_row(column: str, spec: dict[str, Any], present: int, missing: int) -> dict[str, Any]:
    return {
        "type": TYPING_CHECK,
        "column": column,
        "kwargs": {"type_": spec["as"], "declared_by": spec["declared_by"]},
        "meta": {},
        "success": False,
        "observed_value": None,
        "element_count": present,
        "missing_count": missing,
        "unexpected_count": spec["unparsed"],
        "unexpected_percent": 100.0 * spec["unparsed"] / present,
        "details": None,
        "exception": None,
    }


def _stage(config: dict[str, Any], root: Path) -> tuple[list[dict[str, Any]], dict[Path, Dataset]]:
    """Every suite and dataset read, every parameter resolved: bad input fails before GX loads."""
    from samdkit.data.gx import read_suite_json

    datasets: dict[Path, Dataset] = {}
    staged = []
    for dataset, suite_path in config["pairs"]:
        raw = read_suite_json(suite_path, _rel(suite_path, root))
        if isinstance(dataset, Source):  # read where it lives, once GX is loaded
            dataset.precheck(root)  # a missing variable or file is said before GX loads
            text = dataset.text
        else:
            if dataset not in datasets:
                datasets[dataset] = read_dataset(dataset, _rel(dataset, root))
            text = datasets[dataset].text
        plan = plan_types(raw["expectations"]) if text else {}
        values, provenance = _parameters_for(raw["expectations"], config, root, datasets, plan)
        staged.append(
            {
                "dataset": dataset,
                "suite_path": suite_path,
                "raw": raw,
                "plan": plan,
                "values": values,
                "provenance": provenance,
            }
        )
    return staged, datasets


def check(
    project: Project, args: argparse.Namespace
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Validate every (dataset, suite) pair: the report (module docstring) and, with
    --show-values, the row values behind failures (for the terminal only)."""
    config = _config(project, args)
    root = project.root
    cover = None if config["adhoc"] else coverage(project, config)
    staged, datasets = _stage(config, root)
    from samdkit.core import parallel
    from samdkit.data.gx import Validator

    validator = Validator(config["datasource"])
    for job in staged:
        job["suite"], job["written"] = validator.load_suite(
            job["raw"], _rel(job["suite_path"], root)
        )
    for job in staged:  # every database and Spark source reachable before any suite runs
        if isinstance(job["dataset"], Source):
            job["opened"] = validator.open(job["dataset"], job["plan"], root)

    def task(job: dict[str, Any]) -> tuple[Any, ...]:
        if "opened" in job:
            frame, typing = job["opened"], job["opened"].typing
        else:
            frame, typing = typed(datasets[job["dataset"]], job["plan"])
        rows, shown = validator.validate(
            job["suite"],
            job["written"],
            frame,
            job["values"],
            show_values=args.show_values,
            id_column=config["id_column"],
            identifying=config["identifying"],
        )
        return rows + _typing_rows(typing, frame), typing, shown

    # one suite per core (forked after GX's seconds of import, which every suite shares)
    # (connections and Spark's JVM are not shared with forked workers: engines run here)
    engines = any("opened" in job for job in staged)
    outcomes = parallel.map_ordered(task, staged, workers=1 if engines else None)
    validations, shown_all = [], []
    for job, (results, typing, shown) in zip(staged, outcomes, strict=True):
        for result in results:
            result["reason"] = reason(result)
        validation = _validation(job, datasets.get(job["dataset"]), results, typing, root)
        validations.append(validation)
        shown_all += [
            {**s, "suite": job["suite"].name, "dataset": validation["dataset"]["path"]}
            for s in shown
        ]
    import great_expectations as gx

    passed = sum(v["passed"] for v in validations)
    total = sum(v["total"] for v in validations)
    report = {
        "schema": SCHEMA,
        "success": passed == total and not (cover and cover["unchecked"]),
        "passed": passed,
        "total": total,
        "datasource": config["datasource"],
        "engines": sorted({v["dataset"]["source"]["engine"] for v in validations}),
        "great_expectations": gx.__version__,
        "coverage": cover,
        "validations": validations,
    }
    return report, shown_all


def _dataset_entry(job: dict[str, Any], dataset: Dataset | None, root: Path) -> dict[str, Any]:
    """Where the data came from (no credential), its digest when it is a file, its shape."""
    if dataset is not None:
        path = _rel(job["dataset"], root)
        return {
            "path": path,
            "sha256": sha256(job["dataset"]),
            "rows": len(dataset.frame),
            "columns": int(dataset.frame.shape[1]),
            "read_as": "text" if dataset.text else "typed",
            "source": {"engine": "pandas", "path": path},
        }
    return job["opened"].entry(root, sha256)


def _validation(
    job: dict[str, Any],
    dataset: Dataset | None,
    results: list[dict[str, Any]],
    typing: dict[str, Any],
    root: Path,
) -> dict[str, Any]:
    passed = sum(r["success"] for r in results)
    entry = _dataset_entry(job, dataset, root)
    return {
        "suite": {
            "name": job["suite"].name,
            "path": _rel(job["suite_path"], root),
            "sha256": sha256(job["suite_path"]),
        },
        "dataset": entry,
        "engine": entry["source"]["engine"],
        # expectations GX could not run here (e.g. one its engine does not implement): said, not hidden
        "not_run": [
            {"index": i, "type": r["type"], "exception": r["exception"]}
            for i, r in enumerate(results)
            if r["exception"]
        ],
        "typing": typing,
        "parameters": job["provenance"],
        "success": passed == len(results),
        "passed": passed,
        "total": len(results),
        "expectations": results,
    }


# -- reasons and output ---------------------------------------------------------------------------


def _observed(result: dict[str, Any]) -> str | None:
    """What was observed, in words: counts, statistics, names; never a row value."""
    if result.get("rows_matching_condition") == 0:
        return "observed no row matching the row_condition (0 rows): nothing to compute on"
    if result["exception"]:
        return f"could not run: {result['exception']}"
    if result["type"] == TYPING_CHECK:
        kept = "" if result["kwargs"]["declared_by"] in DECLARING else " (column kept as text)"
        return (
            f"observed {result['unexpected_count']} of {result['element_count']} written values "
            f"that are not {result['kwargs']['type_']}{kept}"
        )
    observed = result["observed_value"]
    if isinstance(observed, dict) and observed.get("withheld") == "identifier":
        return "observed value withheld (an identifying column; --show-values shows it)"
    if isinstance(observed, dict) and "withheld" in observed:
        return f"observed {observed['count']} value(s) (withheld: row values; --show-values)"
    if observed is not None:
        text = json.dumps(observed)
        return f"observed {text if len(text) <= 200 else text[:197] + '...'}"
    if result["element_count"] is not None and result["unexpected_count"] is not None:
        return _unexpected(result)
    if result["unexpected_count"] is not None or result.get("missing_count") is not None:
        return (
            f"observed {result['unexpected_count'] or 0} distinct value(s) outside the set, "
            f"{result.get('missing_count') or 0} of the set not found"
        )
    return "observed no value (the column holds no non-missing value)"


def _unexpected(result: dict[str, Any]) -> str:
    """Unexpected among the non-missing values (GX's percentage), missing among all rows."""
    total, missing = result["element_count"], result.get("missing_count") or 0
    share = result["unexpected_percent"]
    if not missing:
        text = f"observed {result['unexpected_count']} of {total} values unexpected"
    else:
        present = total - missing
        text = (
            f"observed {result['unexpected_count']} of the {present} non-missing value"
            f"{'' if present == 1 else 's'} unexpected"
        )
    text += f" ({share:.1f}%)" if isinstance(share, int | float) else ""
    return text + (f", {missing} of {total} missing" if missing else "")


def reason(result: dict[str, Any]) -> str:
    """The observed value or count next to the expected one."""
    expected = {k: v for k, v in result["kwargs"].items() if k not in ("column", "batch_id")}
    text = json.dumps(expected)
    parts = [
        _observed(result) or "",
        f"expected {text if len(text) <= 160 else text[:157] + '...'}",
    ]
    return "; ".join(p for p in parts if p)


def findings_of(report: dict[str, Any]) -> list[Finding]:
    findings = [
        Finding(
            check=UNCHECKED,
            message="no suite validates this dataset of the pipeline: add a "
            "[[tool.samdkit.data.checks]] entry (draft one with --init) or an exemption with "
            "its reason in [tool.samdkit.data.exempt]",
            file=path,
            detail={},
        )
        for path in (report.get("coverage") or {}).get("unchecked", [])
    ]
    findings += [
        Finding(
            check=result["type"],
            message=f"{validation['suite']['name']}: "
            + (f"column '{result['column']}': " if result["column"] else "")
            + result["reason"],
            file=validation["dataset"]["path"],
            detail={"suite": validation["suite"]["path"], "column": result["column"]},
        )
        for validation in report["validations"]
        for result in validation["expectations"]
        if not result["success"]
    ]
    return findings


def _typing_note(validation: dict[str, Any]) -> str:
    """How the dataset was read and typed, e.g. '; read as text, typed by the suite: 30 float'."""
    if validation["dataset"].get("read_as") != "text":
        return ""
    kinds: dict[str, int] = {}
    for spec in (validation.get("typing") or {}).values():
        kinds[spec["as"]] = kinds.get(spec["as"], 0) + 1
    typed_as = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    return "; read as text" + (f", typed by the suite: {typed_as}" if typed_as else "")


def _print(report: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(report, indent=2, sort_keys=True))
        return
    summary = {"passed": report["passed"], "total": report["total"]}
    if report.get("coverage"):
        summary["unchecked datasets"] = len(report["coverage"]["unchecked"])
    if fmt == "text":
        for v in report["validations"]:
            mark = "ok  " if v["success"] else "FAIL"
            counts = f"{v['passed']}/{v['total']} passed{_typing_note(v)}"
            print(f"{mark} {v['suite']['path']} on {v['dataset']['path']}: {counts}")
        for path in (report.get("coverage") or {}).get("unchecked", []):
            print(f"FAIL {path}: no suite")
    print(render(findings_of(report), fmt, title="samdkit check-data", summary=summary))


def _show(values: list[dict[str, Any]]) -> None:
    """Row values behind failures, to the terminal (stderr) only."""
    for item in values:
        where = f"{item['dataset']} / {item['suite']} #{item['index'] + 1} {item['type']}"
        column = f" column '{item['column']}'" if item["column"] else ""
        shown = {
            k: item[k]
            for k in ("observed_value", "unexpected", "missing", "rows", "messages")
            if item[k] not in (None, [], {})
        }
        print(f"values: {where}{column}: {json.dumps(shown, default=str)}", file=sys.stderr)


# -- drafting, upgrading, the command -------------------------------------------------------------


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


def small_cell_minimum(project: Project) -> int:
    """The evaluation's small-cell rule (requirements.yaml publication.min_cell_size, default 11)."""
    from samdkit.evaluate.criteria import DEFAULT_MIN_CELL, _parse_publication

    path = project.path("requirements")
    if not path.is_file():
        return DEFAULT_MIN_CELL
    data = read_yaml(path)
    return _parse_publication(path, data.get("publication") if isinstance(data, dict) else None)


def init(project: Project, args: argparse.Namespace) -> int:
    """Draft suite(s) from trusted data; refuses to overwrite without --force."""
    config = _config(project, args)
    from samdkit.data.gx import draft_suite

    root = project.root
    min_cell = small_cell_minimum(project)
    for dataset, suite_path in config["pairs"]:
        if isinstance(dataset, Source):
            raise UserError(f"{dataset.name}: --init drafts from a local file only")
        if suite_path.exists() and not args.force:
            raise UserError(
                f"{_rel(suite_path, root)} exists: review it, or pass --force to overwrite it"
            )
    for dataset_path, suite_path in config["pairs"]:
        dataset = read_dataset(dataset_path, _rel(dataset_path, root))
        frame = typed(dataset, draft_plan(dataset.frame) if dataset.text else {})[0]
        cross = {
            name: column
            for name, (source, column) in config["parameters"].items()
            if source.resolve() != dataset_path.resolve()
        }
        draft = draft_suite(
            frame,
            suite_path.stem,
            id_column=config["id_column"],
            label_column=config["label_column"],
            cross_parameters=cross,
            min_cell=min_cell,
        )
        atomic.write_text(suite_path, json.dumps(draft, indent=2) + "\n")
        print(
            f"drafted {_rel(suite_path, root)} ({len(draft['expectations'])} expectations) from "
            f"{_rel(dataset_path, root)}: review every bound, then commit it"
        )
        rare = (draft.get("meta") or {}).get("no_value_set")
        if rare:
            print(
                f"  no value set drafted for {', '.join(repr(c) for c in rare['columns'])}: "
                f"a value seen fewer than {min_cell} times (small-cell minimum) is not copied "
                "into a suite"
            )
    return 0


def upgrade(args: argparse.Namespace) -> int:
    """Convert a GX 0.x suite; exit 1 when an expectation could not be converted."""
    from samdkit.data.gx import is_legacy, read_suite_json, upgrade_suite

    old, new = (Path(p) for p in args.upgrade_suite)
    raw = read_suite_json(old, str(old), legacy=True)
    if not is_legacy(raw):
        raise UserError(f"{old}: already a Great Expectations 1.x suite, nothing to upgrade")
    if new.exists() and not args.force:
        raise UserError(f"{new} exists: pass --force to overwrite it")
    payload, notes = upgrade_suite(raw)
    lost = len(raw["expectations"]) - len(payload["expectations"])
    if not payload["expectations"]:
        raise UserError(f"{old}: no expectation could be converted ({notes[0]})")
    atomic.write_text(new, json.dumps(payload, indent=2) + "\n")
    for note in notes:
        print(f"  {note}")
    print(
        f"upgraded {old} -> {new}: {len(payload['expectations'])} of {len(raw['expectations'])} "
        f"expectations converted"
        + (f", {lost} not converted (listed above)" if lost else "")
        + ": review it, then point the check at it"
    )
    return 1 if lost else 0


def run(args: argparse.Namespace) -> int:
    if args.upgrade_suite:
        return upgrade(args)
    project = load_project(args.root)
    if not project.root.is_dir():
        raise UserError(f"{args.root}: no such folder")
    if args.init:
        return init(project, args)
    if args.show_values and not sys.stderr.isatty():
        raise UserError(
            "--show-values prints row values to a terminal only, and stderr is not a terminal"
        )
    report, values = check(project, args)
    output = Path(args.output) if args.output else project.path("data_check")
    atomic.write_json(output, report)
    _print(report, args.format)
    if args.show_values:
        _show(values)
    return 0 if report["success"] else 1
