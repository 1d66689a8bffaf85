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
import json
import sys
from pathlib import Path
from typing import Any

from samdkit.core import reuse
from samdkit.core.errors import UserError
from samdkit.core.escape import terminal
from samdkit.core.findings import Finding, GateResult, render_result
from samdkit.core.options import add_format_option
from samdkit.core.project import load_project
from samdkit.data import sources as data_sources

UNCHECKED = "samdkit/dataset-without-suite"
# flags that choose other data than the configured checks (the pipeline's stage runs those)
_SOURCE_FLAGS = ("dataset", "suite", "engine", "url", "url_env", "table", "schema", "query")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Validate datasets against Great Expectations suites (JSON under "
        "compliance/expectations), write reports/data-check.json and print a summary. Settings "
        "live in [tool.samdkit.data] of pyproject.toml. CSV cells are read as written (text) and "
        "typed only as the suite says. "
        "Exit 1 when an expectation fails or a pipeline dataset has no suite, 2 on bad input."
    )
    add_format_option(parser)
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
    parser.add_argument(reuse.FLAG, action="store_true", help=reuse.HELP)
    data_sources.add_arguments(parser)


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


def _print(report: dict[str, Any], fmt: str, output: str, source: str | None = None) -> None:
    """The summary (text), the gate-result envelope with the result under `detail` (json), annotations.

    File names come from the project (untrusted): escaped, so a name cannot draw a fake line."""
    summary: dict[str, Any] = {"passed": report["passed"], "total": report["total"]}
    if report.get("coverage"):
        summary["unchecked datasets"] = len(report["coverage"]["unchecked"])
    if source:
        summary["source"] = source
    if fmt == "text":
        for v in report["validations"]:
            mark = "ok  " if v["success"] else "FAIL"
            counts = f"{v['passed']}/{v['total']} passed{_typing_note(v)}"
            suite, dataset = terminal(v["suite"]["path"]), terminal(v["dataset"]["path"])
            print(f"{mark} {suite} on {dataset}: {counts}")
        for path in (report.get("coverage") or {}).get("unchecked", []):
            print(f"FAIL {terminal(path)}: no suite")
    result = GateResult(
        gate="check-data",
        verdict="PASS" if report["success"] else "FAIL",
        findings=findings_of(report),
        summary=summary,
        outputs={"data_check": output},
        detail=report,
    )
    print(render_result(result, fmt, title="samdkit check-data"))


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


def run(args: argparse.Namespace) -> int:
    from samdkit.data import drafting, result

    if args.upgrade_suite:
        return drafting.upgrade(args)
    project = load_project(args.root)
    if not project.root.is_dir():
        raise UserError(f"{args.root}: no such folder")
    if args.init:
        return drafting.init(project, args)
    if args.show_values and not sys.stderr.isatty():
        raise UserError(
            "--show-values prints row values to a terminal only, and stderr is not a terminal"
        )
    output = Path(args.output) if args.output else project.path("data_check")
    if args.reuse_pipeline:
        reused = _reused(project, args)
        if isinstance(reused, dict):
            return _report_reused(project, reused, output, args.format)
        reuse.note(reused)
    from samdkit.data.validation import check

    report, values = check(project, args)
    result.write(output, report)
    _print(report, args.format, project.rel(output) or str(output))
    if args.show_values:
        _show(values)
    return 0 if report["success"] else 1


def _reused(project: Any, args: argparse.Namespace) -> dict[str, Any] | str:
    """The result this job's check-data stage wrote, read strictly, or why it must be computed again."""
    from samdkit.data import result

    if args.show_values:
        return "--show-values needs the rows: the result file holds counts only"
    own = [f"--{k.replace('_', '-')}" for k in _SOURCE_FLAGS if getattr(args, k, None) is not None]
    if own:
        return f"{own[0]} checks other data than the pipeline's stage"
    path = project.path("data_check")
    found = reuse.check(project, path, "samdkit check-data")
    if isinstance(found, str):
        return found
    try:
        report = result.read(path, project.shown(path))
    except UserError as exc:
        return str(exc)
    pins: list[tuple[str, str | None]] = []
    for validation in report["validations"]:
        pins += [(validation["suite"]["path"], validation["suite"]["sha256"])]
        pins += [(validation["dataset"]["path"], validation["dataset"]["sha256"])]
    checked = {v["dataset"]["path"] for v in report["validations"]}
    for validation in report["validations"]:
        for parameter in (validation.get("parameters") or {}).values():
            if parameter["dataset"] not in checked:
                return f"parameter data {parameter['dataset']} is not pinned by a digest"
    changed = reuse.pinned_changed(project.root, pins)
    return changed or {"report": report, "reuse": found, "path": path}


def _report_reused(project: Any, reused: dict[str, Any], output: Path, fmt: str) -> int:
    """The verdict of the stage's result; written again only where --output asks for another file."""
    from samdkit.data import result

    report = reused["report"]
    if output.resolve() != reused["path"].resolve():
        result.write(output, report)
    _print(report, fmt, project.rel(output) or str(output), reused["reuse"].summary)
    return 0 if report["success"] else 1
