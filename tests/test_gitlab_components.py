"""samdkit's GitLab doors as a CI/CD component project (templates/), run with gitlab-ci-local 4.73.0 (issue 19).

templates/<name>.yml is written from gitlab/<name>.yml by gitlab/components.py (nested includes pointed at
templates/); a test fails when they differ. A generated project switches its `.gitlab-ci.yml` to the
component form the template documents (`include: component: $CI_SERVER_FQDN/OWNER/samdkit/pipeline@v1`).
gitlab-ci-local resolves a component of another project from its include cache
(`.gitlab-ci-local/includes/<host>/<project>/<ref>/templates/<name>.yml`; it fetches with git only when the
file is missing, and asks `git ls-remote` only for `~latest` or a partial version such as `1` or `1.2`), and
rewrites the component's nested `include: local:` to the component project at the same ref, as GitLab does;
the harness copies this checkout's templates/ there. So the run is the component form end to end, with the
component project's files taken from this checkout instead of a GitLab instance.

Three MR pipelines of one freshly scaffolded project, sharing its folder and uv's cache: its first MR (no
pipeline output committed, no DVC remote: red, every gate's verdict recorded, the comment built and posted
with the commands that make it green); the same after those commands are run as written (green); and a
lint error plus corrupted prepared data (dvc.lock re-recorded, so the pipeline gate passes): lint and data
check both report FAIL, and so does the locked model (model.lock pins the data version), while the pipeline,
tests and evaluation pass. Harness details as in tests/test_gitlab_pipeline.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, bake_project, commit_all, git, project_env, run
from tests.test_gitlab_pipeline import (
    HOST,
    MR_VARIABLES,
    STUBS,
    TOKEN,
    calls,
    gitlab_ci_local,
    gitlab_ci_local_cmd,
    job_results,
    uv_binary,
)

GATES = {
    "lint": "samdkit-lint",
    "pipeline": "samdkit-pipeline",
    "data check": "samdkit-check-data",
    "tests": "samdkit-tests",
    "locked model": "samdkit-model-lock",
    "evaluation": "samdkit-evaluate",
}
IDENTITY = {
    "GIT_AUTHOR_NAME": "samdkit tests",
    "GIT_AUTHOR_EMAIL": "tests@samdkit.invalid",
    "GIT_COMMITTER_NAME": "samdkit tests",
    "GIT_COMMITTER_EMAIL": "tests@samdkit.invalid",
}


def load_components():
    """gitlab/components.py, the generator (a script, not part of the samdkit package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gitlab_components", REPO / "gitlab" / "components.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- one source, no drift


def test_component_project_is_generated_from_the_include_files():
    """templates/ is exactly what gitlab/components.py makes of gitlab/ (run it after editing gitlab/)."""
    components = load_components()
    assert components.stale() == [], "run: python gitlab/components.py"
    wanted = components.rendered()
    assert set(wanted) == {p.name for p in (REPO / "gitlab").glob("*.yml")}
    for name, text in wanted.items():
        source = (REPO / "gitlab" / name).read_text().splitlines()
        lines = text.splitlines()
        assert lines[0].startswith(f"# GENERATED from gitlab/{name}"), name
        changed = [(a, b) for a, b in zip(source, lines[1:], strict=True) if a != b]
        # only the nested includes move: a component reads its siblings from templates/
        assert all(a.replace("/gitlab/", "/templates/") == b for a, b in changed), changed
        assert all("local: /templates/" in b for _, b in changed), changed
        assert "local: /gitlab/" not in text, name


def test_check_mode_names_a_stale_component(tmp_path, monkeypatch):
    """--check: exit 1 and one line per stale file; a drifted copy is found, not silently kept."""
    components = load_components()
    monkeypatch.setattr(components, "TARGET", tmp_path / "templates")
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    assert components.main(["--check"]) == 0
    lint = tmp_path / "templates" / "lint.yml"
    lint.write_text(lint.read_text().replace("samdkit[lint]", "samdkit[lint]==0.0.1"))
    (tmp_path / "templates" / "gone.yml").write_text("x: 1\n")
    assert components.stale() == ["gone.yml", "lint.yml"]
    real = subprocess.run(
        [sys.executable, str(REPO / "gitlab" / "components.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert real.returncode == 0 and real.stderr == "", real.stderr
    assert components.main(["--bogus"]) == 2


def test_every_component_has_a_spec_header_and_described_inputs():
    """GitLab's catalog lists a component by its spec:inputs; each input says what it is for."""
    for path in sorted((REPO / "templates").glob("*.yml")):
        docs = list(yaml.safe_load_all(path.read_text()))
        if path.name == "setup.yml":  # the shared hidden job: no inputs, one document
            assert list(docs[0]) == [".samdkit-setup"]
            continue
        assert len(docs) == 2 and set(docs[0]) == {"spec"}, path.name
        for name, spec in docs[0]["spec"]["inputs"].items():
            assert spec.get("description"), (path.name, name)


def test_jobs_share_one_install_definition():
    """Every samdkit job that runs samdkit extends .samdkit-setup; no job pip-installs on its own."""
    jobs = {}
    for path in sorted((REPO / "gitlab").glob("*.yml")):
        body = list(yaml.safe_load_all(path.read_text()))[-1]
        text = path.read_text()
        if path.name != "setup.yml":
            assert "pip install" not in text and "apt-get" not in text, path.name
        for name, job in body.items():
            if isinstance(job, dict) and "script" in job:
                jobs[f"{path.name}:{name}"] = job
    assert len(jobs) >= 11
    for name, job in jobs.items():
        if name.endswith("samdkit-release"):  # release-cli image, calls no samdkit
            assert "extends" not in job
            continue
        assert job.get("extends") == ".samdkit-setup", name
    setup = yaml.safe_load((REPO / "gitlab" / "setup.yml").read_text())[".samdkit-setup"]
    assert sum("uv pip install" in line for line in setup["before_script"]) == 1


def test_telemetry_variables_come_from_samdkit_privacy_defaults():
    from samdkit.core.privacy import PRIVACY_DEFAULTS

    setup = yaml.safe_load((REPO / "gitlab" / "setup.yml").read_text())[".samdkit-setup"]
    telemetry = {
        k: v for k, v in setup["variables"].items() if not k.startswith(("SAMDKIT", "UV_"))
    }
    assert telemetry == PRIVACY_DEFAULTS
    pipeline = list(yaml.safe_load_all((REPO / "gitlab" / "pipeline.yml").read_text()))[1]
    assert not set(pipeline["variables"]) & set(PRIVACY_DEFAULTS), "one copy: .samdkit-setup's"


def test_apt_packages_are_the_test_environments():
    """The Debian packages a GitLab job asks for are those scripts/lib.sh installs for the tests here."""
    lib = (REPO / "scripts" / "lib.sh").read_text()
    known = set()
    for name in ("APT_PACKAGES", "APT_OPTIONAL"):
        known |= set(re.search(rf"^{name}=\(([^)]*)\)", lib, re.M).group(1).split())
    asked = set()
    for path in sorted((REPO / "gitlab").glob("*.yml")):
        for doc in yaml.safe_load_all(path.read_text()):
            for job in (doc or {}).values():
                if isinstance(job, dict):
                    asked |= set(str((job.get("variables") or {}).get("SAMDKIT_APT", "")).split())
    assert {"git", "libpango-1.0-0", "libharfbuzz-subset0", "fonts-dejavu-core"} <= asked
    assert asked <= known, asked - known


def test_template_documents_the_component_form(bake):
    project = bake(
        ci_platform="gitlab", samdkit_source="acme/samdkit-fork@v2.3.1", project_name="C"
    )
    form = component_form(project)
    [include] = yaml.safe_load(form)["include"]
    assert include["component"] == "$CI_SERVER_FQDN/acme/samdkit-fork/pipeline@v2.3.1"
    assert include["inputs"] == {"python-version": "3.11"}


# --------------------------------------------------------------------------- the component include, run


def component_form(project: Path) -> str:
    """The `include: component:` block the generated .gitlab-ci.yml documents, uncommented."""
    text = (project / ".gitlab-ci.yml").read_text()
    block = text[text.index("# include:") :]
    return "".join(line[2:] + "\n" for line in block.splitlines() if line.startswith("# "))


def use_component_form(project: Path) -> dict:
    """Switch .gitlab-ci.yml to the component form, as its comment says; return the include."""
    form = component_form(project)
    (project / ".gitlab-ci.yml").write_text(form)
    [include] = yaml.safe_load(form)["include"]
    return include


def vendor_components(project: Path, include: dict) -> None:
    """Put this checkout's templates/ where gitlab-ci-local looks for the component project's files."""
    match = re.fullmatch(
        r"\$CI_SERVER_FQDN/(?P<path>.+)/(?P<name>[^/@]+)@(?P<ref>.+)", include["component"]
    )
    target = project / ".gitlab-ci-local" / "includes" / HOST / match["path"] / match["ref"]
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copytree(REPO / "templates", target / "templates")
    assert (target / "templates" / f"{match['name']}.yml").is_file()


def clean_env(path: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = path
    return env


def jobs_path(root: Path) -> str:
    """PATH of the jobs: the stand-ins and uv first, then the system only (never this venv's samdkit)."""
    stub_bin = root / "stub-bin"
    stub_bin.mkdir(exist_ok=True)
    (stub_bin / "curl").symlink_to(STUBS / "bin" / "record-curl")
    (stub_bin / "uv").symlink_to(uv_binary())
    node = shutil.which("node")
    system = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    parts = [
        str(stub_bin),
        str(gitlab_ci_local().parent),
        *([str(Path(node).parent)] if node else []),
    ]
    return os.pathsep.join([*parts, *system])


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> dict:
    """A freshly scaffolded project on the component include, one commit, a local bare origin; uv warm."""
    root = tmp_path_factory.mktemp("gitlab-components")
    project = bake_project(root, ci_platform="gitlab")
    include = use_component_form(project)
    commit_all(project, "scaffold")
    git(project, "branch", "-M", "main")
    run(["git", "clone", "-q", "--bare", str(project), str(root / "origin.git")], root)
    git(project, "remote", "add", "origin", str(root / "origin.git"))
    git(project, "fetch", "-q", "origin")
    git(project, "remote", "set-head", "origin", "main")
    git(project, "checkout", "-qb", "first-mr")
    vendor_components(project, include)
    path = jobs_path(root)
    uv = uv_binary()
    cache = subprocess.run([str(uv), "cache", "dir"], text=True, capture_output=True).stdout.strip()
    spec = f"samdkit[all] @ {REPO.as_uri()}"
    # warm this machine's uv cache once, so every job installs offline in seconds
    env = {**clean_env(path), "UV_CACHE_DIR": cache}
    warm = root / "warm-venv"
    run([str(uv), "venv", "-q", "--python", "3.11", str(warm)], root, env=env)
    env.update(VIRTUAL_ENV=str(warm), PATH=f"{warm / 'bin'}{os.pathsep}{path}")
    run([str(uv), "pip", "install", "-q", spec, "pytest>=8"], root, env=env)
    return {"project": project, "root": root, "path": path, "cache": cache, "spec": spec}


def run_mr(fresh: dict, name: str) -> dict:
    """The MR pipeline of the shared project: exit code, job results, gate results, the posted comment."""
    project, work = fresh["project"], fresh["root"] / name
    record = work / "record"
    record.mkdir(parents=True)
    shutil.rmtree(project / ".gitlab-ci-local" / "artifacts", ignore_errors=True)
    variables = {
        **MR_VARIABLES,
        "SAMDKIT_SPEC": fresh["spec"],
        "UV_CACHE_DIR": fresh["cache"],
        "UV_OFFLINE": "1",
    }
    env = {**clean_env(fresh["path"]), "SAMDKIT_STUB_RECORD": str(record)}
    done = subprocess.run(
        gitlab_ci_local_cmd(fresh, variables),
        cwd=project,
        env=env,
        text=True,
        capture_output=True,
        timeout=1200,
    )
    log = done.stdout + done.stderr
    gates = {}
    for path in sorted((project / ".gitlab-ci-local" / "artifacts").glob("*/reports/gates/*.json")):
        data = json.loads(path.read_text())
        gates[data["gate"]] = data
    posted = record / "curl-posted.md"
    return {
        "code": done.returncode,
        "log": log,
        "jobs": job_results(log),
        "gates": gates,
        "calls": calls(record),
        "posted": posted.read_text() if posted.exists() else "",
    }


def follow_the_fix(project: Path, fix: list[str]) -> None:
    """Run the pipeline gate's commands as a person pastes them (the optional remote line is a comment)."""
    for command in fix:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=project,
            env={**project_env(project), **IDENTITY},
            text=True,
            capture_output=True,
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)


def break_lint_and_data(project: Path) -> None:
    """A ruff error and prepared test data out of the suite's range, with dvc.lock re-recorded and pushed
    (so the pipeline gate passes; the data check and model.lock's data version tell)."""
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
    commit_all(project, "lint error and corrupted prepared data")


@pytest.fixture(scope="module")
def cases(fresh) -> dict:
    """The three runs, in order, on the one project (each later case starts where the previous one ended)."""
    project = fresh["project"]
    first = run_mr(fresh, "first")
    fix = first["gates"].get("pipeline", {}).get("detail", {}).get("fix", [])
    follow_the_fix(project, fix)
    green = run_mr(fresh, "green")  # no DVC remote: the pipeline job trains once, the gates read it
    # the comment's optional line: a DVC remote, through which the red case's corrupted data reaches CI
    run(["dvc", "remote", "add", "-d", "storage", str(fresh["root"] / "dvc-store")], project)
    run(["dvc", "push", "-q"], project)
    commit_all(project, "a DVC remote")
    break_lint_and_data(project)
    red = run_mr(fresh, "red")
    return {"first": first, "fix": fix, "green": green, "red": red}


@pytest.mark.slow
def test_first_mr_is_red_with_every_gates_verdict_and_the_comment(cases):
    first = cases["first"]
    tail = first["log"][-8000:]
    assert first["code"] != 0, tail
    assert set(first["gates"]) == set(GATES), (sorted(first["gates"]), tail)
    verdicts = {name: r["verdict"] for name, r in first["gates"].items()}
    assert verdicts["pipeline"] == "FAIL", first["gates"]["pipeline"]
    assert verdicts["locked model"] == "ERROR"  # no model.lock at HEAD: could not verify
    for name in ("lint", "data check", "tests", "evaluation"):
        assert verdicts[name] == "PASS", (name, first["gates"][name])
    # each gate job ran (an allowed failure reads WARN), the verdict job is red, the comment job ran
    jobs = first["jobs"]
    assert jobs["samdkit-pipeline"] == "WARN" and jobs["samdkit-model-lock"] == "WARN", jobs
    assert all(jobs[GATES[n]] == "PASS" for n in ("lint", "data check", "tests", "evaluation")), (
        jobs
    )
    assert jobs["samdkit-gates"] == "FAIL" and jobs["samdkit-comment"] == "PASS", jobs
    assert first["gates"]["pipeline"]["detail"]["reason"] == (
        "dvc.lock is not committed at HEAD: the pipeline's outputs were never recorded"
    )
    posted = first["posted"]
    print(posted)
    assert "a gate failed" in posted
    for name in ("lint", "data check", "tests", "evaluation"):
        assert f"| {name} | ✅ pass |" in posted, name
    assert "| pipeline | ❌ fail | dvc.lock is not committed at HEAD" in posted
    assert "| locked model | ⚠️ could not run | could not run: samdkit verify-lock" in posted
    what = posted[posted.index("#### What to do") :]
    assert what.index("**pipeline**") < what.index("dvc repro") < what.index("dvc remote add")
    assert "git add dvc.lock" in what and "git commit" in what
    [call] = first["calls"]
    assert call["argv"][-1] == "https://gitlab.example/api/v4/projects/42/merge_requests/7/notes"
    assert call["stdin"].strip() == f"PRIVATE-TOKEN: {TOKEN}"


@pytest.mark.slow
def test_the_comments_commands_make_the_mr_green(cases):
    fix, green = cases["fix"], cases["green"]
    assert fix[0] == "dvc repro" and fix[2].startswith("git commit"), fix
    assert fix[-1].startswith("# optional"), fix  # no DVC remote needed to be green
    tail = green["log"][-8000:]
    assert green["code"] == 0, tail
    assert {n: r["verdict"] for n, r in green["gates"].items()} == dict.fromkeys(GATES, "PASS")
    assert green["jobs"] == {
        job: "PASS" for job in (*GATES.values(), "samdkit-gates", "samdkit-comment")
    }, tail
    assert "all gates passed" in green["posted"]
    # no DVC remote: the model the pipeline job trained is classified, not trained again
    lock_gate = green["gates"]["locked model"]
    reason = lock_gate["detail"]["reason"]
    assert "reproduced" in reason or "equivalent rebuild" in reason, lock_gate
    assert "rebuilding:" not in green["log"]


@pytest.mark.slow
def test_lint_error_and_corrupted_data_both_report(cases):
    red = cases["red"]
    tail = red["log"][-8000:]
    assert red["code"] != 0, tail
    verdicts = {n: r["verdict"] for n, r in red["gates"].items()}
    # model.lock pins the data version, so changed prepared data also fails the locked model (as it should);
    # the pipeline, tests and evaluation pass: dvc.lock was re-recorded and the model still meets its criteria
    assert verdicts == {
        **dict.fromkeys(GATES, "PASS"),
        "lint": "FAIL",
        "data check": "FAIL",
        "locked model": "FAIL",
    }, (verdicts, tail)
    for job in ("samdkit-lint", "samdkit-check-data", "samdkit-model-lock"):
        assert red["jobs"][job] == "WARN", (
            job,
            red["jobs"],
        )  # failed, allowed: the others still ran
    assert red["jobs"]["samdkit-gates"] == "FAIL" and red["jobs"]["samdkit-comment"] == "PASS"
    posted = red["posted"]
    assert "| lint | ❌ fail |" in posted and "| data check | ❌ fail |" in posted
    assert "| locked model | ❌ fail |" in posted
    assert "| pipeline | ✅ pass |" in posted and "| evaluation | ✅ pass |" in posted
    assert "**lint**: run" in posted and "ruff check --fix ." in posted
    assert "**data check**" in posted
    assert "999" not in posted  # no value of the corrupted rows reaches the comment


@pytest.mark.slow  # ~40 s: a bake and four gitlab-ci-local parses
def test_component_include_lists_the_pipelines_jobs(tmp_path):
    """The component form resolves offline and gives the same MR and tag jobs as the project form."""
    project = bake_project(tmp_path, ci_platform="gitlab")
    commit_all(project, "scaffold")
    path = jobs_path(tmp_path)

    def jobs(variables: dict[str, str]) -> dict[str, dict]:
        done = subprocess.run(
            gitlab_ci_local_cmd({}, variables, "--list-json"),
            cwd=project,
            env=clean_env(path),
            text=True,
            capture_output=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return {j["name"]: j for j in json.loads(done.stdout) if j["when"] != "never"}

    from tests.test_gitlab_pipeline import vendor_includes

    vendor_includes(project)
    by_project = (jobs(MR_VARIABLES), jobs({"CI_COMMIT_TAG": "v1.2.3"}))
    include = use_component_form(project)
    commit_all(project, "component form")
    vendor_components(project, include)
    # only the component project's templates/ is there: nothing is read from the include: project: files
    assert not (
        project / ".gitlab-ci-local" / "includes" / HOST / "OWNER/samdkit/v1/gitlab"
    ).exists()
    by_component = (jobs(MR_VARIABLES), jobs({"CI_COMMIT_TAG": "v1.2.3"}))
    for project_jobs, component_jobs in zip(by_project, by_component, strict=True):
        assert set(project_jobs) == set(component_jobs)
        for name, job in project_jobs.items():
            other = component_jobs[name]
            for key in ("stage", "when", "allow_failure", "needs"):
                assert job.get(key) == other.get(key), (name, key)
    mr = by_component[0]
    assert set(mr) == {*GATES.values(), "samdkit-gates", "samdkit-comment"}
    assert all(mr[GATES[n]]["allow_failure"] for n in GATES)
