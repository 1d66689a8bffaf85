"""A freshly scaffolded project's first pull request, run for real with act (issue 19).

Defaults, `git init`, one commit, no pipeline output committed and no DVC remote: the PR is red, yet every
gate runs and records its verdict, and the comment is built and posted with each verdict, its reason and
the exact commands that make it green. Uses the act harness of tests/test_ci_bundle.py; the gates of the
template are samdkit's own actions (lint, data-check, model-lock), so act runs exactly what users `uses:`.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import pytest

from tests.conftest import bake_project, commit_all
from tests.test_ci_bundle import calls, run_act, step_failed

pytestmark = pytest.mark.slow

GATES = ("lint", "pipeline", "data check", "tests", "locked model", "evaluation")


@functools.cache
def first_pr_run(base: Path) -> dict:
    """Run once per session: tests/test_act_cases.py continues from this project and its comment's commands."""
    root = base / "first-pr"
    root.mkdir()
    project = bake_project(root, ci_platform="github")
    commit_all(project, "scaffold")
    started = time.monotonic()
    code, log, record = run_act(project, root / "act")
    seconds = time.monotonic() - started
    print(f"act, first pull request: {seconds:.0f} s")
    return {
        "code": code,
        "log": log,
        "record": record,
        "gates": gate_results(root / "act"),
        "project": project,
        "root": root,
        "seconds": seconds,
    }


def gate_results(work: Path) -> dict[str, dict]:
    """The gate results the PR job handed to the comment job (its pr-reports artifact), by gate name."""
    gates = work / "artifacts" / "pr-reports" / "reports" / "gates"
    results = {}
    for path in sorted(gates.glob("*.json")) if gates.is_dir() else []:
        data = json.loads(path.read_text())
        results[data["gate"]] = data
    return results


@pytest.fixture(scope="module")
def first_pr(tmp_path_factory) -> dict:
    return first_pr_run(tmp_path_factory.getbasetemp())


def test_first_pr_is_red_but_every_gate_records_its_verdict(first_pr):
    log = first_pr["log"]
    assert first_pr["code"] != 0, log[-6000:]
    assert set(first_pr["gates"]) == set(GATES), (sorted(first_pr["gates"]), log[-6000:])
    verdicts = {name: r["verdict"] for name, r in first_pr["gates"].items()}
    # the pipeline ran in the job (so the other gates read its outputs), but nothing was committed
    assert verdicts["pipeline"] == "FAIL"
    assert verdicts["locked model"] == "ERROR"  # no model.lock at HEAD: could not verify
    for name in ("lint", "data check", "tests", "evaluation"):
        assert verdicts[name] == "PASS", (name, first_pr["gates"][name].get("reason"))
    assert step_failed(log, "Pipeline (dvc pull")
    assert step_failed(log, "Every gate passed")  # the job is red because of the recorded verdicts
    for name in ("Data check (Great Expectations)", "Project tests", "Evaluation and acceptance"):
        assert not step_failed(log, name), name


def test_first_pr_pipeline_gate_gives_the_exact_commands(first_pr):
    pipeline = first_pr["gates"]["pipeline"]
    assert pipeline["reason"] == (
        "dvc.lock is not committed at HEAD: the pipeline's outputs were never recorded"
    )
    fix = pipeline["fix"]
    assert fix[0] == "dvc repro"
    assert fix[1].startswith("dvc remote add -d storage <url>")  # no DVC remote yet
    assert fix[2] == "dvc push"
    added = fix[3].split()
    assert added[:2] == ["git", "add"]
    for path in ("dvc.lock", "model.lock", "reports/evaluation.json", "data/.gitignore"):
        assert path in added, (path, added)
    assert not any(p.startswith("reports/gates") or p == "reports/lint.json" for p in added)
    assert fix[4].startswith("git commit")


def test_first_pr_comment_tells_the_reviewer_what_to_do(first_pr):
    record: Path = first_pr["record"]
    [call] = [c for c in calls(record) if c["name"] == "npx"]
    assert call["argv"][:3] == ["-y", "@dvcorg/cml@0.20.6", "comment"]
    posted = (record / "npx-posted.md").read_text()
    print(posted)  # read as a reviewer would: pytest -s shows it
    assert "a gate failed" in posted
    for name in ("lint", "data check", "tests", "evaluation"):
        assert f"| {name} | ✅ pass |" in posted, name
    assert "| pipeline | ❌ fail | dvc.lock is not committed at HEAD" in posted
    assert "| locked model | ⚠️ could not run | could not run: samdkit verify-lock" in posted
    what = posted[posted.index("#### What to do") :]
    assert what.index("**pipeline**") < what.index("dvc repro") < what.index("dvc remote add")
    assert "dvc push" in what and "git add dvc.lock" in what and "git commit" in what
    # the comment never says a file was missing: it was built in the gated job and handed over
    assert "not found" not in posted
