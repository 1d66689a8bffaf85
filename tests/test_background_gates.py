"""`samdkit gate --background NAME -- CMD` and `--wait`: a gate that runs beside the next steps of a job (issue 19).

Lint needs no pipeline output, so the generated PR workflow starts it before the pipeline step and collects it
after: it runs on the runner's second core while the pipeline trains on the first.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

GATE = [sys.executable, "-m", "samdkit", "gate"]


def gate(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*GATE, *args], cwd=project, text=True, capture_output=True, env=env, timeout=120
    )


def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    return tmp_path


def test_a_background_gate_returns_at_once_and_wait_collects_its_result(tmp_path):
    root = project(tmp_path)
    slow = "import time; time.sleep(2); print('checked'); raise SystemExit(1)"
    started = time.monotonic()
    done = gate(root, "--background", "lint", "--", sys.executable, "-c", slow)
    assert done.returncode == 0 and time.monotonic() - started < 2, done.stderr
    assert not (root / "reports/gates/lint.json").exists()  # still running
    outputs, summary = tmp_path / "out.txt", tmp_path / "summary.md"
    env = {
        "PATH": "/usr/bin:/bin",
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    waited = gate(root, "--wait", env=env)
    assert waited.returncode == 0, waited.stderr
    assert "checked" in waited.stdout  # the gate's own log, printed in the waiting step
    result = json.loads((root / "reports/gates/lint.json").read_text())
    assert result["verdict"] == "FAIL" and result["detail"]["exit_code"] == 1
    assert "verdict=FAIL" in outputs.read_text()  # published by the waiting step
    assert "**lint**: FAIL" in summary.read_text()
    assert sorted(p.name for p in (root / "reports/gates").iterdir()) == ["lint.json"]


def test_verdict_waits_for_background_gates(tmp_path):
    root = project(tmp_path)
    gate(root, "--background", "lint", "--", sys.executable, "-c", "import time; time.sleep(1)")
    done = gate(root, "--verdict", "--expect", "lint")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS  lint" in done.stdout


def test_a_background_gate_that_dies_without_a_result_is_an_error(tmp_path):
    root = project(tmp_path)
    gate(root, "--background", "lint", "--", sys.executable, "-c", "import time; time.sleep(30)")
    marker = json.loads((root / "reports/gates/lint.running").read_text())
    # the gate's own process killed (as a cancelled job would): no result recorded
    subprocess.run(["kill", "-9", str(marker["pid"])], check=True)
    done = gate(root, "--verdict", "--expect", "lint")
    assert done.returncode == 1
    result = json.loads((root / "reports/gates/lint.json").read_text())
    assert (
        result["verdict"] == "ERROR" and "without recording a result" in result["detail"]["reason"]
    )


def test_a_stale_result_is_not_taken_for_the_background_run(tmp_path):
    root = project(tmp_path)
    stale = root / "reports/gates/lint.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    gate(root, "--background", "lint", "--", sys.executable, "-c", "raise SystemExit(1)")
    done = gate(root, "--verdict", "--expect", "lint")
    assert done.returncode == 1 and "FAIL  lint" in done.stdout


def test_bad_use_is_one_line(tmp_path):
    root = project(tmp_path)
    done = gate(root, "--background", "lint")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    done = gate(root, "--wait", "lint", "--", "true")
    assert done.returncode == 2 and "--wait runs alone" in done.stderr
    marker = root / "reports/gates/x.running"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("not json")
    done = gate(root, "--wait")
    assert done.returncode == 2 and "not a samdkit background-gate marker" in done.stderr


def test_a_planted_marker_naming_another_live_process_does_not_hold_the_job(tmp_path):
    """A marker committed with the pull request may name pid 1 (alive forever): it is not a samdkit
    gate, so --wait does not wait for it, and the gate it names is recorded as ERROR."""
    root = project(tmp_path)
    marker = root / "reports/gates/lint.running"
    marker.parent.mkdir(parents=True)
    marker.write_text(json.dumps({"name": "lint", "pid": 1, "started": 0}))
    started = time.monotonic()
    done = gate(root, "--verdict", "--expect", "lint")
    assert time.monotonic() - started < 30
    assert done.returncode == 1
    result = json.loads((root / "reports/gates/lint.json").read_text())
    assert result["verdict"] == "ERROR"
