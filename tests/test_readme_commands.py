"""The README's promise: its first command runs the demo end to end, its second runs these tests."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def quickstart_commands() -> list[str]:
    section = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_quickstart_has_the_two_commands_in_order():
    assert quickstart_commands()[:2] == ["./scripts/demo", "./scripts/test"]
    assert (
        README.index("## Quickstart")
        < README.index("## Scaffold a project")
        < README.index("## Layout")
    )


def test_landing_gate_calls_the_readme_test_command():
    gate = (REPO / ".ci/run").read_text()
    assert "./scripts/test" in gate
    for script in ("scripts/demo", "scripts/test", ".ci/run"):
        assert os.access(REPO / script, os.X_OK), f"{script} is executable"


@pytest.mark.slow
def test_demo_command_runs_the_main_job(tmp_path):
    """The demo on the embedded default: scaffold, pipeline, evidence; it prints where each output is."""
    env = {**os.environ, "SAMDKIT_DEMO_DIR": str(tmp_path)}
    result = subprocess.run(
        [str(REPO / "scripts/demo")],
        cwd=REPO,
        env=env,
        text=True,
        capture_output=True,
        timeout=1500,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "==> dvc repro" in result.stdout and "done in" in result.stdout
    (project,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert f"The scaffolded project is {project}" in result.stdout
    assert (project / "mlflow.db").is_file() and (project / "reports/emissions.csv").is_file()
    summary = result.stdout.split("Demo finished.")[1]
    listed = re.findall(r"(?<=\s)(/\S+\.(?:pdf|json|csv|lock|db|yaml))\b", summary)
    assert len(listed) >= 12
    for path in listed:
        assert Path(path).exists(), f"the demo points at {path}, which does not exist"
    for step in (
        "rebuild",
        "verify-lock",
        "sign the report",
        "verify, as an auditor",
        "independent check",
    ):
        assert f"==> {step}" in result.stdout
    # the model rebuilt from the commit is bit-identical, and the signed report says so
    assert "reproduced" in result.stdout.split("==> rebuild")[1].split("==> ")[0]
    report = (project / "reports/clinical-validation-report.md").read_text()
    assert "reproduced" in report
    assert "samdkit verify: PASS" in result.stdout
    assert (
        "authenticated (pinned fingerprint)" in result.stdout
    )  # the auditor pinned the demo signer
