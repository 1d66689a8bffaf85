"""The one reader of params.yaml, and the one rule for the decision threshold in it.

params.yaml is the pipeline's (DVC's) parameter file; samdkit reads it for the data settings
(`data.*`), the decision threshold (`evaluate.threshold`) and to lock the parameters with the model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samdkit.core import bounded
from samdkit.core.errors import UserError

if TYPE_CHECKING:
    from samdkit.core.project import Project


def read_params(
    project: Project | None = None, path: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """params.yaml as a mapping: {} when the file is absent or empty, UserError when malformed.

    `path` overrides the project's `paths.params` (a command's --params option).
    """
    if path is None:
        if project is None:
            raise TypeError("read_params needs a project or a path")
        path = project.path("params")
    path = Path(path)
    if not path.is_file():
        return {}
    where = _where(project, path)
    params = bounded.read_yaml(path)
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise UserError(f"{where}: must be a mapping (the pipeline's parameters)")
    return params


def section(params: dict[str, Any], name: str, where: str = "params.yaml") -> dict[str, Any]:
    """One top-level block (`data`, `evaluate`...): {} when absent, UserError when not a mapping."""
    value = params.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(f"{where}: {name} must be a mapping")
    return value


def decision_threshold(params: dict[str, Any], where: str = "params.yaml") -> float | None:
    """`evaluate.threshold`: the probability at or above which the score is the positive class.

    None when absent (a multiclass outcome has none); UserError when it is not a number in [0, 1].
    """
    value = section(params, "evaluate", where).get("threshold")
    return threshold_value(value, f"{where}: evaluate.threshold")


def threshold_value(value: Any, what: str) -> float | None:
    """The threshold rule on one value (None stays None): a number in [0, 1], else UserError."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise UserError(f"{what} must be a number in [0, 1], got {value!r}")
    return float(value)


def _where(project: Project | None, path: Path) -> str:
    if project is not None:
        rel = project.rel(path)
        if rel is not None:
            return rel
    return str(path)
