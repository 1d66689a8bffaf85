"""The generated project's GitLab pipeline run for real with gitlab-ci-local 4.73.0 (no GitLab, no Docker).

One baked GitLab project whose `dvc repro` ran once, pushed to a local DVC remote, committed on `main` and
cloned to a local bare `origin` (the MR's target branch). Its `.gitlab-ci.yml` is the template's, untouched:
`include: project: OWNER/samdkit ref: v1 file: /gitlab/pipeline.yml` resolves offline because gitlab-ci-local
reads a project include from `.gitlab-ci-local/includes/<host>/<project>/<ref>/<file>` when the file is there
(it fetches only when it is missing or with --fetch-includes); the harness vendors this checkout's gitlab/
folder there. The host is gitlab.com: gitlab-ci-local's fallback when `origin` is not a GitLab URL.

Jobs run with `--force-shell-executor --shell-isolation` (each job in its own copy of the checkout, artifacts
passed along `needs` as on GitLab) and install samdkit from this checkout (variable SAMDKIT_SPEC, which
the pipeline.yml input samdkit-spec feeds) with uv, from this machine's uv cache, offline after one warm-up.

Not run here: posting the MR comment to GitLab's notes API. `curl` is a recording stand-in first on PATH
(tests/ci_stubs/bin/record-curl): the test asserts the exact command line, that the token arrives on stdin
only, and the markdown it would post. The tag pipeline (report, sign, verify, release) is checked for its
jobs and needs with `--list-json`, not run (it is run end to end by the GitHub release workflow's tests).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, REPO, commit_tampered_lock, git, published_project, run

pytestmark = pytest.mark.slow

STUBS = REPO / "tests" / "ci_stubs"
HOST = (
    "gitlab.com"  # gitlab-ci-local's fallback remote host (origin here is a local bare repository)
)
TOKEN = "glpat-test-token"
GATES = (
    "samdkit-lint",
    "samdkit-pipeline",
    "samdkit-check-data",
    "samdkit-tests",
    "samdkit-model-lock",
    "samdkit-evaluate",
)
EVIDENCE = ("samdkit-report", "samdkit-sign", "samdkit-release")
MR_VARIABLES = {
    "CI_PIPELINE_SOURCE": "merge_request_event",
    "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
    "CI_MERGE_REQUEST_IID": "7",
    "CI_API_V4_URL": "https://gitlab.example/api/v4",
    "CI_PROJECT_ID": "42",
    "SAMDKIT_GITLAB_TOKEN": TOKEN,
}


def gitlab_ci_local() -> Path:
    """scripts/test installs it into .tools/npm (scripts/lib.sh ensure_gitlab_ci_local); else from PATH."""
    local = REPO / ".tools" / "npm" / "bin" / "gitlab-ci-local"
    found = local if local.exists() else shutil.which("gitlab-ci-local")
    assert found, (
        "gitlab-ci-local 4.73.0 is missing: run scripts/test (or source scripts/lib.sh; ensure_gitlab_ci_local)"
    )
    return Path(found)


def uv_binary() -> Path:
    found = BIN / "uv" if (BIN / "uv").exists() else shutil.which("uv")
    assert found, "uv is missing (it comes with samdkit[lint])"
    return Path(found)


@pytest.fixture(scope="module")
def gl(tmp_path_factory) -> dict:
    """One baked GitLab project whose pipeline ran once, on a local DVC remote and a local git origin."""
    root = tmp_path_factory.mktemp("gitlab-ci-local")
    project = published_project(root, "gitlab")
    git(project, "branch", "-M", "main")
    run(["git", "clone", "-q", "--bare", str(project), str(root / "origin.git")], root)
    git(project, "remote", "add", "origin", str(root / "origin.git"))
    git(project, "fetch", "-q", "origin")
    git(project, "remote", "set-head", "origin", "main")

    # PATH of the jobs: the stand-ins and uv first, then the system only (never this test venv's samdkit)
    stub_bin = root / "stub-bin"
    stub_bin.mkdir()
    (stub_bin / "curl").symlink_to(STUBS / "bin" / "record-curl")
    uv = uv_binary()
    (stub_bin / "uv").symlink_to(uv)
    node = shutil.which("node")  # gitlab-ci-local is a node script
    system = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    path = os.pathsep.join(
        [
            str(stub_bin),
            str(gitlab_ci_local().parent),
            *([str(Path(node).parent)] if node else []),
            *system,
        ]
    )
    cache = subprocess.run([str(uv), "cache", "dir"], text=True, capture_output=True).stdout.strip()
    spec = f"samdkit[all] @ {REPO.as_uri()}"

    # warm this machine's uv cache once (online when it can), so every job installs offline in seconds
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env.update(PATH=path, UV_CACHE_DIR=cache)
    warm = root / "warm-venv"
    run([str(uv), "venv", "-q", "--python", "3.11", str(warm)], root, env=env)
    env.update(VIRTUAL_ENV=str(warm), PATH=f"{warm / 'bin'}{os.pathsep}{path}")
    run([str(uv), "pip", "install", "-q", spec, "pytest>=8"], root, env=env)
    run([str(uv), "pip", "install", "-q", "--no-deps", "-e", str(project)], root, env=env)
    run(
        [str(warm / "bin" / "samdkit"), "lint", "--format", "text"], project, env=env
    )  # pynblint via uvx
    return {"project": project, "root": root, "path": path, "cache": cache, "spec": spec}


def include_of(project: Path) -> dict:
    """The template's include, as the generated .gitlab-ci.yml has it."""
    [include] = yaml.safe_load((project / ".gitlab-ci.yml").read_text())["include"]
    return include


