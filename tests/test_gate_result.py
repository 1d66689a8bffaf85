"""The one gate-result envelope (samdkit/gate-result/v1): what every `--format json` prints and CI reads.

Each envelope samdkit produces validates against docs/schemas/gate-result.v1.json; the strict reader
refuses a foreign or hand-edited result with one line naming the field (exit 2, never a traceback).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from samdkit.core.errors import UserError
from samdkit.core.findings import (
    GATE_RESULT_SCHEMA,
    Finding,
    GateResult,
    Severity,
    read_result,
    render,
    render_result,
)

REPO = Path(__file__).resolve().parent.parent
SCHEMA_FILE = REPO / "docs" / "schemas" / "gate-result.v1.json"


def assert_envelope(text: str) -> dict:
    """The text is one envelope: valid against the published JSON Schema and the strict reader."""
    doc = json.loads(text)
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(doc)
    read_result(text)
    return doc


def sample() -> GateResult:
    return GateResult(
        gate="lint",
        verdict="FAIL",
        findings=[
            Finding("phi", "a patient column", file="data/x.csv", line=3),
            Finding("notebook", "outputs kept", severity=Severity.WARNING),
            Finding("ok", "checked", severity="pass"),
        ],
        summary={"errors": 1},
        outputs={"errors": "1"},
        detail={"checked": ["a", "b"]},
    )


def test_json_is_the_envelope_with_sorted_keys_and_round_trips() -> None:
    text = render_result(sample(), "json")
    doc = assert_envelope(text)
    assert list(doc) == sorted(doc)
    assert doc["schema"] == GATE_RESULT_SCHEMA
    assert set(doc) == {"schema", "gate", "verdict", "findings", "summary", "outputs", "detail"}
    assert [f["severity"] for f in doc["findings"]] == ["error", "warning", "pass"]
    assert read_result(text) == sample()
    assert render_result(sample(), "json") == text  # stable


def test_severity_is_an_enum_and_a_string() -> None:
    finding = Finding("c", "m", severity="warning")
    assert finding.severity is Severity.WARNING
    assert finding.severity == "warning"
    with pytest.raises(ValueError):
        Finding("c", "m", severity="fatal")


def test_text_and_github_renderings() -> None:
    text = render_result(sample(), "text")
    assert text.splitlines()[0] == "ERROR   data/x.csv:3  [phi] a patient column"
    assert text.splitlines()[-1] == "samdkit lint: FAIL (errors: 1)"
    github = render_result(sample(), "github", title="samdkit lint (custom)")
    assert github.splitlines()[0] == "::error file=data/x.csv,line=3,title=phi::a patient column"
    assert github.splitlines()[1].startswith("::warning title=notebook::")
    assert github.splitlines()[-1] == "samdkit lint (custom): FAIL (errors: 1)"


def test_render_wrapper_prints_the_envelope_for_callers_not_yet_migrated() -> None:
    findings = [Finding("x", "bad")]
    doc = assert_envelope(render(findings, "json", title="samdkit verify-lock", summary={"n": 1}))
    assert (doc["gate"], doc["verdict"], doc["summary"]) == ("verify-lock", "FAIL", {"n": 1})
    named = json.loads(
        render(findings, "json", title="samdkit lock (not written)", verdict="STALE")
    )
    assert (named["gate"], named["verdict"]) == ("lock", "STALE")
    clean = json.loads(
        render([Finding("x", "w", severity="warning")], "json", title="samdkit lint")
    )
    assert clean["verdict"] == "PASS"
    assert render([], "text", title="samdkit lint") == "samdkit lint: PASS"


def _doc() -> dict:
    return json.loads(render_result(sample(), "json"))


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d.pop("verdict"), "field 'verdict' is missing"),
        (lambda d: d.pop("outputs"), "field 'outputs' is missing"),
        (
            lambda d: d.update(schema="samdkit/gate-result/v0"),
            "field 'schema' is 'samdkit/gate-result/v0'",
        ),
        (lambda d: d.pop("schema"), "field 'schema' is missing"),
        (lambda d: d.update(reason="guess"), "unknown field 'reason'"),
        (lambda d: d.update(findings={}), "field 'findings' must be list"),
        (
            lambda d: d["findings"][1].update(severity="fatal"),
            "field 'findings[1].severity' must be one of",
        ),
        (lambda d: d["findings"][0].pop("check"), "field 'findings[0].check' is missing"),
        (lambda d: d["findings"][0].update(line=True), "field 'findings[0].line' must be int"),
        (lambda d: d["outputs"].update(errors=1), "field 'outputs.errors' must be str"),
        (lambda d: d.update(verdict=""), "field 'verdict' is empty"),
    ],
)
def test_reader_is_strict_and_names_the_field(change, named: str, tmp_path: Path) -> None:
    doc = _doc()
    change(doc)
    path = tmp_path / "lint.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError) as caught:
        read_result(path)
    assert named in str(caught.value)
    assert str(path) in str(caught.value)
    assert caught.value.exit_code == 2
    with pytest.raises(jsonschema.ValidationError):  # the published schema agrees
        jsonschema.validate(doc, json.loads(SCHEMA_FILE.read_text()))


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("[]", "not a JSON object"),
        ("{not json", "invalid JSON at line 1"),
        (None, "file not found"),
    ],
)
def test_reader_refuses_what_is_not_json(content, named: str, tmp_path: Path) -> None:
    path = tmp_path / "gate.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UserError, match=named):
        read_result(path)


# --------------------------------------------------------------------------- the commands that print it


def samdkit(cwd: Path, *args: str):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "samdkit", *args], cwd=cwd, capture_output=True, text=True
    )


def test_lint_prints_and_writes_the_envelope(tmp_path: Path) -> None:
    """`samdkit lint --format json` and its --output file: one envelope, the count CI exposes in outputs."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "bad.py").write_text((REPO / "tests/data/lint/bad_ruff.py").read_text())
    done = samdkit(tmp_path, "lint", "--format", "json", "--output", "lint.json")
    assert done.returncode == 1, done.stderr
    printed = assert_envelope(done.stdout)
    assert printed == assert_envelope((tmp_path / "lint.json").read_text())
    assert (printed["gate"], printed["verdict"]) == ("lint", "FAIL")
    assert printed["outputs"] == {"findings": str(len(printed["findings"]))}
    assert any(
        f["check"].startswith("ruff/") and f["file"] == "src/bad.py" for f in printed["findings"]
    )
    exposed = samdkit(
        tmp_path,
        "gate",
        "--expose-from",
        "lint.json",
        "--expose",
        "outputs.findings",
        "--render",
        "github",
    )
    assert exposed.returncode == 0, exposed.stderr
    assert "::error file=src/bad.py" in exposed.stdout
    assert exposed.stdout.splitlines()[-1] == f"findings={printed['outputs']['findings']}"


