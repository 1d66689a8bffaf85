"""The two CI doors take the same data-source settings as `samdkit check-data` (issue 17).

actions/data-check and gitlab/data-check.yml accept the source inputs (dataset, suite, engine, url,
url-env, table, schema, query) and pass each non-empty one to check-data as its flag; credentials stay
in the environment variables the inputs name. Static tests check the mapping against check-data's own
parser; the action's step script runs for real in bash (GitHub's evaluation of ``${{ inputs.* }}`` into
the step's env emulated: the inputs and defaults of action.yml) and the GitLab include runs for real with
gitlab-ci-local 4.73.0 (shell executor), both against the real PostgreSQL of tests/engines.py.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests import engines
from tests.conftest import BIN, REPO
from tests.test_data_sources import FAILING, SUITE, _patients

SOURCE_INPUTS = ("dataset", "suite", "engine", "url", "url-env", "table", "schema", "query")
ACTION = REPO / "actions" / "data-check" / "action.yml"
INCLUDE = REPO / "gitlab" / "data-check.yml"
PW_VAR = "SAMDKIT_DOORS_PGPASSWORD"


def _include() -> tuple[dict, dict]:
    """gitlab/data-check.yml: its spec and its job."""
    spec, body = yaml.safe_load_all(INCLUDE.read_text(encoding="utf-8"))
    [job] = [job for name, job in body.items() if name.endswith("-check-data")]
    return spec["spec"], job


def _check_data_flags() -> set[str]:
    from samdkit.data import command as data_check

    parser = argparse.ArgumentParser()
    data_check.add_arguments(parser)
    return {option for action in parser._actions for option in action.option_strings}


def _loop_names(script: str) -> tuple[str, ...]:
    [names] = re.findall(r"for flag in ([a-z -]+); do", script)
    return tuple(names.split())


# -- the mapping, statically -----------------------------------------------------------------------


def test_action_and_include_take_the_same_source_settings_as_check_data() -> None:
    flags = _check_data_flags()
    assert {f"--{name}" for name in SOURCE_INPUTS} <= flags

    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    [step] = [s for s in action["runs"]["steps"] if s.get("id") == "check"]
    for name in SOURCE_INPUTS:
        assert action["inputs"][name]["default"] == "" and not action["inputs"][name]["required"]
        variable = "INPUT_" + name.upper().replace("-", "_")
        assert step["env"][variable] == f"${{{{ inputs.{name} }}}}"  # via env, never in run:
    assert "${{" not in step["run"]
    assert _loop_names(step["run"]) == SOURCE_INPUTS

    spec, job = _include()
    script = "\n".join(job["script"])
    for name in SOURCE_INPUTS:
        assert spec["inputs"][name]["default"] == ""
        variable = "SAMDKIT_DATA_" + name.upper().replace("-", "_")
        # GitLab must not expand ${VAR} in a url: the password would reach the command line
        assert job["variables"][variable] == {"value": f"$[[ inputs.{name} ]]", "expand": False}
    assert _loop_names(script) == SOURCE_INPUTS
    assert "$[[" not in script  # inputs reach the script through variables only


def test_gate_result_never_records_a_password_written_in_a_url() -> None:
    from samdkit.data.sources import redact, written_secret

    line = "samdkit check-data --url postgresql+psycopg://u:p@ss:w0rd@db:5432/omop --table person"
    assert (
        redact(line)
        == "samdkit check-data --url postgresql+psycopg://u:***@db:5432/omop --table person"
    )
    kept = "--url postgresql+psycopg://u:${DB_PASSWORD}@db/omop --query 'SELECT 1'"
    assert redact(kept) == kept
    assert redact("--url mssql+pyodbc://db/x?driver=y&PWD=abc&x=1") == (
        "--url mssql+pyodbc://db/x?driver=y&PWD=***&x=1"
    )
    assert written_secret("postgresql://u:pw@h/d") and written_secret("postgresql://h/d?password=x")
    assert not written_secret("postgresql://u:${PW}@h/d") and not written_secret("sqlite:///x.db")


# -- a real PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[engines.Postgres]:
    """A server with the patients tables, passing and failing (as tests/test_data_sources.py)."""
    server = engines.postgres_server()
    pg = next(server)
    statements, rows = [], []
    for case in ("passing", "failing"):
        statements.append(
            f"CREATE TABLE patients_{case} (patient_id bigint, age double precision, sex text, "
            "systolic integer)"
        )
        frame = _patients(case)
        values = frame.astype(object).where(frame.notna(), None).values.tolist()
        rows.append((f"INSERT INTO patients_{case} VALUES (%s, %s, %s, %s)", values))
    pg.execute(*statements, rows=rows)
    try:
        yield pg
    finally:
        server.close()


def _url(pg: engines.Postgres) -> str:
    return f"postgresql+psycopg://{engines.USER}:${{{PW_VAR}}}@127.0.0.1:{pg.port}/postgres"


def _project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[project]\nname = "doors"\n', encoding="utf-8")
    (root / "patients.json").write_text(json.dumps(SUITE), encoding="utf-8")
    return root


def _secrets_absent(*texts: str) -> None:
    for text in texts:
        assert engines.PASSWORD not in text
        assert "wrong-Pass-77" not in text


# -- the GitHub action's step, run --------------------------------------------------------------------


def _run_action(project: Path, inputs: dict[str, str], env: dict[str, str]) -> dict:
    """The composite step as GitHub runs it: its env from the inputs (defaults as action.yml), bash."""
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    [step] = [s for s in action["runs"]["steps"] if s.get("id") == "check"]
    values = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    values.update(inputs)
    step_env = {
        key: re.sub(r"\$\{\{ inputs\.([\w-]+) \}\}", lambda m: values[m.group(1)], value)
        for key, value in step["env"].items()
    }
    outputs, summary = project / "github-output", project / "github-summary"
    full = {
        "PATH": f"{BIN}{os.pathsep}/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        **env,
        **step_env,
    }
    done = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=project,
        env=full,
        capture_output=True,
        text=True,
        timeout=600,
    )
    gate = project / "reports" / "gates" / "data-check.json"
    result = project / "reports" / "data-check.json"
    return {
        "rc": done.returncode,
        "log": done.stdout + done.stderr,
        "outputs": outputs.read_text() if outputs.exists() else "",
        "gate": json.loads(gate.read_text()) if gate.exists() else None,
        "result": result.read_text() if result.exists() else "",
    }


def test_action_validates_a_table_from_url_env_and_a_url_with_a_variable(
    postgres: engines.Postgres, tmp_path: Path
) -> None:
    """url-env: the whole URL from a secret in the step's env; url: ${VAR} read by samdkit."""
    failing = _run_action(
        _project(tmp_path / "env"),
        {"url-env": "PATIENTS_URL", "table": "patients_failing", "suite": "patients.json"},
        {"PATIENTS_URL": postgres.url()},
    )
    assert failing["rc"] == 1, failing["log"]
    assert f"failed={len(FAILING)}" in failing["outputs"]
    assert failing["gate"]["verdict"] == "FAIL"
    assert failing["gate"]["detail"]["command"] == (
        "samdkit check-data --format github --output reports/data-check.json "
        "--suite patients.json --url-env PATIENTS_URL --table patients_failing"
    )
    assert "::error" in failing["log"]
    _secrets_absent(*(json.dumps(v) for v in failing.values()))

    passing = _run_action(
        _project(tmp_path / "url"),
        {"url": _url(postgres), "table": "patients_passing", "suite": "patients.json"},
        {PW_VAR: engines.PASSWORD},
    )
    assert passing["rc"] == 0, passing["log"]
    assert passing["gate"]["verdict"] == "PASS" and "failed=0" in passing["outputs"]
    assert (
        f"--url {_url(postgres)} --table patients_passing" in passing["gate"]["detail"]["command"]
    )
    assert json.loads(passing["result"])["validations"][0]["dataset"]["source"]["url"] == (
        f"postgresql://samdkit@127.0.0.1:{postgres.port}/postgres"
    )
    _secrets_absent(*(json.dumps(v) for v in passing.values()))


