"""Review (stop 24): the pipeline record and `--reuse-pipeline` on dvc.yaml files the authors did not write.

A gate reads a stage's output instead of computing it only when this job's `dvc repro` really ran that
stage, by the gate's own command, and nothing wrote the output since. Small real DVC projects (no remote,
cloned as CI checks them out) whose stages only look like samdkit's, print DVC's log lines, run in another
folder or rewrite another stage's output after it ran.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import git, project_env, run

RECORD = "reports/gates/pipeline.json"


def ci_clone(root: Path, files: dict[str, str]) -> Path:
    """A committed DVC project (no remote) whose pipeline ran once, cloned as a CI job checks it out."""
    origin = root / "origin"
    origin.mkdir(parents=True)
    for name, text in files.items():
        (origin / name).parent.mkdir(parents=True, exist_ok=True)
        (origin / name).write_text(text)
    git(origin, "init", "-q")
    run(["dvc", "init", "-q"], origin)
    run(["dvc", "repro", "-q"], origin)
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "pipeline")
    clone = root / "ci"
    git(root, "clone", "-q", str(origin), str(clone))
    return clone


def pipeline_step(project: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """The generated workflow's pipeline step; the gate result it wrote."""
    cmd = [sys.executable, "-m", "samdkit", "pipeline-status", "--repro", "--committed", "HEAD"]
    done = subprocess.run(
        [*cmd, "--output", RECORD, "--format", "json"],
        cwd=project,
        env=project_env(project),
        text=True,
        capture_output=True,
    )
    return done, json.loads(done.stdout)


def _project(path: Path):
    from samdkit.core.project import load_project

    return load_project(path)


PREPARE = """\
import pathlib
pathlib.Path("data").mkdir(exist_ok=True)
pathlib.Path("data/rows.txt").write_text(pathlib.Path("source.txt").read_text())
"""


def test_a_stage_command_that_only_starts_like_the_gates_is_not_read(tmp_path):
    """`samdkit evaluate --format=json;cat<fake.json>…` is one word to shlex and two commands to the
    shell: the copy writes the result the gate would read."""
    from samdkit.core import pipeline_run, reuse

    sneaky = "samdkit evaluate --format=json;cat<fake.json>reports/evaluation.json"
    dvc_yaml = f"""\
stages:
  prepare:
    cmd: python prepare.py
    deps: [prepare.py, source.txt]
    outs: [data]
  evaluate:
    cmd: {sneaky}
    deps: [data]
    outs:
      - reports/evaluation.json:
          cache: false
"""
    files = {"dvc.yaml": dvc_yaml, "prepare.py": PREPARE, "source.txt": "a\n"}
    files |= {"fake.json": '{"verdict": "PASS"}\n', "reports/.keep": ""}
    clone = ci_clone(tmp_path, files)
    (clone / "source.txt").write_text("b\n")  # the pull request: evaluate runs in this job
    git(clone, "commit", "-qam", "new source")
    done, result = pipeline_step(clone)
    assert "evaluate" in result["detail"]["repro"]["stages_run"], done.stderr
    evaluation = clone / "reports" / "evaluation.json"
    assert evaluation.read_text() == '{"verdict": "PASS"}\n'  # the copy, not samdkit's result
    found = reuse.check(_project(clone), evaluation, "samdkit evaluate")
    assert isinstance(found, str), found
    # the same command without the shell trick is still the gate's own
    assert pipeline_run.same_command(
        "samdkit evaluate --format json --no-mlflow", "samdkit evaluate"
    )
    for line in (
        "samdkit evaluate --format=json&&cp${IFS}a${IFS}b",
        "samdkit evaluate --format=`cp${IFS}a${IFS}b`json",
        "samdkit evaluate --format=json|tee${IFS}x",
        "samdkit evaluate --format=json>x",
        "samdkit evaluate --format=$(cp${IFS}a${IFS}b)",
        "samdkit evaluate --format=json\ncp a b",
    ):
        assert not pipeline_run.same_command(line, "samdkit evaluate"), line


def test_a_stage_that_prints_dvcs_running_line_does_not_make_a_skipped_stage_run(tmp_path):
    """prepare runs in CI (its cached output is missing) and prints "Running stage 'summary':";
    DVC then skips summary (its deps came back identical): the committed summary.json was not
    computed in this job."""
    from samdkit.core import pipeline_run

    prepare = PREPARE + "print(\"Running stage 'summary':\")\n"
    dvc_yaml = """\
stages:
  prepare:
    cmd: python prepare.py
    deps: [prepare.py, source.txt]
    outs: [data]
  summary:
    cmd: python summarise.py
    deps: [data, summarise.py]
    metrics:
      - summary.json:
          cache: false
"""
    summarise = (
        "import json, pathlib\n"
        "rows = pathlib.Path('data/rows.txt').read_text().splitlines()\n"
        "pathlib.Path('summary.json').write_text(json.dumps({'rows': len(rows)}))\n"
    )
    files = {"dvc.yaml": dvc_yaml, "prepare.py": prepare, "summarise.py": summarise}
    clone = ci_clone(tmp_path, {**files, "source.txt": "a\nb\n"})
    done, result = pipeline_step(clone)
    assert "Stage 'summary' didn't change, skipping" in done.stderr
    assert result["detail"]["repro"]["stages_run"] == ["prepare"], result["detail"]["repro"]
    why = pipeline_run.computed_here(_project(clone), "summary", clone / "summary.json")
    assert why is not None and "did not run" in why


