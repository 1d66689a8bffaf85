"""`samdkit check-data`: validate the project's datasets against Great Expectations 1.x suites.

Configuration, in the project's pyproject.toml (every key optional; these are the defaults)::

    [tool.samdkit.data]
    datasource = "pandas"              # the GX data source type; the suites do not depend on it
    id_column = "sample_id"            # used by --init (uniqueness) and the default parameters
    label_column = "label"             # used by --init (value set)

    [[tool.samdkit.data.checks]]       # which dataset is validated by which suite
    dataset = "train_data"             # a path key of samdkit.project (DEFAULT_PATHS) or a path
    suite = "compliance/expectations/train.json"

    [[tool.samdkit.data.checks]]
    dataset = "test_data"
    suite = "compliance/expectations/test.json"

    [tool.samdkit.data.parameters]     # values fed to {"$PARAMETER": name} in a suite at run time
    train_ids = { dataset = "train_data", column = "sample_id" }

The parameters carry what no single-batch expectation can see: the test suite holds
``expect_column_values_to_not_be_in_set`` on ``sample_id`` with
``value_set={"$PARAMETER": "train_ids"}``, so an id present in both train and test fails like
any other expectation (test independence, GMLP).

Datasets: ``.csv`` (also ``.csv.gz``), ``.parquet``/``.pq``. A missing, unreadable or empty
dataset, a missing or malformed suite: one line, exit 2. Any failed expectation: exit 1.

The result, ``reports/data-check.json`` (``project.path("data_check")``, written atomically, no
timestamps so that it is reproducible)::

    {
      "schema": "samdkit/data-check/1",
      "success": true,                 # every expectation of every validation passed
      "passed": 130, "total": 130,     # expectations, over all validations
      "datasource": "pandas",
      "great_expectations": "1.24.x",
      "validations": [{
        "suite": {"name": "train", "path": "compliance/expectations/train.json", "sha256": "..."},
        "dataset": {"path": "data/prepared/train.csv", "sha256": "...", "rows": 398, "columns": 33},
        "parameters": {"train_ids": {"dataset": "data/prepared/train.csv", "column": "sample_id",
                                     "values": 398}},
        "success": true, "passed": 65, "total": 65,
        "expectations": [{
          "type": "expect_column_values_to_be_between", "column": "mean_radius",
          "kwargs": {...as written in the suite, "$PARAMETER" references unresolved...},
          "meta": {...}, "success": true,
          "observed_value": null,         # aggregate expectations: row count, columns, type
          "element_count": 398, "unexpected_count": 0, "unexpected_percent": 0.0,
          "partial_unexpected_list": [],  # up to 10 offending values
          "details": null,                # GX's details (e.g. mismatched columns)
          "exception": null               # GX's message when the expectation could not run
        }]
      }]
    }

``samdkit check-data --init`` drafts a suite per configured check (or for ``--dataset`` into
``--suite``) from data the team trusts; it never overwrites a suite without ``--force``.
Review the draft, then commit it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

from samdkit import atomic
from samdkit.data_check_gx import DATASOURCES
from samdkit.errors import UserError
from samdkit.findings import FORMATS, Finding, render
from samdkit.project import DEFAULT_PATHS, Project, load_project

SCHEMA = "samdkit/data-check/1"
DEFAULT_CHECKS = [
    {"dataset": "train_data", "suite": "train.json"},
    {"dataset": "test_data", "suite": "test.json"},
]
DEFAULT_PARAMETERS = {"train_ids": {"dataset": "train_data", "column": "sample_id"}}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Validate datasets against Great Expectations suites (JSON under "
        "compliance/expectations), write reports/data-check.json and print a summary. Settings "
        "live in [tool.samdkit.data] of pyproject.toml. "
        "Exit 1 when an expectation fails, 2 on bad input."
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
        "--force", action="store_true", help="with --init: overwrite existing suites"
    )


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _dataset_path(project: Project, value: Any) -> Path:
    if not isinstance(value, str) or not value:
        raise UserError("pyproject.toml: [tool.samdkit.data] dataset must be a path or a path key")
    known = {**DEFAULT_PATHS, **project.settings.get("paths", {})}
    return project.path(value) if value in known else project.root / value


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
    if not isinstance(checks, list) or not all(isinstance(c, dict) for c in checks):
        raise UserError("pyproject.toml: [[tool.samdkit.data.checks]] must be tables")
    if not isinstance(parameters, dict) or not all(
        isinstance(p, dict) for p in parameters.values()
    ):
        raise UserError("pyproject.toml: [tool.samdkit.data.parameters] entries must be tables")
    datasource = section.get("datasource", "pandas")
    if datasource not in DATASOURCES:
        raise UserError(
            f"pyproject.toml: [tool.samdkit.data] datasource '{datasource}' is not supported "
            f"(supported: {', '.join(DATASOURCES)})"
        )
    if bool(args.dataset) != bool(args.suite):
        raise UserError("--dataset and --suite go together")
    if args.dataset:
        pairs = [(Path(args.dataset).resolve(), Path(args.suite).resolve())]
    else:
        pairs = [
            (_dataset_path(project, c.get("dataset")), _suite_path(project, c.get("suite")))
            for c in checks
        ]
    return {
        "datasource": datasource,
        "id_column": section.get("id_column", "sample_id"),
        "label_column": section.get("label_column", "label"),
        "pairs": pairs,
        "parameters": {
            name: (_dataset_path(project, spec.get("dataset")), str(spec.get("column", "")))
            for name, spec in parameters.items()
        },
    }


def sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def read_dataset(path: Path, label: str) -> Any:
    """A non-empty DataFrame from a CSV or Parquet file, or one clear line."""
    import pandas as pd

    if not path.is_file():
        raise UserError(f"{label}: dataset not found")
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
        elif name.endswith((".csv", ".csv.gz", ".tsv")):
            frame = pd.read_csv(path, sep="\t" if name.endswith(".tsv") else ",")
        else:
            raise UserError(f"{label}: unsupported dataset format (use .csv or .parquet)")
    except pd.errors.EmptyDataError:
        raise UserError(f"{label}: dataset is empty") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{label}: unreadable dataset: {first}") from None
    if frame.empty:
        raise UserError(f"{label}: dataset is empty (no rows)")
    return frame


def _parameters_for(
    suite_json: list[dict[str, Any]], config: dict[str, Any], root: Path, frames: dict[Path, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Values for a suite's {"$PARAMETER": name} references, and their provenance."""
    wanted = sorted(
        {
            value["$PARAMETER"]
            for expectation in suite_json
            for value in (expectation.get("kwargs") or {}).values()
            if isinstance(value, dict) and "$PARAMETER" in value
        }
    )
    values, provenance = {}, {}
    for name in wanted:
        if name not in config["parameters"]:
            raise UserError(
                f"suite parameter '{name}' is not defined in [tool.samdkit.data.parameters]"
            )
        path, column = config["parameters"][name]
        label = _rel(path, root)
        if path not in frames:
            frames[path] = read_dataset(path, label)
        if column not in frames[path].columns:
            raise UserError(
                f"{label}: parameter '{name}' needs column '{column}', which is missing"
            )
        values[name] = list(dict.fromkeys(frames[path][column].dropna().tolist()))
        provenance[name] = {"dataset": label, "column": column, "values": len(values[name])}
    return values, provenance


