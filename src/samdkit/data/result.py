"""reports/data-check.json: the one strict, versioned reader and writer (docs/data-checks.md).

`samdkit check-data` writes it through `write`; the report, the PR comment and the CI glue read it through
`read` / `validate`. Every field a consumer uses is checked with its type, and the counts must agree with
the rows (a hand-edited `"success": true` over failed expectations is refused): one line naming the field,
exit 2. Keys added to schema 1 after its first release (engines, coverage, typing, not_run, ...) are
checked when present, so a result written by an earlier samdkit still reads.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from samdkit.core.fields import (
    ANY,
    BOOL,
    COUNT,
    LIST,
    NUMBER,
    SHA256,
    TABLE,
    TEXT,
    TEXTS,
    Fields,
    Kind,
    check_schema,
    nullable,
    read_json,
    write_json,
)

SCHEMA = "samdkit/data-check/1"

_TOP: dict[str, Kind] = {"success": BOOL, "passed": COUNT, "total": COUNT}
_TOP_LATER: dict[str, Kind] = {
    "datasource": TEXT,
    "engines": TEXTS,
    "great_expectations": TEXT,
    "coverage": nullable(TABLE),
}
_SUITE: dict[str, Kind] = {"name": TEXT, "path": TEXT, "sha256": SHA256}
_DATASET: dict[str, Kind] = {"path": TEXT, "sha256": nullable(SHA256), "rows": COUNT}
_DATASET_LATER: dict[str, Kind] = {"columns": COUNT, "read_as": TEXT, "source": TABLE}
_VALIDATION_LATER: dict[str, Kind] = {
    "engine": TEXT,
    "not_run": LIST,
    "typing": TABLE,
    "parameters": TABLE,
}
_EXPECTATION: dict[str, Kind] = {
    "type": TEXT,
    "column": nullable(TEXT),
    "kwargs": TABLE,
    "success": BOOL,
    "observed_value": ANY,
    "element_count": nullable(COUNT),
    "unexpected_count": nullable(COUNT),
    "exception": nullable(TEXT),
}
_NO_ROWS: Kind = ("null or an empty list (never row values)", lambda v: v is None or v == [])
_EXPECTATION_LATER: dict[str, Kind] = {
    "missing_count": nullable(COUNT),
    "unexpected_percent": nullable(NUMBER),
    "reason": TEXT,
    "meta": TABLE,
    "details": ANY,
    # an earlier writer's key (samdkit < 0.2): read when null or empty; values would be row values
    "partial_unexpected_list": _NO_ROWS,
    # how many rows a failed expectation's row_condition selects (a count, never the rows)
    "rows_matching_condition": nullable(COUNT),
}
_SCALAR: Kind = (
    "a string, number, true, false or null",
    lambda v: v is None or not isinstance(v, dict | list),
)
_NOT_RUN: dict[str, Kind] = {"index": COUNT, "type": TEXT, "exception": nullable(TEXT)}
_TYPING: dict[str, Kind] = {"as": TEXT, "declared_by": TEXT, "unparsed": COUNT}
_TYPING_LATER: dict[str, Kind] = {
    "kept_as_text": BOOL
}  # a text column no declared type turned missing
_PARAMETER: dict[str, Kind] = {"dataset": TEXT, "column": TEXT, "values": COUNT}
_ANY_KEY = ("a string", lambda k: isinstance(k, str))  # column names, file paths: data by design
# an engine's setting names, e.g. Spark's "spark.driver.memory"
_SETTING_KEY = (
    "a setting name (letters, digits, _ . -)",
    lambda k: (
        isinstance(k, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]{0,127}", k) is not None
    ),
)


def _validation(f: Fields, validation: dict[str, Any], path: str) -> None:
    """One suite on one dataset: where each came from, its expectations, counts that agree with them."""
    f.exact(f.field(validation, "suite", TABLE, path), _SUITE, f"{path}.suite")
    dataset = f.field(validation, "dataset", TABLE, path)
    f.exact(dataset, _DATASET, f"{path}.dataset", _DATASET_LATER)
    if (
        "source" in dataset
    ):  # engine and location; the rest is the engine's settings (names by shape)
        source = f.keyed(dataset["source"], f"{path}.dataset.source", _SCALAR, _SETTING_KEY)
        f.field(source, "engine", TEXT, f"{path}.dataset.source")
    later = {**_VALIDATION_LATER, "expectations": LIST, "suite": TABLE, "dataset": TABLE}
    f.exact(validation, _TOP, path, later)
    _validation_tables(f, validation, path)
    rows = f.objects(validation, "expectations", path)
    for i, row in enumerate(rows):
        where = f"{path}.expectations[{i}]"
        f.exact(row, _EXPECTATION, where, _EXPECTATION_LATER)
        f.keyed(row["kwargs"], f"{where}.kwargs", ANY, _ANY_KEY)  # as the suite wrote them
        if "meta" in row:
            f.keyed(row["meta"], f"{where}.meta", ANY, _ANY_KEY)
    passed = sum(row["success"] for row in rows)
    if (validation["passed"], validation["total"]) != (passed, len(rows)):
        raise f.fail(f"{path}.passed", "does not count the expectations")
    if validation["success"] != (passed == len(rows)):
        raise f.fail(f"{path}.success", "does not agree with the expectations")


def _validation_tables(f: Fields, validation: dict[str, Any], path: str) -> None:
    """not_run rows, typing (keyed by column) and parameters (keyed by parameter name), each strict."""
    for i, item in enumerate(
        f.objects(validation, "not_run", path) if "not_run" in validation else []
    ):
        f.exact(item, _NOT_RUN, f"{path}.not_run[{i}]")
    for key, spec, later in (
        ("typing", _TYPING, _TYPING_LATER),
        ("parameters", _PARAMETER, {}),
    ):
        if key not in validation:
            continue
        table = f.keyed(validation[key], f"{path}.{key}", TABLE, _ANY_KEY)
        for i, item in enumerate(table.values()):
            f.exact(item, spec, f"{path}.{key} (entry #{i + 1})", later)


def _coverage(f: Fields, doc: dict[str, Any]) -> list[str]:
    """The pipeline datasets without a suite (none when the result has no coverage)."""
    cover = doc.get("coverage")
    if cover is None:
        return []
    f.exact(cover, {"datasets": TEXTS, "unchecked": TEXTS, "exempt": TABLE}, "coverage")
    f.keyed(cover["exempt"], "coverage.exempt", TEXT, _ANY_KEY)  # dataset path -> reason
    return cover["unchecked"]


def validate(doc: Any, where: str) -> dict[str, Any]:
    """Check a parsed data-check result; raise UserError naming the first defect, else return it."""
    f = check_schema(doc, where, "data-check result", (SCHEMA,), "samdkit check-data")
    f.exact(doc, _TOP, "", {**_TOP_LATER, "schema": TEXT, "validations": LIST})
    validations = f.objects(doc, "validations")
    for i, validation in enumerate(validations):
        _validation(f, validation, f"validations[{i}]")
    unchecked = _coverage(f, doc)
    passed = sum(v["passed"] for v in validations)
    total = sum(v["total"] for v in validations)
    if (doc["passed"], doc["total"]) != (passed, total):
        raise f.fail("passed", "does not add up the validations")
    if doc["success"] != (passed == total and not unchecked):
        raise f.fail("success", "does not agree with the validations and the coverage")
    return doc


def read(path: str | Path, name: str | None = None) -> dict[str, Any]:
    """Parse and validate a data-check result; `name` is how messages call it (default: the path)."""
    missing = "data-check result not found (run 'samdkit check-data' first)"
    return read_json(path, name, validate, missing)


def write(path: str | Path, doc: dict[str, Any]) -> Path:
    """Validate, then write atomically as stable JSON (no timestamp: same data, same bytes)."""
    return write_json(path, doc, validate)
