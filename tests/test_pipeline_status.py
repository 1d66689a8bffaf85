"""`samdkit pipeline-status` (is dvc.lock what the pipeline produces?) and `samdkit gate` (record any gate).

Real DVC and git on the shared default project (after its pipeline ran), copied before a test changes it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import git, project_env
from tests.test_gate_result import assert_envelope

PY_EXIT = [sys.executable, "-c"]


def status(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "samdkit", "pipeline-status", *args],
        cwd=project,
        env=project_env(project),
        capture_output=True,
        text=True,
    )


def test_up_to_date_project_passes(project_copy):
    done = status(project_copy, "--committed", "HEAD", "--output", "reports/gates/pipeline.json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pipeline-status: PASS" in done.stdout
    result = json.loads((project_copy / "reports/gates/pipeline.json").read_text())
    assert (
        result["verdict"] == "PASS"
        and result["detail"]["fix"] == []
        and result["gate"] == "pipeline"
    )
    assert_envelope((project_copy / "reports/gates/pipeline.json").read_text())
    assert status(project_copy).returncode == 0


def test_changed_param_names_the_stale_stages_and_the_fix(project_copy):
    params = project_copy / "params.yaml"
    text = params.read_text()
    assert "threshold: 0.5" in text
    params.write_text(text.replace("threshold: 0.5", "threshold: 0.45", 1))
    done = status(project_copy, "--format", "json")
    assert done.returncode == 1, done.stderr
    payload = assert_envelope(done.stdout)
    assert payload["verdict"] == "FAIL"
    stages = {f["detail"]["stage"] for f in payload["findings"]}
    assert {"train", "evaluate", "lock"} <= stages and "prepare" not in stages
    assert any("params.yaml" in f["message"] for f in payload["findings"])
    text_out = status(project_copy).stdout
    assert "to fix:" in text_out and "dvc repro" in text_out and "git add dvc.lock" in text_out


def test_lock_never_committed_says_which_commands_make_it_green(project_copy):
    """A first pull request: the pipeline ran in CI but dvc.lock was never committed, no DVC remote."""
    git(project_copy, "rm", "-q", "--cached", "dvc.lock", "model.lock")
    git(project_copy, "commit", "-qm", "no lock yet")
    done = status(project_copy, "--committed", "HEAD", "--output", "gates/p.json")
    assert done.returncode == 1
    assert "dvc.lock is not committed at HEAD" in done.stdout
    result = json.loads((project_copy / "gates/p.json").read_text())
    assert result["verdict"] == "FAIL"
    assert {"prepare", "train", "lock", "report"} <= set(result["detail"]["stale_stages"])
    fix = result["detail"]["fix"]
    assert fix[0] == "dvc repro"
    added = fix[1].split()  # no remote: nothing to push, CI reruns the pipeline (issue 16)
    assert added[:2] == ["git", "add"] and "dvc.lock" in added and "model.lock" in added
    assert fix[2].startswith("git commit")
    assert fix[3].startswith("# optional") and "dvc remote add" in fix[3]
    assert not any(cmd.startswith(("dvc push", "dvc remote")) for cmd in fix)


def test_a_stage_that_differs_from_the_committed_lock_is_named(project_copy):
    lock = project_copy / "dvc.lock"
    text = lock.read_text()
    start = text.index("  report:")
    digest = text.index("md5: ", start) + len("md5: ")
    lock.write_text(text[:digest] + "0" * 32 + text[digest + 32 :])
    done = status(project_copy, "--committed", "HEAD", "--format", "github")
    assert done.returncode == 1
    assert "::error file=dvc.lock,title=stale-stage::stage report is stale" in done.stdout
    assert "stage train" not in done.stdout


def test_a_failing_stage_under_repro_is_one_finding_never_a_traceback(project_copy):
    package = next(p for p in (project_copy / "src").iterdir() if p.is_dir())
    (package / "data.py").write_text("raise SystemExit('no data source configured')\n")
    done = status(project_copy, "--repro", "--output", "reports/gates/pipeline.json")
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    result = json.loads((project_copy / "reports/gates/pipeline.json").read_text())
    assert result["detail"]["reason"].startswith("stage prepare failed")
    assert result["detail"]["fix"][0].startswith("dvc repro prepare")


def test_outside_a_dvc_project_is_bad_input(tmp_path):
    done = status(tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "dvc.yaml not found" in done.stderr


# --------------------------------------------------------------------------- samdkit gate


def gate(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "samdkit", "gate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
    )


def test_gate_records_pass_fail_and_could_not_run(tmp_path):
    ok = gate(tmp_path, "lint", "--", *PY_EXIT, "print('lint: PASS')")
    assert ok.returncode == 0 and "lint: PASS" in ok.stdout
    bad = gate(
        tmp_path, "tests", "--", *PY_EXIT, "print('1 failed, 3 passed'); raise SystemExit(1)"
    )
    assert bad.returncode == 1
    err = "import sys; print('samdkit check-data: error: data/prepared/test.csv: not found'); sys.exit(2)"
    broken = gate(tmp_path, "data check", "--", *PY_EXIT, err)
    assert broken.returncode == 2
    results = {p.name: json.loads(p.read_text()) for p in (tmp_path / "reports/gates").iterdir()}
    assert results["lint.json"]["verdict"] == "PASS" and results["lint.json"]["detail"]["fix"] == []
    assert results["tests.json"]["verdict"] == "FAIL"
    assert results["tests.json"]["detail"]["reason"] == "1 failed, 3 passed"
    assert results["tests.json"]["detail"]["fix"] == ["python -m pytest"]
    assert results["data-check.json"]["verdict"] == "ERROR"
    assert results["data-check.json"]["detail"]["reason"] == (
        "could not run: samdkit check-data: error: data/prepared/test.csv: not found"
    )
    verdict = gate(tmp_path, "--verdict", "--expect", "evaluation")
    assert verdict.returncode == 1
    assert "FAIL  tests: 1 failed, 3 passed" in verdict.stdout
    assert "ERROR evaluation: did not run (no result)" in verdict.stdout


def test_gate_writes_github_outputs_and_summary(tmp_path):
    import os

    env = dict(os.environ)
    env["GITHUB_OUTPUT"] = str(tmp_path / "out")
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "summary.md")
    done = gate(
        tmp_path, "tests", "--", *PY_EXIT, "print('2 failed'); raise SystemExit(1)", env=env
    )
    assert done.returncode == 1
    outputs = (tmp_path / "out").read_text().splitlines()
    assert "verdict=FAIL" in outputs and "passed=false" in outputs and "reason=2 failed" in outputs
    summary = (tmp_path / "summary.md").read_text()
    assert "❌ **tests**: FAIL — 2 failed" in summary and "python -m pytest" in summary


def test_gate_verdict_passes_only_when_every_gate_passed(tmp_path):
    assert gate(tmp_path, "--verdict").returncode == 1  # nothing recorded is not a pass
    assert gate(tmp_path, "lint", "--", *PY_EXIT, "pass").returncode == 0
    assert gate(tmp_path, "--verdict").returncode == 0
    assert gate(tmp_path, "x").returncode == 2  # a gate without a command is bad input
    assert gate(tmp_path, "--dotenv", "g.env").returncode == 2  # --dotenv only with --verdict
    assert gate(tmp_path, "--render", "github").returncode == 2  # only with --expose-from
    assert not (tmp_path / "g.env").exists()


def test_expose_from_writes_step_outputs_from_a_json_result(tmp_path):
    """The actions' outputs come from samdkit, each file read by its strict reader, not inline Python."""
    import os
    import shutil

    from tests.conftest import REPO

    shutil.copy(REPO / "tests/data/report/data-check-fail.json", tmp_path / "d.json")
    shutil.copy(REPO / "tests/data/report/model.lock", tmp_path / "model.lock")
    digest = json.loads((tmp_path / "model.lock").read_text())["artifact"]["root_digest"]
    env = dict(os.environ, GITHUB_OUTPUT=str(tmp_path / "out"))
    done = gate(
        tmp_path, "--expose-from", "d.json", "--expose", "failed", "--expose", "success", env=env
    )
    assert done.returncode == 0, done.stderr
    pair = "artifact.root_digest=root-digest"
    assert gate(tmp_path, "--expose-from", "model.lock", "--expose", pair, env=env).returncode == 0
    assert gate(tmp_path, "tests", "--", *PY_EXIT, "print('3 passed')", env=env).returncode == 0
    gate_json = "reports/gates/tests.json"
    exposed = gate(tmp_path, "--expose-from", gate_json, "--expose", "outputs.reason", env=env)
    assert exposed.returncode == 0, exposed.stderr
    lines = (tmp_path / "out").read_text().splitlines()
    assert lines[:3] == ["failed=1", "success=false", f"root-digest={digest}"]
    assert lines[-1] == "reason=3 passed"
    value = gate(tmp_path, "--expose-from", "model.lock", "--expose", pair, "--value")
    assert value.stdout == digest + "\n"  # a shell variable in a GitLab job, no JSON parsing there
    absent = gate(tmp_path, "--expose-from", "none.json", "--expose", "verdict", "--value")
    assert absent.returncode == 0 and absent.stdout == "\n"  # the gate wrote nothing: empty output


