"""The one reader of a project's dvc.yaml stages: commands, outputs (cached or not) and working folder.

The pipeline run (ci.repro), the record of what ran (core.pipeline_run), the gates that read a stage's
result (core.reuse) and the rebuild (lock.rebuild) ask the same questions of the same file. Paths are
named as DVC names them: from the project root, through the stage's `wdir`.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from samdkit.core.errors import UserError


def read_stages(dvc_yaml: Path, name: str, *, strict: bool = False) -> dict[str, Any]:
    """The `stages` table of a dvc.yaml ({} when absent or malformed; UserError instead when strict)."""
    from samdkit.core import bounded

    if not dvc_yaml.is_file():
        if strict:
            raise UserError(f"{name}: not found")
        return {}
    try:
        spec = bounded.read_yaml(dvc_yaml, name)
    except UserError:
        if strict:
            raise
        return {}
    stages = spec.get("stages") if isinstance(spec, dict) else None
    return stages if isinstance(stages, dict) else {}


def commands(entry: Any) -> list[str]:
    """A stage's `cmd` as a list of command lines."""
    cmd = entry.get("cmd") if isinstance(entry, dict) else None
    return [cmd] if isinstance(cmd, str) else [str(c) for c in cmd or []]


def wdir(entry: Any) -> str:
    """The folder a stage runs in and names its outputs from (`wdir`), relative to dvc.yaml."""
    folder = entry.get("wdir") if isinstance(entry, dict) else None
    return posixpath.normpath(str(folder)) if folder is not None else "."


def outputs(entry: Any) -> list[tuple[str, bool]]:
    """A stage's outputs (outs, metrics, plots) as (path from the root through `wdir`, cached)."""
    base, found = wdir(entry), []
    for key in ("outs", "metrics", "plots"):
        items = entry.get(key) if isinstance(entry, dict) else None
        for item in items if isinstance(items, list) else []:
            pairs = item.items() if isinstance(item, dict) else [(item, None)]
            for path, opts in pairs:
                cached = not (isinstance(opts, dict) and opts.get("cache") is False)
                found.append((posixpath.normpath(posixpath.join(base, str(path))), cached))
    return found
