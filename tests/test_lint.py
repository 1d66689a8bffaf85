"""`samdkit lint` with the real tools: ruff from the dev venv, pynblint 0.1.6 through uvx."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

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


def project(tmp_path: Path, files: dict[str, Path], settings: str = "") -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT + settings, encoding="utf-8")
    for name, source in files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    return tmp_path


def test_clean_project_with_the_template_notebook_passes(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "notebooks/01-exploration.ipynb": TEMPLATE_NOTEBOOK,
            "src/demo/core.py": DATA / "clean_module.py",
        },
    )
    # a virtual environment's notebooks are never linted
    (root / ".venv" / "lib").mkdir(parents=True)
    shutil.copy(DATA / "bad_practices.ipynb", root / ".venv" / "lib" / "vendored.ipynb")
    proc = samdkit("lint", "--format", "json", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["verdict"] == "PASS"
    assert result["findings"] == []
    assert result["summary"]["notebooks"] == 1


def test_bad_notebook_and_ruff_error_fail_naming_each_rule(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "notebooks/scratch.ipynb": DATA / "bad_practices.ipynb",
            "src/demo/bad.py": DATA / "bad_ruff.py",
        },
    )
    proc = samdkit("lint", "--format", "github", "--output", "lint.json", cwd=root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = json.loads((root / "lint.json").read_text(encoding="utf-8"))
    assert result["verdict"] == "FAIL"
    rules = {(f["check"], f["file"]) for f in result["findings"]}
    for rule in (
        "pynblint/non-linear-execution",
        "pynblint/empty-cells",
        "pynblint/too-few-MD-cells",
        "pynblint/missing-h1-MD-heading",
        "pynblint/imports-beyond-first-cell",
        "samdkit/outputs-not-stripped",
    ):
        assert (rule, "notebooks/scratch.ipynb") in rules, rule
    assert ("ruff/F401", "src/demo/bad.py") in rules
    by_check = {f["check"]: f for f in result["findings"]}
    assert by_check["ruff/F401"]["line"] == 3
    assert "cell 2" in by_check["pynblint/empty-cells"]["message"]  # 1-based, like ruff
    assert "Fix: " in by_check["pynblint/non-linear-execution"]["message"]
    assert "cell 4" in by_check["samdkit/outputs-not-stripped"]["message"]
    # the default ignore list drops pynblint's rules that stripped notebooks always trip
    assert not any(check.startswith("pynblint/non-executed") for check, _ in rules)
    # github format: one workflow annotation per finding, then the verdict
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == len(result["findings"]) + 1
    assert "::error file=src/demo/bad.py,line=3,title=ruff/F401::" in proc.stdout
    assert lines[-1].startswith("samdkit lint: FAIL")


def test_ignored_rules_come_from_the_project_configuration(tmp_path: Path) -> None:
    settings = (
        '\n[tool.samdkit.lint]\npaths = ["notebooks"]\nnotebook_ignore = [\n'
        '  "non-linear-execution", "empty-cells", "too-few-MD-cells", "missing-h1-MD-heading",\n'
        '  "missing-opening-MD-text", "missing-closing-MD-text", "imports-beyond-first-cell",\n'
        '  "non-executed-cells", "outputs-not-stripped",\n]\n'
    )
    root = project(
        tmp_path,
        {
            "notebooks/scratch.ipynb": DATA / "bad_practices.ipynb",
            "src/demo/bad.py": DATA / "bad_ruff.py",
        },
        settings,
    )
    proc = samdkit("lint", cwd=root)  # src/ is outside the configured paths: no ruff finding
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1].startswith("samdkit lint: PASS")


def test_ruff_error_alone_fails_in_text_format(tmp_path: Path) -> None:
    root = project(tmp_path, {"bad.py": DATA / "bad_ruff.py"})
    proc = samdkit("lint", "bad.py", cwd=root)
    assert proc.returncode == 1
    assert "bad.py:3  [ruff/F401]" in proc.stdout
    assert "(notebooks: 0, ruff: 1" in proc.stdout


@pytest.mark.parametrize(
    ("settings", "args", "message"),
    [
        ("", ["missing_folder"], "missing_folder: no such file or folder"),
        (
            '\n[tool.samdkit.lint]\npynblint_command = ["no-such-uvx"]\n',
            [],
            "'no-such-uvx' not found",
        ),
        (
            '\n[tool.samdkit.lint]\nnotebook_ignore = "empty-cells"\n',
            [],
            "must be a list of strings",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, settings: str, args: list[str], message: str
) -> None:
    root = project(tmp_path, {"notebooks/a.ipynb": TEMPLATE_NOTEBOOK}, settings)
    proc = samdkit("lint", *args, cwd=root)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert message in proc.stderr