def test_expose_from_a_foreign_or_drifted_file_is_bad_input_naming_the_field(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    bad = gate(tmp_path, "--expose-from", "bad.json", "--expose", "verdict")
    assert bad.returncode == 2 and "not a readable JSON result" in bad.stderr
    (tmp_path / "old.json").write_text(json.dumps({"title": "samdkit lint", "verdict": "PASS"}))
    old = gate(tmp_path, "--expose-from", "old.json", "--expose", "verdict")
    assert old.returncode == 2 and "field 'schema' is missing" in old.stderr
    assert "Traceback" not in old.stderr and old.stderr.count("\n") == 1
    assert gate(tmp_path, "lint", "--", *PY_EXIT, "pass").returncode == 0
    record = "reports/gates/lint.json"
    drift = gate(tmp_path, "--expose-from", record, "--expose", "detail.gone")
    assert drift.returncode == 2 and "no field 'detail.gone' to expose" in drift.stderr
    unset = gate(tmp_path, "--expose-from", record, "--expose", "outputs.gone", "--value")
    assert unset.returncode == 0 and unset.stdout == "\n"  # an output not given this run is empty


def test_verdict_reads_gate_results_strictly(tmp_path):
    """A hand-edited or foreign file under reports/gates/ is bad input naming the field, not a guess."""
    assert gate(tmp_path, "lint", "--", *PY_EXIT, "pass").returncode == 0
    record = tmp_path / "reports/gates/lint.json"
    doc = json.loads(record.read_text())
    assert_envelope(record.read_text())
    assert doc["outputs"] == {"passed": "true", "reason": "passed", "verdict": "PASS"}
    del doc["findings"]
    record.write_text(json.dumps(doc))
    done = gate(tmp_path, "--verdict")
    assert done.returncode == 2
    assert "lint.json" in done.stderr and "field 'findings' is missing" in done.stderr
    record.write_text(
        json.dumps(
            {"schema": "samdkit/gate-result/v1", "gate": "lint", "verdict": "PASS", "reason": "ok"}
        )
    )
    assert "unknown field 'reason'" in gate(tmp_path, "--verdict").stderr


def test_verdict_writes_a_gitlab_dotenv_report(tmp_path):
    """KEY=value lines GitLab's dotenv parser takes: one line each, no secret, under its 5 KiB limit."""
    secret = "postgresql://alice:s3cr3t@db.example/clinic"
    fail = f"print('could not reach {secret}\\nsecond line'); raise SystemExit(1)"
    assert gate(tmp_path, "data check", "--", *PY_EXIT, fail).returncode == 1
    assert gate(tmp_path, "lint", "--", *PY_EXIT, "print('clean')").returncode == 0
    done = gate(tmp_path, "--verdict", "--expect", "tests", "--dotenv", "gates.env")
    assert done.returncode == 1
    text = (tmp_path / "gates.env").read_text()
    assert "s3cr3t" not in text
    lines = text.splitlines()
    assert lines[0] == "SAMDKIT_GATES=FAIL"
    assert lines[1] == "SAMDKIT_GATES_FAILED=data-check,tests"
    assert "SAMDKIT_DATA_CHECK_VERDICT=FAIL" in lines and "SAMDKIT_LINT_VERDICT=PASS" in lines
    assert "SAMDKIT_TESTS_REASON=did not run (no result)" in lines
    assert "SAMDKIT_DATA_CHECK_REASON=second line" in lines
    import re

    assert all(re.fullmatch(r"[A-Z0-9_]+=[^\n]*", line) for line in lines)
    assert len(text.encode()) < 5000


def test_dotenv_stays_under_gitlabs_limits():
    from samdkit.ci.outputs import dotenv_lines, gate_result

    many = [gate_result(f"gate {i}", "FAIL", "x" * 290 + "\r\nmore", ["fix"]) for i in range(40)]
    lines = dotenv_lines(many)
    assert lines[0] == "SAMDKIT_GATES=FAIL" and lines[1].startswith("SAMDKIT_GATES_FAILED=")
    assert len("\n".join(lines).encode()) < 5000
    assert all("\r" not in line and len(line) < 260 for line in lines)


def test_comment_gives_each_gate_its_reason_and_the_fix(tmp_path):
    """The comment reads reports/gates/: verdict, reason, and the commands of each red gate."""
    ok = gate(tmp_path, "lint", "--", *PY_EXIT, "print('samdkit lint: PASS (findings: 0)')")
    assert ok.returncode == 0
    fail = "print('samdkit pipeline-status: error: dvc.yaml not found'); raise SystemExit(2)"
    assert gate(tmp_path, "pipeline", "--fix", "dvc repro", "--", *PY_EXIT, fail).returncode == 2
    done = subprocess.run(
        [sys.executable, "-m", "samdkit", "comment", "--gate", "tests=skipped"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "reports/pr-comment.md").read_text()
    assert "a gate failed" in text
    assert "| lint | ✅ pass | samdkit lint: PASS (findings: 0) |" in text
    assert "| pipeline | ⚠️ could not run | could not run: samdkit pipeline-status: error:" in text
    assert "| tests | ⏭️ not run | not run: an earlier step failed" in text
    what = text[text.index("#### What to do") :]
    assert "**pipeline**: run\n\n```sh\ndvc repro\n```" in what and "**lint**" not in what