def test_comment_json_is_the_envelope(tmp_path: Path) -> None:
    done = samdkit(tmp_path, "comment", "--gate", "tests=failure", "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = assert_envelope(done.stdout)
    assert (doc["gate"], doc["verdict"]) == ("comment", "FAIL")
    assert doc["outputs"]["verdict"] == "FAIL"
    assert Path(doc["outputs"]["comment"]).name == "pr-comment.md"


@pytest.mark.parametrize("folder", ["gitlab", "templates"])
def test_gitlab_verdict_job_declares_the_dotenv_report_samdkit_writes(folder: str) -> None:
    """Issue 19: the job that runs `samdkit gate --verdict` hands the verdicts on as a dotenv report."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)  # !reference and friends
    text = (REPO / folder / "pipeline.yml").read_text()
    docs = [d for d in yaml.load_all(text, Loader=Loader) if isinstance(d, dict)]
    job = next(d["samdkit-gates"] for d in docs if "samdkit-gates" in d)
    script = " ".join(job["script"])
    assert "samdkit gate --verdict --dotenv samdkit-gates.env" in script
    assert job["artifacts"]["reports"]["dotenv"] == "samdkit-gates.env"
    assert job["artifacts"]["when"] == "always"  # the verdict job fails when a gate is red


GCL_PIPELINE = """\
stages: [verdict, after]
gates:
  stage: verdict
  script:
    - samdkit gate tests -- python3 -c "print('could not reach postgresql://u:s3cr3t@db/x'); exit(1)" || true
    - samdkit gate lint -- python3 -c "print('clean')"
    - samdkit gate --verdict --dotenv samdkit-gates.env
  allow_failure: true
  artifacts:
    when: always
    reports:
      dotenv: samdkit-gates.env
after:
  stage: after
  needs: [{job: gates, artifacts: true}]
  script:
    - echo "seen $SAMDKIT_GATES|$SAMDKIT_GATES_FAILED|$SAMDKIT_LINT_VERDICT|$SAMDKIT_TESTS_REASON"
"""


def test_gitlab_ci_local_hands_the_verdicts_to_a_later_job(tmp_path: Path) -> None:
    """gitlab-ci-local (shell executor, ~3 s): a later job sees the dotenv variables samdkit wrote."""
    import os
    import subprocess
    import sys

    from tests.conftest import git
    from tests.test_gitlab_pipeline import gitlab_ci_local

    (tmp_path / ".gitlab-ci.yml").write_text(GCL_PIPELINE)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".gitlab-ci.yml")
    git(tmp_path, "commit", "-qm", "ci")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(
        [str(gitlab_ci_local()), "--no-color"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "seen FAIL|tests|PASS|could not reach postgresql://u:***@db/x" in done.stdout
    assert "s3cr3t" not in (tmp_path / "samdkit-gates.env").read_text()