def test_action_refuses_a_password_written_in_the_url_input_without_showing_it(
    postgres: engines.Postgres, tmp_path: Path
) -> None:
    url = f"postgresql+psycopg://{engines.USER}:wrong-Pass-77@127.0.0.1:{postgres.port}/postgres"
    done = _run_action(
        _project(tmp_path), {"url": url, "table": "patients_passing", "suite": "patients.json"}, {}
    )
    assert done["rc"] == 2 and done["gate"]["verdict"] == "ERROR"
    assert (
        "the url holds a password written out: write it as ${VAR}"
        in done["gate"]["detail"]["reason"]
    )
    assert ":***@127.0.0.1" in done["gate"]["detail"]["command"]
    _secrets_absent(*(json.dumps(v) for v in done.values()))
    assert not done["result"]  # nothing validated, nothing written


# -- the GitLab include, run with gitlab-ci-local -----------------------------------------------------


def _gitlab_ci_local() -> Path:
    local = REPO / ".tools" / "npm" / "bin" / "gitlab-ci-local"
    found = local if local.exists() else shutil.which("gitlab-ci-local")
    assert found, "gitlab-ci-local 4.73.0 is missing: run scripts/test"
    return Path(found)


@pytest.mark.slow  # gitlab-ci-local copies the project per job and runs check-data twice
def test_gitlab_include_validates_tables_without_exposing_the_password(
    postgres: engines.Postgres, tmp_path: Path
) -> None:
    """Two uses of the include: url with ${VAR} on the passing table, url-env on the failing one."""
    project = _project(tmp_path / "project")
    (project / "gitlab").mkdir()
    for name in ("data-check.yml", "setup.yml"):  # the include and the one it includes
        shutil.copy(INCLUDE.parent / name, project / "gitlab" / name)
    common = {"samdkit-spec": "", "suite": "patients.json"}
    include = [
        {
            "local": "gitlab/data-check.yml",
            "inputs": {**common, "job-prefix": "by-url", "url": _url(postgres)}
            | {"table": "patients_passing"},
        },
        {
            "local": "gitlab/data-check.yml",
            "inputs": {**common, "job-prefix": "by-env", "url-env": "PATIENTS_URL"}
            | {"table": "patients_failing"},
        },
    ]
    (project / ".gitlab-ci.yml").write_text(yaml.safe_dump({"include": include}), encoding="utf-8")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for cmd in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        [*git, "commit", "-qm", "x"],
    ):
        subprocess.run(cmd, cwd=project, check=True, capture_output=True)
    variables = {
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "PATIENTS_URL": postgres.url(),  # a masked CI/CD variable on GitLab
        PW_VAR: engines.PASSWORD,
    }
    cmd = [str(_gitlab_ci_local()), "--no-color", "--force-shell-executor", "--shell-isolation"]
    cmd += ["--ignore-predefined-vars", "CI_PIPELINE_SOURCE"]
    for key, value in variables.items():
        cmd += ["--variable", f"{key}={value}"]
    node = shutil.which("node")
    path = [str(BIN), str(_gitlab_ci_local().parent), *([str(Path(node).parent)] if node else [])]
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join([*path, "/usr/local/bin", "/usr/bin", "/bin"])
    done = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=900)
    log = done.stdout + done.stderr
    results = dict(
        (m.group(2), m.group(1))
        for m in re.finditer(r"^\s*(PASS|FAIL|WARN)\s+(by-[\w-]+)\s*$", log, re.MULTILINE)
    )
    assert results == {"by-url-check-data": "PASS", "by-env-check-data": "FAIL"}, log[-6000:]
    assert done.returncode != 0  # the failing table fails the pipeline
    state = project / ".gitlab-ci-local"
    gates = {
        p.parts[-4]: json.loads(p.read_text())
        for p in state.glob("artifacts/*/reports/gates/data-check.json")
    }
    assert {job: g["verdict"] for job, g in gates.items()} == {
        "by-url-check-data": "PASS",
        "by-env-check-data": "FAIL",
    }
    # GitLab left ${VAR} alone (expand: false): the command holds the reference, not the password
    assert (
        f"--url {_url(postgres)} --table patients_passing"
        in gates["by-url-check-data"]["detail"]["command"]
    )
    assert (
        "--url-env PATIENTS_URL --table patients_failing"
        in gates["by-env-check-data"]["detail"]["command"]
    )
    results_json = [p.read_text() for p in state.glob("artifacts/*/reports/data-check.json")]
    assert len(results_json) == 2
    _secrets_absent(log, *(json.dumps(g) for g in gates.values()), *results_json)
    _secrets_absent(*(p.read_text(errors="replace") for p in state.glob("output/*.log")))


