"""`check-data --init` drafts suites from data the team trusts; `--upgrade-suite` converts a GX 0.x suite.

Neither overwrites a suite without --force; a draft copies no value seen fewer times than the small-cell
minimum of requirements.yaml.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from samdkit.core import atomic
from samdkit.core.errors import UserError
from samdkit.core.project import Project, read_yaml, shown_path
from samdkit.data.casting import draft_plan, typed
from samdkit.data.config import load_config
from samdkit.data.reading import read_dataset
from samdkit.data.sources import Source


def small_cell_minimum(project: Project) -> int:
    """The evaluation's small-cell rule (requirements.yaml publication.min_cell_size, default 11)."""
    from samdkit.evaluate.criteria import DEFAULT_MIN_CELL, parse_publication

    path = project.path("requirements")
    if not path.is_file():
        return DEFAULT_MIN_CELL
    data = read_yaml(path)
    return parse_publication(path, data.get("publication") if isinstance(data, dict) else None)


def init(project: Project, args: argparse.Namespace) -> int:
    """Draft suite(s) from trusted data; refuses to overwrite without --force."""
    config = load_config(project, args)
    from samdkit.data.gx import draft_suite

    root = project.root
    min_cell = small_cell_minimum(project)
    for dataset, suite_path in config["pairs"]:
        if isinstance(dataset, Source):
            raise UserError(f"{dataset.name}: --init drafts from a local file only")
        if suite_path.exists() and not args.force:
            raise UserError(
                f"{shown_path(root, suite_path)} exists: review it, or pass --force to overwrite it"
            )
    for dataset_path, suite_path in config["pairs"]:
        dataset = read_dataset(dataset_path, shown_path(root, dataset_path))
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
            f"drafted {shown_path(root, suite_path)} ({len(draft['expectations'])} expectations) from "
            f"{shown_path(root, dataset_path)}: review every bound, then commit it"
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