def check(project: Project, args: argparse.Namespace) -> dict[str, Any]:
    """Validate every (dataset, suite) pair; the report dict described in the module docstring."""
    config = _config(project, args)
    root = project.root
    from samdkit import parallel
    from samdkit.data_check_gx import Validator, read_suite_json

    # read everything before importing GX (seconds), so that bad input fails fast
    frames: dict[Path, Any] = {}
    staged = []
    for dataset, suite_path in config["pairs"]:
        raw = read_suite_json(suite_path, _rel(suite_path, root))
        if dataset not in frames:
            frames[dataset] = read_dataset(dataset, _rel(dataset, root))
        values, provenance = _parameters_for(raw["expectations"], config, root, frames)
        staged.append((dataset, suite_path, raw, values, provenance))
    validator = Validator(config["datasource"])
    jobs = []
    for dataset, suite_path, raw, values, provenance in staged:
        suite, written = validator.load_suite(raw, _rel(suite_path, root))
        jobs.append((dataset, suite_path, suite, written, values, provenance))
    # one suite per core (forked after GX's seconds of import, which every suite shares)
    outcomes = parallel.map_ordered(
        lambda job: validator.validate(job[2], job[3], frames[job[0]], job[4]), jobs
    )
    validations = []
    for (dataset, suite_path, suite, _, _, provenance), results in zip(jobs, outcomes, strict=True):
        passed = sum(r["success"] for r in results)
        validations.append(
            {
                "suite": {
                    "name": suite.name,
                    "path": _rel(suite_path, root),
                    "sha256": sha256(suite_path),
                },
                "dataset": {
                    "path": _rel(dataset, root),
                    "sha256": sha256(dataset),
                    "rows": len(frames[dataset]),
                    "columns": int(frames[dataset].shape[1]),
                },
                "parameters": provenance,
                "success": passed == len(results),
                "passed": passed,
                "total": len(results),
                "expectations": results,
            }
        )
    import great_expectations as gx

    passed = sum(v["passed"] for v in validations)
    total = sum(v["total"] for v in validations)
    return {
        "schema": SCHEMA,
        "success": passed == total,
        "passed": passed,
        "total": total,
        "datasource": config["datasource"],
        "great_expectations": gx.__version__,
        "validations": validations,
    }