# -- what every door relies on: credentials only from the environment ---------------------------------


def test_a_password_written_in_pyproject_is_refused_without_showing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from samdkit.cli import main

    _project(tmp_path)
    with (tmp_path / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(
            "[tool.samdkit.data.sources.db]\n"
            'url = "postgresql+psycopg://reader:wrong-Pass-77@db.hospital/omop"\n'
            'table = "person"\n'
            '[[tool.samdkit.data.checks]]\ndataset = "db"\nsuite = "patients.json"\n'
        )
    code = main(["check-data", "--root", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "[tool.samdkit.data.sources.db]: the url holds a password written out" in err
    _secrets_absent(err)
    assert not (tmp_path / "reports").exists()


def test_a_database_source_without_the_sql_extra_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """samdkit[data] alone has no SQLAlchemy: a clear line (exit 2), not an internal error."""
    import sys

    from samdkit.cli import main

    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # as if not installed: import fails
    _project(tmp_path)
    source = ["--url", "postgresql://db/omop", "--table", "t"]
    suite = ["--suite", str(tmp_path / "patients.json")]
    code = main(["check-data", "--root", str(tmp_path), *source, *suite])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == (
        "samdkit check-data: error: command line: a database source needs SQLAlchemy and a "
        'driver: pip install "samdkit[sql]"'
    )
