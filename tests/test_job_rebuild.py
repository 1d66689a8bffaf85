"""The pull-request job without a DVC remote: one pipeline run, and the gates read what it computed (issues 16, 19).

`samdkit pipeline-status --repro` in a CI checkout of a project with no DVC remote: dvc status before the run
may only say that cached outputs are missing; the run uses the committed model.lock's build time; the
regenerated data must have the committed digests; the record names the stages DVC ran and their outputs'
digests. `verify-lock --rebuild=auto` then classifies the model that run trained (reproduced / equivalent
rebuild / FAIL) instead of training a second time. Small DVC projects test the freshness rules quickly; the
default project tests the whole path once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git, project_env, run

STAGE = """\
stages:
  prepare:
    cmd: python make.py
    deps: [make.py, source.txt]
    outs: [data]
  summary:
    cmd: python summarise.py
    deps: [data, summarise.py]
    metrics:
      - summary.json:
          cache: false
"""
MAKE = """\
import os, pathlib, time
pathlib.Path("data").mkdir(exist_ok=True)
text = pathlib.Path("source.txt").read_text()
if os.environ.get("NONDETERMINISTIC_DATA"):
    text += str(time.time_ns())
pathlib.Path("data/rows.txt").write_text(text)
pathlib.Path("data/epoch.txt").write_text(os.environ.get("SOURCE_DATE_EPOCH", "unset"))
"""
SUMMARISE = """\
import json, pathlib
rows = pathlib.Path("data/rows.txt").read_text().splitlines()
pathlib.Path("summary.json").write_text(json.dumps({"rows": len(rows)}))
"""


def status(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "samdkit", "pipeline-status", *args]
    return subprocess.run(
        cmd, cwd=project, env=env or project_env(project), text=True, capture_output=True
    )


def small_project(root: Path, epoch: int | None = 1700000000) -> Path:
    """A committed DVC project (no remote) whose pipeline ran once, and a clone of it as CI checks out."""
    origin = root / "origin"
    origin.mkdir(parents=True)
    for name, text in {
        "dvc.yaml": STAGE,
        "make.py": MAKE,
        "summarise.py": SUMMARISE,
        "source.txt": "a\nb\nc\n",
    }.items():
        (origin / name).write_text(text)
    if epoch is not None:  # the build time a model.lock recorded (samdkit lock writes it)
        (origin / "model.lock").write_text(json.dumps({"build": {"source_date_epoch": epoch}}))
    git(origin, "init", "-q")
    run(["dvc", "init", "-q"], origin)
    built = {**project_env(origin)}  # the build time model.lock records is the one the run used
    built["SOURCE_DATE_EPOCH"] = str(epoch) if epoch else built["SOURCE_DATE_EPOCH"]
    run(["dvc", "repro", "-q"], origin, env=built)
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "pipeline")
    clone = root / "ci"
    git(root, "clone", "-q", str(origin), str(clone))
    return clone


def repro(project: Path, env: dict | None = None) -> tuple[subprocess.CompletedProcess, dict]:
    args = ["--repro", "--committed", "HEAD", "--output", "reports/gates/pipeline.json"]
    done = status(project, *args, "--format", "json", env=env)
    return done, json.loads(done.stdout)


def test_a_fresh_checkout_without_remote_is_fresh_and_records_what_ran(tmp_path):
    clone = small_project(tmp_path)
    done, result = repro(clone)
    assert done.returncode == 0 and result["verdict"] == "PASS", result["findings"]
    record = result["detail"]["repro"]
    assert record["stages_run"] == ["prepare"]  # summary's deps came back identical: skipped
    assert record["remote"] is False
    assert record["commit"] == git(clone, "rev-parse", "HEAD").stdout.strip()
    assert set(record["outputs"]) == {"data"}
    # the run used the build time the committed model.lock recorded
    assert (clone / "data" / "epoch.txt").read_text() == "1700000000"
    assert "Running stage 'prepare'" in done.stderr  # DVC's log: not inside the JSON


def test_a_changed_dependency_or_edited_record_is_stale_before_the_run(tmp_path):
    clone = small_project(tmp_path)
    (clone / "source.txt").write_text("a\nb\n")
    (clone / "summary.json").write_text('{"rows": 99}')
    git(clone, "commit", "-qam", "new source and a hand-edited record, pipeline not rerun")
    done, result = repro(clone)
    assert done.returncode == 1
    # a stale stage's outputs differ anyway: not also "not-reproducible"
    assert {f["check"] for f in result["findings"]} == {"stale-stage"}
    stale = {f["detail"]["stage"]: f["message"] for f in result["findings"]}
    assert set(stale) == {"prepare", "summary"}
    assert "source.txt (modified)" in stale["prepare"]
    assert "summary.json (modified)" in stale["summary"]
    assert result["detail"]["fix"][0].startswith("dvc repro")
    assert not any(c.startswith("dvc push") for c in result["detail"]["fix"])


def test_regenerated_data_with_other_digests_is_named(tmp_path):
    clone = small_project(tmp_path)
    env = {**project_env(clone), "NONDETERMINISTIC_DATA": "1"}
    done, result = repro(clone, env)
    assert done.returncode == 1
    found = [f for f in result["findings"] if f["check"] == "not-reproducible"]
    assert [f["detail"]["path"] for f in found] == ["data"], result["findings"]
    assert "deterministic" in found[0]["message"]


def test_the_recorded_build_time_wins_and_without_a_lock_the_environment_is_kept(tmp_path):
    env = {"SOURCE_DATE_EPOCH": "1600000000"}
    clone = small_project(tmp_path / "locked")
    repro(clone, {**project_env(clone), **env})
    assert (clone / "data" / "epoch.txt").read_text() == "1700000000"
    clone = small_project(tmp_path / "unlocked", epoch=None)
    repro(clone, {**project_env(clone), **env})
    assert (clone / "data" / "epoch.txt").read_text() == "1600000000"


def test_a_record_from_another_commit_or_gate_is_not_read(tmp_path):
    from samdkit.core import pipeline_run
    from samdkit.core.project import load_project

    clone = small_project(tmp_path)
    repro(clone)
    project = load_project(clone)
    assert pipeline_run.computed_here(project, "prepare", clone / "data") is None
    assert "did not run" in pipeline_run.computed_here(project, "summary", clone / "summary.json")
    assert "last command" in pipeline_run.computed_here(
        project, "prepare", clone / "data", command="samdkit evaluate"
    )
    (clone / "data" / "rows.txt").write_text("edited\n")
    assert "changed after" in pipeline_run.computed_here(project, "prepare", clone / "data")
    record = pipeline_run.record_path(project)
    saved = record.read_text()
    # committed to the repository, it names the commit before the one it is part of
    git(clone, "add", "-f", str(record))
    git(clone, "commit", "-qm", "a planted pipeline record")
    assert pipeline_run.read(project) is None
    # another gate's result with a repro-shaped detail is not a pipeline record
    doc = json.loads(saved)
    doc["gate"] = "lint"
    doc["detail"]["repro"]["commit"] = git(clone, "rev-parse", "HEAD").stdout.strip()
    record.write_text(json.dumps(doc))
    assert pipeline_run.read(project) is None
    doc["gate"] = "pipeline"
    record.write_text(json.dumps(doc))
    assert pipeline_run.read(project) is not None


# --------------------------------------------------------------------------- slow: the default project


@pytest.fixture(scope="module")
def ci_checkout(default_project, tmp_path_factory) -> tuple[Path, dict]:
    """A CI checkout of the default project with no DVC remote (no cache, no model), after the pipeline step."""
    clone = tmp_path_factory.mktemp("ci") / default_project.name
    git(default_project.parent, "clone", "-q", str(default_project), str(clone))
    assert not (clone / "models" / "model").exists()
    done = status(
        clone, "--repro", "--committed", "HEAD", "--output", "reports/gates/pipeline.json"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return clone, json.loads((clone / "reports" / "gates" / "pipeline.json").read_text())


def verify_lock(project: Path) -> tuple[int, dict]:
    cmd = ["samdkit", "verify-lock", "--committed", "HEAD", "--rebuild=auto", "--format", "json"]
    done = run(cmd, project, check=False)
    return done.returncode, json.loads(done.stdout)


@pytest.mark.slow
def test_the_model_the_pipeline_step_trained_is_classified_not_trained_again(ci_checkout):
    clone, pipeline = ci_checkout
    record = pipeline["detail"]["repro"]
    assert {"prepare", "train", "evaluate", "lock"} <= set(record["stages_run"])
    lock = json.loads(git(clone, "show", "HEAD:model.lock").stdout)
    assert record["source_date_epoch"] == lock["build"]["source_date_epoch"]
    assert record["outputs"]["models/model"] == lock["artifact"]["root_digest"]
    code, result = verify_lock(clone)
    assert (code, result["verdict"]) == (0, "reproduced"), result["findings"]
    detail = result["detail"]
    assert detail["data"] == "this job's dvc repro" and "pipeline run" in detail["trained_by"]
    assert "train" not in detail["seconds"]  # no second training
    verdict = json.loads((clone / "reports" / "rebuild.json").read_text())
    assert verdict["verdict"] == "reproduced" and verdict["commit"] == record["commit"]


@pytest.mark.slow
def test_a_model_changed_after_the_pipeline_step_is_not_taken_as_its_rebuild(ci_checkout, tmp_path):
    from samdkit.core.project import load_project
    from samdkit.lock.command import _trained_by_this_job
    from samdkit.lock.context import Context, Settings

    clone = tmp_path / "ci"
    shutil.copytree(ci_checkout[0], clone, symlinks=True)
    project = load_project(clone)
    settings = Settings.from_project(project)

    def why() -> str | None:
        ctx = Context(project, settings, project.path("model_lock"), project.path("model"),
                      project.path("golden_data"), settings.runs)  # fmt: skip
        return _trained_by_this_job(ctx, "HEAD")

    assert why() is None
    mlmodel = clone / "models" / "model" / "MLmodel"
    mlmodel.write_text(mlmodel.read_text() + "\n# swapped after the pipeline ran\n")
    assert "changed after the pipeline ran" in why()
    mlmodel.unlink()  # a model file removed is a change too
    assert "changed after the pipeline ran" in why()


@pytest.mark.slow
def test_the_lock_gate_reads_the_golden_predictions_the_lock_stage_measured(ci_checkout, tmp_path):
    clone = tmp_path / "ci"
    shutil.copytree(ci_checkout[0], clone, symlinks=True)
    base = ["samdkit", "verify-lock", "--committed", "HEAD", "--rebuild=auto", "--format", "json"]
    done = run([*base, "--reuse-pipeline"], clone, check=False)
    result = json.loads(done.stdout)
    assert (done.returncode, result["verdict"]) == (0, "reproduced"), result["findings"]
    assert result["detail"]["golden_replay"].startswith("read from this job's lock stage")
    assert "note:" not in done.stderr
    # the job's model.lock edited after the run: replayed, with the reason on one line
    lock = clone / "model.lock"
    lock.write_text(lock.read_text().replace('"rows": 50', '"rows": 50 '))
    done = run([*base, "--reuse-pipeline"], clone, check=False)
    assert json.loads(done.stdout)["verdict"] == "reproduced"
    assert "golden_replay" not in json.loads(done.stdout)["detail"]
    assert "note: --reuse-pipeline: computing again: model.lock changed after" in done.stderr
    # without --committed the working lock is the one under check: never its own evidence
    done = run(
        ["samdkit", "verify-lock", "--reuse-pipeline", "--format", "json"], clone, check=False
    )
    assert "needs --committed" in done.stderr


def test_a_lock_that_measured_another_model_or_golden_set_is_not_used(tmp_path):
    from types import SimpleNamespace

    from samdkit.core.digests import sha256_hex
    from samdkit.lock.verify import measured_here

    golden = tmp_path / "golden.csv"
    golden.write_text("id,x\n1,0.5\n")
    measured = {
        "artifact": {"root_digest": "a" * 64},
        "determinism": {
            "golden": {"sha256": sha256_hex(golden), "features": ["x"]},
            "predictions": [[0.25, 0.75]],
            "output_sha256": "",
        },
    }
    from samdkit.lock.fingerprint import array_sha256

    measured["determinism"]["output_sha256"] = array_sha256([[0.25, 0.75]])
    ctx = SimpleNamespace(golden_path=golden, runs=3)
    fp = measured_here(ctx, measured, "a" * 64)
    assert fp is not None and fp.deterministic and fp.row_ids == ["row 1"]
    assert measured_here(ctx, measured, "b" * 64) is None  # another model
    golden.write_text("id,x\n1,0.6\n")
    assert measured_here(ctx, measured, "a" * 64) is None  # another golden set
    golden.write_text("id,x\n1,0.5\n")
    measured["determinism"]["predictions"] = [[0.5, 0.5]]  # edited: fails its own digest
    assert measured_here(ctx, measured, "a" * 64) is None