def vendor_includes(project: Path) -> None:
    """Put this checkout's gitlab/ folder where gitlab-ci-local looks for `include: project:` files."""
    include = include_of(project)
    target = project / ".gitlab-ci-local" / "includes" / HOST / include["project"] / include["ref"]
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copytree(REPO / "gitlab", target / "gitlab")
    assert (target / include["file"].lstrip("/")).is_file()


def gitlab_ci_local_cmd(gl: dict, variables: dict[str, str], *extra: str) -> list[str]:
    cmd = [str(gitlab_ci_local()), "--no-color", "--force-shell-executor", "--shell-isolation"]
    cmd += ["--no-artifacts-to-source"]  # the shared project's working tree stays as committed
    cmd += ["--ignore-predefined-vars", ",".join(k for k in variables if k.startswith("CI_"))]
    for key, value in variables.items():
        cmd += ["--variable", f"{key}={value}"]
    return [*cmd, *extra]


def run_pipeline(gl: dict, project: Path, work: Path, **variables: str) -> tuple[int, str, Path]:
    """The MR pipeline of `project`; returns gitlab-ci-local's exit code, its log and the stand-ins' record."""
    record = work / "record"
    record.mkdir(parents=True, exist_ok=True)
    vendor_includes(project)
    variables = {
        **MR_VARIABLES,
        "SAMDKIT_SPEC": gl["spec"],
        "UV_CACHE_DIR": gl["cache"],
        "UV_OFFLINE": "1",
        **variables,
    }
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env.update(PATH=gl["path"], SAMDKIT_STUB_RECORD=str(record))
    done = subprocess.run(
        gitlab_ci_local_cmd(gl, variables),
        cwd=project,
        env=env,
        text=True,
        capture_output=True,
        timeout=900,
    )
    return done.returncode, done.stdout + done.stderr, record


def job_results(log: str) -> dict[str, str]:
    """The summary gitlab-ci-local prints last: ` PASS  job` / ` FAIL  job` / ` WARN  job  pre_script`."""
    results = {}
    for line in log.splitlines():
        # an allowed failure reads ` WARN  job  pre_script` (its script failed, allow_failure)
        match = re.match(r"^\s*(PASS|FAIL|WARN)\s+(samdkit-[\w-]+)(\s+pre_script)?\s*$", line)
        if match:
            results[match.group(2)] = match.group(1)
    return results


def changed_copy(gl: dict, tmp_path: Path) -> Path:
    """A private copy of the shared project on an MR branch (gitlab-ci-local state left out)."""
    project = tmp_path / gl["project"].name
    shutil.copytree(
        gl["project"], project, symlinks=True, ignore=shutil.ignore_patterns(".gitlab-ci-local")
    )
    git(project, "checkout", "-qb", "change")
    return project


def calls(record: Path) -> list[dict]:
    path = record / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# --------------------------------------------------------------------------- the pipeline's shape


