"""The generated project's files and settings, as every command finds them.

Paths are the template's defaults; a team overrides any of them in `[tool.samdkit]` of its pyproject.toml,
so commands run with no arguments in the project root.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samdkit.core import bounded
from samdkit.core.errors import UserError

DEFAULT_PATHS: dict[str, str] = {
    "params": "params.yaml",
    "dvc_lock": "dvc.lock",
    "train_data": "data/prepared/train.csv",
    "test_data": "data/prepared/test.csv",
    "golden_data": "data/prepared/golden.csv",
    "model": "models/model",
    "train_run": "reports/train_run.json",
    "predictions": "reports/predictions.csv",
    "emissions": "reports/emissions.csv",
    "data_check": "reports/data-check.json",
    "evaluation": "reports/evaluation.json",
    "model_lock": "model.lock",
    "sbom": "reports/sbom.cdx.json",
    "report_pdf": "reports/clinical-validation-report.pdf",
    "model_card_pdf": "reports/model-card.pdf",
    "device": "compliance/device.yaml",
    "requirements": "compliance/requirements.yaml",
    "risks": "compliance/risks.yaml",
    "model_card": "compliance/model-card.yaml",
    "expectations": "compliance/expectations",
    "reports": "reports",
    "release": "release",
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

    def section(self, name: str) -> dict[str, Any]:
        """One `[tool.samdkit.<name>]` table (empty when absent)."""
        value = self.settings.get(name, {})
        if not isinstance(value, dict):
            raise UserError(f"pyproject.toml: [tool.samdkit.{name}] must be a table")
        return value


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
        settings = data.get("tool", {}).get("samdkit", {})
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
