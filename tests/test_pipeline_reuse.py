"""`check-data --reuse-pipeline` and `evaluate --reuse-pipeline` (issue 19: each piece of work once).

The gates read what this job's `samdkit pipeline-status --repro` computed in their dvc.yaml stage, and
compute again (with a note) whenever the output was not computed here, at this commit, by the gate's own
command, from the inputs it pins. Real DVC, git, GX and the CLI on copies of the default project.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import commit_all, git, project_env

READ = "read from this job's pipeline"
EVALUATION = "reports/evaluation.json"
DATA_CHECK = "reports/data-check.json"
RECORD = "reports/gates/pipeline.json"


def samdkit(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "samdkit", *args],
        cwd=project,
        env=project_env(project),
        capture_output=True,
        text=True,
    )


def pipeline(project: Path) -> subprocess.CompletedProcess:
    """The generated workflow's pipeline step."""
    return samdkit(project, "pipeline-status", "--repro", "--committed", "HEAD", "--output", RECORD)


def head(project: Path) -> str:
    return git(project, "rev-parse", "HEAD").stdout.strip()


def envelope(done: subprocess.CompletedProcess) -> dict:
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stdout)


GATES = {  # gate command -> (stage output, the stage dvc.yaml names for it)
    "check-data": (DATA_CHECK, "check-data"),
    "evaluate": (EVALUATION, "evaluate"),
}


def gate(project: Path, command: str, *more: str) -> subprocess.CompletedProcess:
    extra = ["--no-mlflow"] if command == "evaluate" else []
    return samdkit(project, command, *extra, "--reuse-pipeline", "--format", "json", *more)


@pytest.fixture(scope="module")
def ran(default_project, tmp_path_factory) -> Path:
    """The default project after the workflow's pipeline step ran check-data and evaluate in this job:
    a pull request changed pyproject.toml (a dependency of both) without running the pipeline, so `dvc
    repro` ran both stages at HEAD (the freshness gate is red: dvc.lock was not committed again)."""
    project = tmp_path_factory.mktemp("reuse") / default_project.name
    shutil.copytree(default_project, project, symlinks=True)
    with (project / "pyproject.toml").open("a") as handle:
        handle.write("# a pull request's comment\n")
    commit_all(project, "a change the check-data and evaluate stages depend on")
    done = pipeline(project)
    assert (project / RECORD).is_file(), done.stdout + done.stderr
    repro = json.loads((project / RECORD).read_text())["detail"]["repro"]
    assert {"check-data", "evaluate"} <= set(repro["stages_run"]), repro
    assert repro["commit"] == head(project)
    return project


@pytest.fixture
def ran_copy(ran, tmp_path) -> Path:
    target = tmp_path / ran.name
    shutil.copytree(ran, target, symlinks=True)
    return target


def _without_source(result: dict) -> dict:
    summary = {k: v for k, v in result["summary"].items() if k != "source"}
    return {**result, "summary": summary}


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(GATES))
def test_reads_what_the_pipeline_computed_in_this_job(ran_copy, command):
    output, stage = GATES[command]
    path = ran_copy / output
    before = path.read_bytes()
    os.utime(path, (1_000_000_000, 1_000_000_000))  # a rewrite would move the time
    reused = gate(ran_copy, command)
    result = envelope(reused)
    assert reused.returncode == 0 and result["verdict"] == "PASS", reused.stderr
    commit = head(ran_copy)[:12]
    assert result["summary"]["source"] == f"{READ} (stage {stage} ran at {commit})"
    assert path.read_bytes() == before and path.stat().st_mtime == 1_000_000_000
    assert "note:" not in reused.stderr
    # the same verdict, findings, summary and detail as computing it again
    again = samdkit(
        ran_copy, command, *(["--no-mlflow"] if command == "evaluate" else []), "--format", "json"
    )
    assert again.returncode == 0
    assert _without_source(result) == envelope(again)
    text = (
        samdkit(ran_copy, command, "--reuse-pipeline", "--no-mlflow", "--format", "text")
        if command == "evaluate"
        else samdkit(ran_copy, command, "--reuse-pipeline")
    )
    assert f"{READ} (stage {stage} ran at {commit})" in text.stdout