def test_include_resolves_offline_and_jobs_follow_the_event(gl, tmp_path):
    """MR: the gates and the comment, no evidence. Tag: the gates, then report → sign → release."""
    project = gl["project"]
    vendor_includes(project)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = gl["path"]

    def jobs(variables: dict[str, str]) -> dict[str, dict]:
        done = subprocess.run(
            gitlab_ci_local_cmd(gl, variables, "--list-json"),
            cwd=project,
            env=env,
            text=True,
            capture_output=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return {j["name"]: j for j in json.loads(done.stdout) if j["when"] != "never"}

    mr = jobs(MR_VARIABLES)
    assert set(mr) == {*GATES, "samdkit-gates", "samdkit-comment"}
    assert mr["samdkit-comment"]["when"] == "always"  # the comment also explains a red pipeline
    assert mr["samdkit-gates"]["when"] == "always"
    # every gate runs and records its verdict even when another failed; samdkit-gates turns it red
    assert all(mr[job]["allow_failure"] for job in GATES), {
        j: mr[j]["allow_failure"] for j in GATES
    }
    assert not mr["samdkit-gates"]["allow_failure"]

    tag = jobs({"CI_COMMIT_TAG": "v1.2.3"})
    assert set(tag) == {*GATES, "samdkit-gates", *EVIDENCE}
    needs = {name: {n["job"] for n in job.get("needs") or []} for name, job in tag.items()}
    # nothing is reported, signed or released after a red gate (samdkit-gates fails then)
    assert {"samdkit-gates", *GATES} <= needs["samdkit-report"]
    assert set(GATES) == needs["samdkit-gates"]
    assert "samdkit-report" in needs["samdkit-sign"]
    assert needs["samdkit-release"] == {"samdkit-sign"}


# --------------------------------------------------------------------------- the MR pipeline, run


def test_mr_pipeline_passes_on_the_clean_project(gl):
    code, log, record = run_pipeline(gl, gl["project"], gl["root"] / "clean")
    results = job_results(log)
    assert code == 0, log[-8000:]
    assert results == {job: "PASS" for job in (*GATES, "samdkit-gates", "samdkit-comment")}, log[
        -8000:
    ]
    # the MR comment was posted (to the stand-in) with the token on stdin only
    [call] = calls(record)
    assert call["name"] == "curl"
    assert call["argv"][:7] == [
        "--fail-with-body",
        "-sS",
        "-X",
        "POST",
        "-H",
        "@-",
        "--data-urlencode",
    ]
    assert call["argv"][7].startswith("body@") and call["argv"][7].endswith("reports/pr-comment.md")
    assert call["argv"][8] == "https://gitlab.example/api/v4/projects/42/merge_requests/7/notes"
    assert call["stdin"].strip() == f"PRIVATE-TOKEN: {TOKEN}"
    assert TOKEN not in " ".join(call["argv"])
    posted = (record / "curl-posted.md").read_text()
    assert "all gates passed" in posted
    assert "| lint | ✅ pass |" in posted and "| locked model | ✅ pass |" in posted
    assert "| pipeline | ✅ pass |" in posted and "| tests | ✅ pass |" in posted
    assert (
        "origin/main:reports/evaluation.json" in posted
    )  # metric deltas against the target branch


def test_mr_pipeline_fails_the_lint_job_on_a_ruff_error(gl, tmp_path):
    project = changed_copy(gl, tmp_path)
    package = next(p for p in (project / "src").iterdir() if p.is_dir())
    (package / "broken.py").write_text("import os\n")  # F401: unused import
    git(project, "add", "-A")
    git(project, "commit", "-qm", "lint error")
    code, log, record = run_pipeline(gl, project, tmp_path / "work")
    results = job_results(log)
    assert code != 0
    assert results["samdkit-lint"] == "WARN", log[-8000:]  # failed, allowed: the others still run
    assert all(results[job] == "PASS" for job in GATES if job != "samdkit-lint"), results
    assert results["samdkit-gates"] == "FAIL", log[-8000:]
    # the comment job still runs and posts the verdicts, the reason and the fix
    assert results["samdkit-comment"] == "PASS", log[-8000:]
    posted = (record / "curl-posted.md").read_text()
    assert "| lint | ❌ fail |" in posted and "| data check | ✅ pass |" in posted
    assert "**lint**: run" in posted and "ruff check --fix ." in posted


def test_mr_pipeline_fails_the_model_lock_job_on_a_tampered_committed_lock(gl, tmp_path):
    project = changed_copy(gl, tmp_path)
    commit_tampered_lock(project)
    code, log, record = run_pipeline(gl, project, tmp_path / "work")
    results = job_results(log)
    assert code != 0
    assert results["samdkit-model-lock"] == "WARN", log[-8000:]
    assert all(results[job] == "PASS" for job in GATES if job != "samdkit-model-lock"), results
    assert results["samdkit-gates"] == "FAIL", log[-8000:]
    assert "| locked model | ❌ fail |" in (record / "curl-posted.md").read_text()