def test_an_output_a_later_stage_rewrote_is_not_the_stages_result(tmp_path):
    """summary runs and DVC records its output's digest; a later stage then rewrites summary.json
    (undeclared). The record must not say summary's stage computed what is there now."""
    from samdkit.core import pipeline_run

    dvc_yaml = """\
stages:
  prepare:
    cmd: python prepare.py
    deps: [prepare.py, source.txt]
    outs: [data]
  summary:
    cmd: python write.py summary.json 1
    deps: [data]
    outs: [summary.json]
  post:
    cmd: python write.py summary.json 99 && python write.py post.txt 0
    deps: [summary.json]
    outs: [post.txt]
"""
    write = "import pathlib, sys\npathlib.Path(sys.argv[1]).write_text(f'{{\"rows\": {sys.argv[2]}}}')\n"
    files = {"dvc.yaml": dvc_yaml, "prepare.py": PREPARE, "source.txt": "a\n", "write.py": write}
    clone = ci_clone(tmp_path, files)
    done, result = pipeline_step(clone)
    assert (clone / "summary.json").read_text() == '{"rows": 99}', done.stderr
    why = pipeline_run.computed_here(_project(clone), "summary", clone / "summary.json")
    assert why is not None, result["detail"]["repro"]
    assert result["verdict"] == "FAIL"  # dvc.lock records a summary.json no run leaves behind
    assert any("summary.json" in f["message"] for f in result["findings"]), result["findings"]


def test_a_stage_run_in_another_folder_does_not_stand_for_the_projects_file(tmp_path):
    """A stage with `wdir: sub` writes sub/summary.json; the project's own summary.json (committed,
    hand-written) is not its output, whatever the two paths look like."""
    from samdkit.core import pipeline_run, reuse

    dvc_yaml = """\
stages:
  prepare:
    cmd: python prepare.py
    deps: [prepare.py, source.txt]
    outs: [data]
  summary:
    wdir: sub
    cmd: python -c "import pathlib; pathlib.Path('summary.json').write_text('{}')"
    deps: [../data]
    outs:
      - summary.json:
          cache: false
"""
    files = {"dvc.yaml": dvc_yaml, "prepare.py": PREPARE, "source.txt": "a\n"}
    files |= {"sub/.keep": "", "summary.json": '{"hand": "written"}'}
    clone = ci_clone(tmp_path, files)
    (clone / "source.txt").write_text("b\n")
    git(clone, "commit", "-qam", "new source")
    done, result = pipeline_step(clone)
    record = result["detail"]["repro"]
    assert "summary" in record["stages_run"], done.stderr
    assert "summary.json" not in record["outputs"], record
    assert "sub/summary.json" in record["outputs"], record
    project = _project(clone)
    assert pipeline_run.computed_here(project, "summary", clone / "summary.json") is not None
    found = reuse.stage_writing(project, clone / "summary.json")
    assert found is None, found


def _deep_record(project: Path) -> Path:
    record = project / RECORD
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text('{"gate": ' + "[" * 100_000 + "]" * 100_000 + "}")
    return record


def test_a_record_nested_too_deeply_is_no_record(tmp_path):
    """A reports/gates/pipeline.json a stage (or a commit) planted, nested 100 000 deep: the gates
    compute again instead of crashing."""
    from samdkit.core import pipeline_run

    git(tmp_path, "init", "-q")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "empty")
    _deep_record(tmp_path)
    assert pipeline_run.read(_project(tmp_path)) is None


def test_the_gate_verdict_refuses_a_result_nested_too_deeply_in_one_line(tmp_path):
    git(tmp_path, "init", "-q")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "empty")
    _deep_record(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "samdkit", "gate", "--verdict", "--expect", "pipeline"],
        cwd=tmp_path,
        env=project_env(tmp_path),
        text=True,
        capture_output=True,
    )
    assert done.returncode in (1, 2), done.stderr
    assert "internal error" not in done.stderr


def test_an_always_changed_stage_is_not_stale_by_design(tmp_path):
    """`always_changed: true` makes `dvc status` say "always changed" forever: a project with such a
    stage could never have a green pipeline without a remote. Its regenerated data is still checked."""
    dvc_yaml = """\
stages:
  prepare:
    cmd: python prepare.py
    always_changed: true
    deps: [prepare.py, source.txt]
    outs: [data]
"""
    clone = ci_clone(tmp_path, {"dvc.yaml": dvc_yaml, "prepare.py": PREPARE, "source.txt": "a\n"})
    done, result = pipeline_step(clone)
    assert (done.returncode, result["verdict"]) == (0, "PASS"), result["findings"]
    (clone / "prepare.py").write_text(PREPARE + "pathlib.Path('data/more.txt').write_text('x')\n")
    git(clone, "commit", "-qam", "prepare writes more, pipeline not rerun")
    done, result = pipeline_step(clone)
    assert result["verdict"] == "FAIL"
    assert "prepare.py (modified)" in result["findings"][0]["message"]


