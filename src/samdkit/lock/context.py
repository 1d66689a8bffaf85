"""What `samdkit lock` and `samdkit verify-lock` share: settings, resolved paths, project inputs."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samdkit.core import digests
from samdkit.core.errors import UserError
from samdkit.core.findings import Finding
from samdkit.core.project import Project, read_yaml
from samdkit.lock import provenance

ROWS_SHOWN = 10


@dataclass
class Settings:
    runs: int = 3
    tolerance: float = 1e-9
    data_stage: str = "prepare"
    train_stage: str = "train"  # the dvc.yaml stage `--rebuild` re-runs
    workers: int = 0
    tag_mlflow: bool = True
    packages: list[str] = field(default_factory=list)

    @classmethod
    def from_project(cls, project: Project) -> Settings:
        raw = project.section("lock")
        settings = cls()
        for key, value in raw.items():
            if not hasattr(settings, key):
                raise UserError(f"pyproject.toml: [tool.samdkit.lock] has an unknown key '{key}'")
            expected = type(getattr(settings, key))
            ok = isinstance(value, expected) and not (
                isinstance(value, bool) and expected is not bool
            )
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value, ok = float(value), True
            if not ok:
                raise UserError(
                    f"pyproject.toml: [tool.samdkit.lock] {key} must be {expected.__name__}"
                )
            setattr(settings, key, value)
        if settings.runs < 2:
            raise UserError("pyproject.toml: [tool.samdkit.lock] runs must be at least 2")
        if not math.isfinite(settings.tolerance) or settings.tolerance < 0:
            raise UserError("pyproject.toml: [tool.samdkit.lock] tolerance must be a number >= 0")
        if not all(isinstance(name, str) for name in settings.packages):
            raise UserError("pyproject.toml: [tool.samdkit.lock] packages must be a list of names")
        return settings


@dataclass
class Context:
    project: Project
    settings: Settings
    lock_path: Path
    model_path: Path
    golden_path: Path
    runs: int

    def rel(self, path: Path) -> str:
        try:
            return Path(os.path.relpath(path, self.project.root)).as_posix()
        except ValueError:  # another drive on Windows
            return str(path)


def require_model(ctx: Context) -> None:
    if not ctx.model_path.exists():
        raise UserError(f"{ctx.rel(ctx.model_path)}: model not found (train the model first)")
    if not digests.list_files(ctx.model_path):
        raise UserError(f"{ctx.rel(ctx.model_path)}: the model directory is empty")


def read_params(ctx: Context) -> dict[str, Any]:
    path = ctx.project.path("params")
    if not path.is_file():
        return {}
    params = read_yaml(path)
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise UserError(f"{ctx.rel(path)}: must be a mapping")
    return params


def id_and_excluded_columns(params: dict[str, Any]) -> tuple[str, list[str]]:
    """The id column and the non-feature columns, used when the model has no input signature."""
    data = params.get("data") if isinstance(params.get("data"), dict) else {}
    id_column = str(data.get("id_column", "sample_id"))
    exclude = [str(data.get("label_column", "label"))]
    subgroups = data.get("subgroup_columns", ["size_tertile"])
    exclude += [str(c) for c in (subgroups if isinstance(subgroups, list) else [subgroups])]
    extra = data.get("exclude_columns") or []
    exclude += [str(c) for c in (extra if isinstance(extra, list) else [extra])]
    return id_column, exclude


def read_train_run(ctx: Context) -> dict[str, Any] | None:
    doc = provenance.read_json(ctx.project.path("train_run"))
    return doc if isinstance(doc, dict) else None


def show_rows(row_ids: list[str], indices: list[int]) -> str:
    names = [row_ids[i] if i < len(row_ids) else f"row {i}" for i in indices[:ROWS_SHOWN]]
    more = f" and {len(indices) - ROWS_SHOWN} more" if len(indices) > ROWS_SHOWN else ""
    return ", ".join(names) + more


def repeat_findings(ctx: Context, fp: Any) -> list[Finding]:
    from samdkit.lock.fingerprint import differing_rows

    if fp.deterministic:
        return []
    rows = sorted({i for out in fp.outputs[1:] for i in differing_rows(fp.outputs[0], out)})
    return [
        Finding(
            "determinism-repeat",
            f"predictions differ between {len(fp.digests)} runs on the same golden input "
            f"(output SHA-256 per run: {', '.join(fp.digests)}); rows: {show_rows(fp.row_ids, rows)}",
            file=ctx.rel(ctx.golden_path),
            detail={"run_digests": fp.digests, "rows": [fp.row_ids[i] for i in rows]},
        )
    ]
