"""Shared, expensive fixtures: one baked default project whose pipeline ran once, for every test that reads it.

Tests that change a project copy it first (`project_copy`), so the shared one stays as the pipeline left it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "template"
BIN = Path(sys.executable).parent


def project_env(project: Path) -> dict[str, str]:
    """The environment a generated project's commands run in: this venv first, its src importable."""
    # a tracking or registry URI left by an in-process MLflow test must not redirect a project's runs
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(project / "src")
    env.setdefault("SOURCE_DATE_EPOCH", "1767225600")
    for key in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK"):
        env[key] = "true"
    env["DVC_NO_ANALYTICS"] = "1"
    return env


def run(cmd: list[str], cwd: Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """Run a command of a generated project; on an unexpected failure show its output in the test report."""
    result = subprocess.run(
        cmd,
        cwd=cwd,
        env=kwargs.pop("env", None) or project_env(cwd),
        text=True,
        capture_output=True,
    )
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def git(project: Path, *args: str) -> subprocess.CompletedProcess:
    """git in a generated project, as a test author with no global git identity."""
    identity = ["-c", "user.name=samdkit tests", "-c", "user.email=tests@samdkit.invalid"]
    return run(["git", *identity, *args], project)


def commit_all(project: Path, message: str) -> None:
    """Commit everything git tracks in a generated project (DVC keeps data and model out of git)."""
    git(project, "add", "-A")
    git(project, "commit", "-q", "--no-verify", "-m", message)


def commit_tampered_lock(project: Path) -> None:
    """Zero one digest of model.lock and commit it with dvc.lock re-recorded: only verify-lock can tell."""
    lock = project / "model.lock"
    text = lock.read_text()
    digest = re.search(r"[0-9a-f]{64}", text).group(0)
    lock.write_text(text.replace(digest, "0" * 64, 1))
    run(["dvc", "commit", "-f", "-q"], project)
    git(project, "commit", "-qam", "tampered lock")


def published_project(root: Path, ci_platform: str) -> Path:
    """A baked project as its team pushes it: pipeline run, data and model on a (local) DVC remote."""
    project = bake_project(root, ci_platform=ci_platform)
    fill_in_template_examples(project)  # a team replaces them before its first release (--strict)
    run(["dvc", "repro"], project)
    run(["dvc", "remote", "add", "-d", "store", str(root / "dvc-store")], project)
    run(["dvc", "push", "-q"], project)
    commit_all(project, "baseline")
    return project


def fill_in_template_examples(project: Path) -> None:
    """Drop the TEMPLATE EXAMPLE marker from every compliance text, as a team that wrote its own would."""
    for path in (project / "compliance").glob("*.yaml"):
        path.write_text(path.read_text().replace("TEMPLATE EXAMPLE: ", ""))


def bake_project(output_dir: Path, **context: str) -> Path:
    """Render the template with cookiecutter's API (no prompts) and return the project folder."""
    from cookiecutter.main import cookiecutter

    return Path(
        cookiecutter(
            str(TEMPLATE), no_input=True, extra_context=context, output_dir=str(output_dir)
        )
    )


@pytest.fixture(scope="session")
def bake(tmp_path_factory) -> Callable[..., Path]:
    def _bake(**context: str) -> Path:
        return bake_project(tmp_path_factory.mktemp("bake"), **context)

    return _bake


@pytest.fixture(scope="session")
def default_project(tmp_path_factory) -> Path:
    """The default project after `dvc repro`: read it, never change it (use project_copy)."""
    project = bake_project(tmp_path_factory.mktemp("default"))
    commit_all(project, "scaffold")
    run(["dvc", "repro"], project)
    commit_all(project, "pipeline outputs and model.lock")
    return project


@pytest.fixture
def project_copy(default_project, tmp_path) -> Path:
    """A private copy of the default project (after its pipeline ran) that a test may change."""
    target = tmp_path / default_project.name
    shutil.copytree(default_project, target, symlinks=True)
    return target


@pytest.fixture(scope="session")
def predictions(tmp_path_factory) -> Path:
    """Test-split predictions of the default model (tests/factories.py), as the evaluate stage writes them."""
    from tests.factories import write_predictions

    return write_predictions(tmp_path_factory.mktemp("split"))


def samdkit_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess: exit codes and output exactly as a user sees them."""
    return subprocess.run(
        [sys.executable, "-m", "samdkit", *args], cwd=cwd, capture_output=True, text=True, env=env
    )