@pytest.mark.slow
def test_output_elsewhere_gets_the_stage_result_and_nothing_else_is_written(ran_copy):
    gates = ran_copy / "reports" / "gates"
    listing = sorted(p.name for p in gates.iterdir())
    done = gate(ran_copy, "evaluate", "--output", "reports/elsewhere.json")
    assert done.returncode == 0, done.stderr
    assert envelope(done)["outputs"]["evaluation"] == "reports/elsewhere.json"
    assert (ran_copy / "reports/elsewhere.json").read_bytes() == (
        ran_copy / EVALUATION
    ).read_bytes()
    assert sorted(p.name for p in gates.iterdir()) == listing


def _assert_computed_again(done: subprocess.CompletedProcess, why: str) -> dict:
    result = envelope(done)
    assert "source" not in result["summary"]
    assert "note: --reuse-pipeline: computing again: " in done.stderr
    assert why in done.stderr, done.stderr
    return result


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(GATES))
def test_no_record_computes_again(ran_copy, command):
    (ran_copy / RECORD).unlink()
    done = gate(ran_copy, command)
    assert done.returncode == 0
    _assert_computed_again(done, "no record of a pipeline run at this commit")


@pytest.mark.slow
def test_record_of_another_commit_computes_again(ran_copy):
    (ran_copy / "README.md").write_text("another commit\n")
    commit_all(ran_copy, "next commit: the record names its parent")
    for command in GATES:
        done = gate(ran_copy, command)
        assert done.returncode == 0
        _assert_computed_again(done, "no record of a pipeline run at this commit")


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(GATES))
def test_output_edited_after_the_repro_is_computed_again(ran_copy, command):
    output, _ = GATES[command]
    path = ran_copy / output
    original = path.read_bytes()
    path.write_text(json.dumps(json.loads(original), indent=1))  # same content, other bytes
    done = gate(ran_copy, command)
    assert done.returncode == 0
    _assert_computed_again(done, "changed after the pipeline ran")
    assert path.read_bytes() == original  # computed again and written, as the gate always did


@pytest.mark.slow
def test_stage_that_did_not_run_is_computed_again(project_copy):
    """Everything up to date: dvc repro runs no stage, the committed outputs are not evidence."""
    assert pipeline(project_copy).returncode == 0
    repro = json.loads((project_copy / RECORD).read_text())["detail"]["repro"]
    assert "evaluate" not in repro["stages_run"]
    for command, (_, stage) in GATES.items():
        done = gate(project_copy, command)
        assert done.returncode == 0
        _assert_computed_again(done, f"stage {stage} did not run")


@pytest.mark.slow
def test_planted_record_cannot_make_a_failing_evaluation_pass(ran_copy):
    """A pull request that raises a criterion out of reach keeps the old PASS evaluation.json and commits
    a pipeline record naming it; then the job's own earlier step forges one naming HEAD."""
    requirements = ran_copy / "compliance/requirements.yaml"
    text = requirements.read_text()
    assert "threshold: 0.95" in text
    requirements.write_text(text.replace("threshold: 0.95", "threshold: 0.9999", 1))
    git(ran_copy, "add", "-f", RECORD)
    commit_all(ran_copy, "stricter AUROC, stale PASS evaluation, planted record")

    done = gate(ran_copy, "evaluate")
    assert done.returncode == 1, done.stdout + done.stderr
    assert _assert_computed_again(done, "no record")["verdict"] == "FAIL"

    git(ran_copy, "checkout", "-q", "HEAD", "--", EVALUATION)
    record = json.loads((ran_copy / RECORD).read_text())
    record["detail"]["repro"]["commit"] = head(ran_copy)  # forged in the job, at HEAD
    (ran_copy / RECORD).write_text(json.dumps(record))
    done = gate(ran_copy, "evaluate")
    assert done.returncode == 1, done.stdout + done.stderr
    result = _assert_computed_again(done, "compliance/requirements.yaml changed after")
    assert result["verdict"] == "FAIL"


