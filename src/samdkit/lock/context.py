"""What `samdkit lock` and `samdkit verify-lock` share: settings, resolved paths, project inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samdkit.core import digests, params
from samdkit.core.errors import UserError
from samdkit.core.findings import Finding
from samdkit.core.project import Project
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
        """[tool.samdkit.lock] over the defaults (keys and types checked by samdkit.core.settings)."""
        settings = cls(**project.section("lock"))
        if settings.runs < 2:
            raise UserError("pyproject.toml: [tool.samdkit.lock] runs must be at least 2")
        if settings.tolerance < 0:
            raise UserError("pyproject.toml: [tool.samdkit.lock] tolerance must be a number >= 0")
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
        """A path as the findings and the lock name it: relative to the root, else as given."""
        return self.project.shown(path)


def require_model(ctx: Context) -> None:
    if not ctx.model_path.exists():
        raise UserError(f"{ctx.rel(ctx.model_path)}: model not found (train the model first)")
    if not digests.list_files(ctx.model_path):
        raise UserError(f"{ctx.rel(ctx.model_path)}: the model directory is empty")


def read_params(ctx: Context) -> dict[str, Any]:
    """params.yaml as core.params reads it ({} when absent)."""
    return params.read_params(ctx.project)


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
