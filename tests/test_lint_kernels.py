"""`samdkit lint` keeps each linter in its domain: a notebook that is not Python (an R kernel) is read
by neither ruff nor pynblint and is listed as skipped. Real ruff and pynblint (through uvx)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from samdkit import lint
from tests.conftest import samdkit_cli as samdkit

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "lint"
TEMPLATE_NOTEBOOK = (
    REPO / "template" / "{{cookiecutter.project_slug}}" / "notebooks" / "01-exploration.ipynb"
)
PYPROJECT = '[project]\nname = "demo"\n\n[tool.ruff]\nline-length = 100\n'

pytestmark = pytest.mark.skipif(
    shutil.which("uvx") is None, reason="uvx (uv) is needed for pynblint"
)


def project(tmp_path: Path, notebooks: dict[str, dict | Path]) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    for name, content in notebooks.items():
        target = tmp_path / "notebooks" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copy(content, target)
        else:
            target.write_text(json.dumps(content), encoding="utf-8")
    return tmp_path


def r_notebook(**changes: object) -> dict:
    notebook = json.loads((DATA / "r_kernel.ipynb").read_text(encoding="utf-8"))
    notebook.update(copy.deepcopy(changes))
    return notebook


def test_pynblint_alone_fails_an_r_notebook_that_ruff_skips(tmp_path: Path) -> None:
    """The bug: pynblint parses R as Python; ruff rightly leaves it alone."""
    root = project(tmp_path, {"survival.ipynb": DATA / "r_kernel.ipynb"})
    notebook = root / "notebooks" / "survival.ipynb"
    found = lint._pynblint_one(notebook, root, lint.DEFAULT_PYNBLINT_COMMAND, [])
    assert found, "pynblint reports the R notebook (e.g. invalid Python syntax)"
    assert lint.run_ruff([root / "notebooks"], root) == []


def test_an_r_kernel_notebook_is_skipped_by_both_and_listed(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {"01-exploration.ipynb": TEMPLATE_NOTEBOOK, "survival.ipynb": DATA / "r_kernel.ipynb"},
    )
    proc = samdkit("lint", "--format", "json", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["verdict"] == "PASS"
    assert result["summary"]["notebooks"] == 1 and result["summary"]["skipped"] == 1
    assert result["summary"]["findings"] == 0
    [skipped] = result["findings"]
    assert skipped["check"] == "samdkit/skipped-notebook"
    assert skipped["file"] == "notebooks/survival.ipynb" and skipped["severity"] == "notice"
    assert skipped["detail"]["language"] == "R"
    text = samdkit("lint", cwd=root)
    assert text.returncode == 0, text.stdout + text.stderr
    assert (
        "NOTICE  notebooks/survival.ipynb  [samdkit/skipped-notebook] skipped: its language is R"
        in text.stdout
    )
    assert text.stdout.strip().splitlines()[-1].endswith("findings: 0, skipped: 1)")
    github = samdkit("lint", "--format", "github", cwd=root)
    assert (
        "::notice file=notebooks/survival.ipynb,title=samdkit/skipped-notebook::" in github.stdout
    )


def test_the_language_comes_from_the_kernelspec_when_language_info_is_absent(
    tmp_path: Path,
) -> None:
    notebook = r_notebook()
    del notebook["metadata"]["language_info"]
    root = project(tmp_path, {"survival.ipynb": notebook})
    proc = samdkit("lint", "--format", "json", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["summary"]["skipped"] == 1


def test_a_notebook_without_language_metadata_is_python_and_linted(tmp_path: Path) -> None:
    """Only a notebook that says it is another language is skipped: R code in a notebook that
    does not say so is Python to both linters, and fails."""
    root = project(tmp_path, {"survival.ipynb": r_notebook(metadata={})})
    proc = samdkit("lint", "--format", "json", cwd=root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["summary"]["skipped"] == 0
    tools = {f["detail"].get("tool") for f in result["findings"]}
    assert {"ruff", "pynblint"} <= tools


def test_outputs_of_a_skipped_notebook_still_fail(tmp_path: Path) -> None:
    """Stripping outputs is about patient data, whatever the kernel."""
    notebook = r_notebook()
    notebook["cells"][1]["outputs"] = [
        {"name": "stdout", "output_type": "stream", "text": ["  arm n events\n"]}
    ]
    root = project(tmp_path, {"survival.ipynb": notebook})
    proc = samdkit("lint", "--format", "json", cwd=root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    checks = {f["check"] for f in json.loads(proc.stdout)["findings"]}
    assert checks == {"samdkit/outputs-not-stripped", "samdkit/skipped-notebook"}
