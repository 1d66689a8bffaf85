"""The generated project's files and settings, as every command finds them.

Paths are the template's defaults; a team overrides any of them in `[tool.samdkit]` of its pyproject.toml,
so commands run with no arguments in the project root.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samdkit.core import bounded
from samdkit.core.errors import UserError
from samdkit.core.settings import SCHEMA
from samdkit.core.settings import validate as validate_settings

# Every file samdkit reads or writes, by key: the one table the commands derive their file names from.
# A team overrides any entry in [tool.samdkit.paths] (paths relative to the project root).
DEFAULT_PATHS: dict[str, str] = {
    # pipeline (DVC) and its data
    "params": "params.yaml",
    "dvc_yaml": "dvc.yaml",
    "dvc_lock": "dvc.lock",
    "train_data": "data/prepared/train.csv",
    "test_data": "data/prepared/test.csv",
    "golden_data": "data/prepared/golden.csv",
    "model": "models/model",
    "model_signature": "models/model.sig",
    "train_run": "reports/train_run.json",
    "predictions": "reports/predictions.csv",
    "emissions": "reports/emissions.csv",
    # gate evidence
    "data_check": "reports/data-check.json",
    "evaluation": "reports/evaluation.json",
    "model_lock": "model.lock",
    "rebuild": "reports/rebuild.json",
    "lint_result": "reports/lint.json",
    "verify_lock_result": "reports/verify-lock.json",
    "gate_results": "reports/gates",
    "comment": "reports/pr-comment.md",
    # report outputs (the only place their names are defined)
    "sbom": "reports/sbom.cdx.json",
    "report_pdf": "reports/clinical-validation-report.pdf",
    "report_html": "reports/clinical-validation-report.html",
    "report_md": "reports/clinical-validation-report.md",
    "report_json": "reports/clinical-validation-report.json",
    "model_card_pdf": "reports/model-card.pdf",
    "model_card_json": "reports/model-card.json",
    "model_card_md": "reports/model-card.md",
    # compliance inputs
    "device": "compliance/device.yaml",
    "requirements": "compliance/requirements.yaml",
    "risks": "compliance/risks.yaml",
    "model_card": "compliance/model-card.yaml",
    "regulatory": "compliance/regulatory.yaml",
    "pccp": "compliance/pccp.yaml",
    "expectations": "compliance/expectations",
    # folders and the release
    "reports": "reports",
    "release": "release",
    "manifest": "release/manifest.json",
    "manifest_signature": "release/manifest.json.p7s",
}


@dataclass(frozen=True)
class Project:
    """A project root with its `[tool.samdkit]` settings."""

    root: Path
    settings: dict[str, Any]

    def path(self, key: str) -> Path:
        """The path of a well-known file (see DEFAULT_PATHS), after the project's overrides."""
        paths = {**DEFAULT_PATHS, **self.settings.get("paths", {})}
        if key not in paths:
            raise KeyError(key)
        return self.root / paths[key]

    def rel(self, path: str | os.PathLike[str], *, resolve: bool = True) -> str | None:
        """`path` relative to the project root (POSIX), None when it lies outside the root (see relative)."""
        return relative(self.root, path, resolve=resolve)

    def shown(self, path: str | os.PathLike[str], *, resolve: bool = True) -> str:
        """`path` as findings, errors and evidence name it (see shown_path)."""
        return shown_path(self.root, path, resolve=resolve)

    def section(self, name: str) -> dict[str, Any]:
        """One `[tool.samdkit.<name>]` table as load_project validated it (empty when absent)."""
        if name not in SCHEMA and name != "paths":
            raise KeyError(f"[tool.samdkit.{name}] is not declared in samdkit.core.settings")
        value = self.settings.get(name, {})
        if not isinstance(value, dict):
            raise UserError(f"pyproject.toml: [tool.samdkit.{name}] must be a table")
        return value


def relative(root: Path, path: str | os.PathLike[str], *, resolve: bool = True) -> str | None:
    """`path` relative to `root` (POSIX), None when it lies outside it.

    A relative path counts from the root. resolve=False compares the path as written (a symlink
    stays itself): release checks must see a link, not where it points.
    """
    path = Path(path)
    if not path.is_absolute():
        path = root / path
    if resolve:
        path, root = path.resolve(), root.resolve()
    else:
        path, root = Path(os.path.normpath(path)), Path(os.path.normpath(root))
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return None


def shown_path(root: Path, path: str | os.PathLike[str], *, resolve: bool = True) -> str:
    """`path` as findings, errors and evidence name it: the project path (POSIX) inside `root`, else
    the path as given (POSIX). The one rule, so every command names a file alike; use Project.shown
    where a Project is at hand, this where a function has only the root."""
    return relative(root, path, resolve=resolve) or Path(path).as_posix()


def load_project(root: str | Path = ".") -> Project:
    """Read `[tool.samdkit]` from root/pyproject.toml (absent file or table means defaults)."""
    root = Path(root).resolve()
    pyproject = root / "pyproject.toml"
    settings: dict[str, Any] = {}
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"{pyproject}: malformed TOML: {exc}") from None
        tool = data.get("tool")
        raw = tool.get("samdkit", {}) if isinstance(tool, dict) else {}
        settings = validate_settings(raw, DEFAULT_PATHS)
    return Project(root=root, settings=settings)


def require_project(project: Project, command: str) -> None:
    """Refuse to run a project command where there is no project (before anything is written).

    A project root is a folder with a pyproject.toml (every generated project has one); outside it a
    command would otherwise write outputs made only of gaps into a stranger's folder.
    """
    if not (project.root / "pyproject.toml").is_file():
        raise UserError(
            f"{project.root}: not a samdkit project (no pyproject.toml): run `samdkit {command}` "
            "in the project's root folder"
        )


def read_yaml(path: str | Path) -> Any:
    """Load a YAML file (size- and alias-bounded), turning a missing or malformed file into one line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    return bounded.read_yaml(path)
