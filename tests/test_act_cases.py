"""The first pull request's project, carried on (issue 19): green after the comment's own commands, then red
on a lint error, corrupted data and a tampered lock at once, with every gate reporting.

Both act runs continue from the project of tests/test_act_first_pr.py (one scaffold, one folder), so they also
share actions/setup's venv in act's tool cache: each run after the first only installs the project itself.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import commit_tampered_lock, git, project_env, run
from tests.test_act_first_pr import first_pr_run, gate_results
from tests.test_ci_bundle import run_act, step_failed

pytestmark = pytest.mark.slow

GATES = {"lint", "pipeline", "data check", "tests", "locked model", "evaluation"}
IDENTITY = {
    "GIT_AUTHOR_NAME": "samdkit tests",
    "GIT_AUTHOR_EMAIL": "tests@samdkit.invalid",
    "GIT_COMMITTER_NAME": "samdkit tests",
    "GIT_COMMITTER_EMAIL": "tests@samdkit.invalid",
}


def act_case(project: Path, work: Path) -> dict:
    started = time.monotonic()
    code, log, record = run_act(project, work)
    seconds = time.monotonic() - started
    print(f"act, {work.name}: {seconds:.0f} s")
    posted = record / "npx-posted.md"
    return {
        "code": code,
        "log": log,
        "gates": gate_results(work),
        "posted": posted.read_text() if posted.exists() else "",
        "seconds": seconds,
    }


def follow_the_fix(project: Path, fix: list[str], remote: Path) -> list[str]:
    """Run the pipeline gate's fix as a person would paste it, the remote's <url> filled in."""
    done = []
    for command in fix:
        command = command.replace("<url>", str(remote))
        env = {**project_env(project), **IDENTITY}
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=project,
            env=env,
            text=True,
            capture_output=True,
        )
        assert result.returncode == 0, (command, result.stdout, result.stderr)
        done.append(command)
    return done


def break_three_gates(project: Path) -> None:
    """A lint error, prepared data out of the suite's range (pushed, dvc.lock re-recorded, so only the data
    check can tell) and a zeroed digest in model.lock (only verify-lock can tell), in one commit each."""
    package = next(p for p in (project / "src").iterdir() if p.is_dir())
    (package / "broken.py").write_text("import os\n")  # F401: unused import
    test_csv = project / "data" / "prepared" / "test.csv"
    lines = test_csv.read_text().splitlines()
    col = lines[0].split(",").index("mean_radius")
    for i in range(1, 6):
        row = lines[i].split(",")
        row[col] = "999"
        lines[i] = ",".join(row)
    test_csv.unlink()  # never write through a link into the DVC cache
    test_csv.write_text("\n".join(lines) + "\n")
    run(["dvc", "commit", "-f", "-q"], project)
    run(["dvc", "push", "-q"], project)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "lint error and corrupted prepared data")
    commit_tampered_lock(project)
    run(["dvc", "push", "-q"], project)


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict:
    first = first_pr_run(tmp_path_factory.getbasetemp())
    project, root = first["project"], first["root"]
    fixed = follow_the_fix(project, first["gates"]["pipeline"]["fix"], root / "dvc-store")
    green = act_case(project, root / "act-green")
    break_three_gates(project)
    red = act_case(project, root / "act-red")
    print(f"act runs: first {first['seconds']:.0f} s, green {green['seconds']:.0f} s, "
          f"red {red['seconds']:.0f} s")  # fmt: skip
    return {"first": first, "fixed": fixed, "green": green, "red": red}


def test_the_first_comments_commands_make_the_pull_request_green(cases):
    green = cases["green"]
    assert cases["fixed"][0] == "dvc repro" and cases["fixed"][-1].startswith("git commit")
    assert green["code"] == 0, green["log"][-6000:]
    assert set(green["gates"]) == GATES
    assert {r["verdict"] for r in green["gates"].values()} == {"PASS"}, green["gates"]
    assert "all gates passed" in green["posted"]
    for name in GATES:
        assert f"| {name} | ✅ pass |" in green["posted"], name


def test_lint_error_corrupted_data_and_tampered_lock_each_report(cases):
    red = cases["red"]
    log, gates = red["log"], red["gates"]
    assert red["code"] != 0
    assert set(gates) == GATES, (sorted(gates), log[-6000:])
    verdicts = {name: r["verdict"] for name, r in gates.items()}
    assert verdicts == {
        "lint": "FAIL",
        "pipeline": "PASS",  # dvc.lock re-recorded: only the data check and verify-lock can tell
        "data check": "FAIL",
        "tests": "PASS",
        "locked model": "FAIL",
        "evaluation": "PASS",
    }, {name: (r["verdict"], r.get("reason")) for name, r in gates.items()}
    for step in ("Lint (ruff, pynblint)", "Data check (Great Expectations)", "Locked model"):
        assert step_failed(log, step), (step, log[-6000:])
    assert not step_failed(log, "Pipeline (dvc pull"), log[-6000:]
    posted = red["posted"]
    for name in ("lint", "data check", "locked model"):
        assert f"| {name} | ❌ fail |" in posted, name
    assert "| pipeline | ✅ pass |" in posted and "a gate failed" in posted
    # no patient value from the corrupted rows reaches the comment
    assert not re.search(r"(?<![\d.])999(?![\d.])", posted)