def test_source_data_missing_without_a_remote_names_the_remote_as_the_fix(tmp_path):
    origin = tmp_path / "origin"
    (origin / "raw").mkdir(parents=True)
    (origin / "raw" / "a.txt").write_text("r\n")
    (origin / "dvc.yaml").write_text(
        "stages:\n  prepare:\n    cmd: cp raw/a.txt out.txt\n    deps: [raw]\n    outs: [out.txt]\n"
    )
    git(origin, "init", "-q")
    run(["dvc", "init", "-q"], origin)
    run(["dvc", "add", "-q", "raw"], origin)
    run(["dvc", "repro", "-q"], origin)
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "source data tracked by DVC, no remote")
    clone = tmp_path / "ci"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    _done, result = pipeline_step(clone)
    assert result["verdict"] == "FAIL"
    assert any("dvc remote add" in cmd for cmd in result["detail"]["fix"]), result["detail"]["fix"]
    assert [f["check"] for f in result["findings"]] == ["source-data-missing"], result["findings"]
    assert not any("raw.dvc" in cmd for cmd in result["detail"]["fix"])


def test_the_stage_is_read_from_the_dvc_yaml_dvc_ran(tmp_path):
    """pyproject.toml may point `paths.dvc_yaml` at another file: a decoy whose evaluate stage runs
    `samdkit evaluate`, while DVC ran dvc.yaml's evaluate stage, a copy of a hand-written result."""
    from samdkit.core import reuse

    dvc_yaml = """\
stages:
  prepare:
    cmd: python prepare.py
    deps: [prepare.py, source.txt]
    outs: [data]
  evaluate:
    cmd: python -c "import shutil; shutil.copy('fake.json', 'reports/evaluation.json')"
    deps: [data, fake.json]
    outs:
      - reports/evaluation.json:
          cache: false
"""
    decoy = dvc_yaml.replace(
        """python -c "import shutil; shutil.copy('fake.json', 'reports/evaluation.json')\"""",
        "samdkit evaluate",
    )
    assert "cmd: samdkit evaluate" in decoy
    files = {"dvc.yaml": dvc_yaml, "decoy.yaml": decoy, "prepare.py": PREPARE, "source.txt": "a\n"}
    files |= {"fake.json": '{"verdict": "PASS"}\n', "reports/.keep": ""}
    files["pyproject.toml"] = '[tool.samdkit.paths]\ndvc_yaml = "decoy.yaml"\n'
    clone = ci_clone(tmp_path, files)
    (clone / "source.txt").write_text("b\n")
    git(clone, "commit", "-qam", "new source")
    done, result = pipeline_step(clone)
    assert "evaluate" in result["detail"]["repro"]["stages_run"], done.stderr
    project = _project(clone)
    assert project.path("dvc_yaml").name == "decoy.yaml"
    found = reuse.check(project, clone / "reports" / "evaluation.json", "samdkit evaluate")
    assert isinstance(found, str), found


PLANT = """\
import hashlib, json, pathlib, subprocess
head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
fake = hashlib.sha256(pathlib.Path("summary.json").read_bytes()).hexdigest()
record = {"commit": head, "remote": False, "source_date_epoch": None,
          "stages_run": ["summary"], "outputs": {"summary.json": fake}}
result = {"schema": "samdkit/gate-result/v1", "gate": "pipeline", "verdict": "PASS", "findings": [],
          "summary": {}, "outputs": {}, "detail": {"reason": "planted", "repro": record}}
pathlib.Path("evidence").mkdir(exist_ok=True)
pathlib.Path("evidence/pipeline.json").write_text(json.dumps(result))
pathlib.Path("data").mkdir(exist_ok=True)
pathlib.Path("data/rows.txt").write_text(pathlib.Path("source.txt").read_text())
"""


def test_a_record_a_stage_wrote_where_the_gates_read_it_is_removed(tmp_path):
    """The project moves its gate results (`paths.gate_results = "evidence"`); the workflow's pipeline
    step writes its own record to reports/gates/pipeline.json, and a stage writes a record naming
    HEAD where the gates read it."""
    from samdkit.core import findings, pipeline_run

    dvc_yaml = """\
stages:
  prepare:
    cmd: python prepare.py
    deps: [prepare.py, source.txt]
    outs: [data]
"""
    files = {"dvc.yaml": dvc_yaml, "prepare.py": PLANT, "source.txt": "a\n"}
    files |= {"summary.json": '{"rows": 99}', "evidence/.keep": ""}
    files["pyproject.toml"] = '[tool.samdkit.paths]\ngate_results = "evidence"\n'
    clone = ci_clone(tmp_path, files)
    _done, result = pipeline_step(clone)
    assert result["detail"]["repro"]["stages_run"] == ["prepare"]
    planted = clone / "evidence" / "pipeline.json"
    assert pipeline_run.read(_project(clone)) is None
    assert not planted.exists() or findings.read_result(planted).detail.get("reason") != "planted"
