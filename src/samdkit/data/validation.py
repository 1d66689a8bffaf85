"""The validation run: every suite and dataset staged (bad input fails before GX loads), then validated.

One suite per core (forked after GX's import); a database or Spark source runs here. The result is the
data-check document of samdkit.data.result, aggregates only: counts, rates, statistics, names, never a row value.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from samdkit.core.digests import sha256_hex
from samdkit.core.errors import UserError
from samdkit.core.project import Project, shown_path
from samdkit.data.casting import DECLARING, convert, plan_types, typed
from samdkit.data.config import load_config
from samdkit.data.coverage import coverage
from samdkit.data.reading import Dataset, read_dataset
from samdkit.data.result import SCHEMA
from samdkit.data.sources import Source

TYPING_CHECK = "samdkit_column_values_parse_as_declared_type"


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
        label = shown_path(root, path)
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
        raw = read_suite_json(suite_path, shown_path(root, suite_path))
        if isinstance(dataset, Source):  # read where it lives, once GX is loaded
            dataset.precheck(root)  # a missing variable or file is said before GX loads
            text = dataset.text
        else:
            if dataset not in datasets:
                datasets[dataset] = read_dataset(dataset, shown_path(root, dataset))
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
    config = load_config(project, args)
    root = project.root
    cover = None if config["adhoc"] else coverage(project, config)
    staged, datasets = _stage(config, root)
    from samdkit.core import parallel
    from samdkit.data.gx import Validator

    validator = Validator(config["datasource"])
    for job in staged:
        job["suite"], job["written"] = validator.load_suite(
            job["raw"], shown_path(root, job["suite_path"])
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
        path = shown_path(root, job["dataset"])
        return {
            "path": path,
            "sha256": sha256_hex(job["dataset"]),
            "rows": len(dataset.frame),
            "columns": int(dataset.frame.shape[1]),
            "read_as": "text" if dataset.text else "typed",
            "source": {"engine": "pandas", "path": path},
        }
    return job["opened"].entry(root, sha256_hex)


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
            "path": shown_path(root, job["suite_path"]),
            "sha256": sha256_hex(job["suite_path"]),
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