def _describe(result: dict[str, Any]) -> str:
    parts = []
    if result["column"]:
        parts.append(f"column '{result['column']}'")
    if result["exception"]:
        parts.append(f"could not run: {result['exception']}")
    if result["unexpected_count"]:
        share = result["unexpected_percent"]
        parts.append(
            f"{result['unexpected_count']} unexpected"
            + (f" ({share:.1f}%)" if isinstance(share, float) else "")
            + f", e.g. {json.dumps(result['partial_unexpected_list'][:5])}"
        )
    if result["observed_value"] is not None:
        parts.append(f"observed {json.dumps(result['observed_value'])[:200]}")
    expected = {k: v for k, v in result["kwargs"].items() if k not in ("column", "batch_id")}
    text = json.dumps(expected)
    parts.append(f"expected {text if len(text) <= 160 else text[:157] + '...'}")
    return "; ".join(parts)


def findings_of(report: dict[str, Any]) -> list[Finding]:
    return [
        Finding(
            check=result["type"],
            message=f"{validation['suite']['name']}: {_describe(result)}",
            file=validation["dataset"]["path"],
            detail={"suite": validation["suite"]["path"], "column": result["column"]},
        )
        for validation in report["validations"]
        for result in validation["expectations"]
        if not result["success"]
    ]


def _print(report: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(report, indent=2, sort_keys=True))
        return
    summary = {"passed": report["passed"], "total": report["total"]}
    if fmt == "text":
        for v in report["validations"]:
            mark = "ok  " if v["success"] else "FAIL"
            counts = f"{v['passed']}/{v['total']} passed"
            print(f"{mark} {v['suite']['path']} on {v['dataset']['path']}: {counts}")
    print(render(findings_of(report), fmt, title="samdkit check-data", summary=summary))


def init(project: Project, args: argparse.Namespace) -> int:
    """Draft suite(s) from trusted data; refuses to overwrite without --force."""
    config = _config(project, args)
    from samdkit.data_check_gx import draft_suite

    root = project.root
    for _dataset, suite_path in config["pairs"]:
        if suite_path.exists() and not args.force:
            raise UserError(
                f"{_rel(suite_path, root)} exists: review it, or pass --force to overwrite it"
            )
    for dataset, suite_path in config["pairs"]:
        frame = read_dataset(dataset, _rel(dataset, root))
        cross = {
            name: column
            for name, (source, column) in config["parameters"].items()
            if source.resolve() != dataset.resolve()
        }
        draft = draft_suite(
            frame,
            suite_path.stem,
            id_column=config["id_column"],
            label_column=config["label_column"],
            cross_parameters=cross,
        )
        atomic.write_text(suite_path, json.dumps(draft, indent=2) + "\n")
        print(
            f"drafted {_rel(suite_path, root)} ({len(draft['expectations'])} expectations) from "
            f"{_rel(dataset, root)}: review every bound, then commit it"
        )
    return 0


def run(args: argparse.Namespace) -> int:
    project = load_project(args.root)
    if not project.root.is_dir():
        raise UserError(f"{args.root}: no such folder")
    if args.init:
        return init(project, args)
    report = check(project, args)
    output = Path(args.output) if args.output else project.path("data_check")
    atomic.write_json(output, report)
    _print(report, args.format)
    return 0 if report["success"] else 1