def test_the_stage_is_the_one_dvc_yaml_names_and_runs_the_gate_command(tmp_path):
    from samdkit.core import reuse
    from samdkit.core.project import load_project

    (tmp_path / "dvc.yaml").write_text(
        "stages:\n"
        "  assess:\n"
        "    cmd: [python -m pkg.evaluate, samdkit evaluate --no-mlflow]\n"
        "    outs: [{reports/evaluation.json: {cache: false}}, reports/predictions.csv]\n"
        "  checks:\n"
        "    cmd: samdkit check-data --dataset other.csv --suite s.json\n"
        "    metrics: [{reports/data-check.json: {cache: false}}]\n"
    )
    project = load_project(tmp_path)
    assert reuse.stage_writing(project, project.path("evaluation")) == (
        "assess",
        ["python -m pkg.evaluate", "samdkit evaluate --no-mlflow"],
    )
    assert reuse.stage_writing(project, project.path("data_check"))[0] == "checks"
    assert reuse.stage_writing(project, project.path("model")) is None
    assert reuse.check(project, project.path("model"), "samdkit lock").startswith("no stage of")
    # a stage running the gate's command with other data is not the gate's computation
    assert "does not run 'samdkit check-data'" in reuse.check(
        project, project.path("data_check"), "samdkit check-data"
    )


@pytest.mark.parametrize(
    ("line", "same"),
    [
        ("samdkit evaluate", True),
        ("samdkit evaluate --no-mlflow --format json", True),
        ("samdkit evaluate --format=github", True),
        ("samdkit evaluate --threshold 0.1", False),
        ("samdkit evaluate --predictions other.csv", False),
        ("samdkit evaluatex", False),
        ("python -m samdkit evaluate", False),
        ("samdkit evaluate 'unclosed", False),
    ],
)
def test_only_flags_that_change_nothing_count_as_the_gate_command(line, same):
    from samdkit.core.pipeline_run import same_command as _same_command

    assert _same_command(line, "samdkit evaluate") is same


@pytest.mark.parametrize("threshold", ["0.4", "0"])
def test_own_inputs_are_computed_with_a_note(tmp_path, threshold):
    """--threshold (or another input) is not what the stage computed: computed, never read."""
    done = samdkit(
        tmp_path, "evaluate", "--reuse-pipeline", "--no-mlflow", "--threshold", threshold
    )
    assert "note: --reuse-pipeline: computing again: --threshold evaluates other inputs" in (
        done.stderr
    )


def test_other_data_than_the_stage_is_checked_with_a_note(tmp_path):
    done = samdkit(
        tmp_path, "check-data", "--reuse-pipeline", "--dataset", "x.csv", "--suite", "s.json"
    )
    assert "note: --reuse-pipeline: computing again: --dataset checks other data" in done.stderr
    assert done.returncode == 2  # then the usual bad-input line: no such dataset


def test_progress_line_shows_hostile_file_names_escaped(project_copy):
    """`FAIL <suite> on <dataset>`: a name with a line break and a terminal escape stays one visible line."""
    name = "evil\n\x1b[2Kok compliance.csv"
    shutil.copy(project_copy / "data/prepared/test.csv", project_copy / name)
    suite = project_copy / "compliance/expectations" / "train\x1b]0;x\x07.json"
    shutil.copy(project_copy / "compliance/expectations/train.json", suite)
    done = samdkit(project_copy, "check-data", "--dataset", name, "--suite", str(suite))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("FAIL ")]
    assert lines == [
        "FAIL compliance/expectations/train\\x1b]0;x\\x07.json on evil\\n\\x1b[2Kok compliance.csv: "
        + lines[0].split(".csv: ", 1)[1]
    ]
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
