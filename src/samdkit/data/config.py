"""[tool.samdkit.data] of pyproject.toml: which dataset each suite validates, suite parameters, exemptions."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from samdkit.core.errors import UserError
from samdkit.core.project import DEFAULT_PATHS, Project
from samdkit.data import sources as data_sources
from samdkit.data.gx import DATASOURCES
from samdkit.data.sources import Source

DEFAULT_CHECKS = [
    {"dataset": "train_data", "suite": "train.json"},
    {"dataset": "test_data", "suite": "test.json"},
    {"dataset": "golden_data", "suite": "golden.json"},
]
DEFAULT_PARAMETERS = {"train_ids": {"dataset": "train_data", "column": "sample_id"}}


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


def load_config(project: Project, args: argparse.Namespace) -> dict[str, Any]:
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
