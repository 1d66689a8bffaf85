"""The lock proven by rebuilding (issue 16): `verify-lock --rebuild` and the auditor's `verify --rebuild`.

Each slow test rebuilds the shared default project's model from a commit in a temporary folder (real git,
DVC, MLflow, scikit-learn): reproduced (the pull-request gate with no DVC remote and no cache),
equivalent rebuild (same predictions, other bytes), FAIL on a changed training parameter and on a changed
data row, and the auditor's rebuild against a release manifest.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from samdkit.core.findings import Finding
from samdkit.lock import rebuild
from tests.conftest import commit_all, git, project_env, run, samdkit_cli


def _rebuild(project: Path, *args: str) -> tuple[int, dict]:
    done = samdkit_cli(
        "verify-lock", "--format", "json", *args, cwd=project, env=project_env(project)
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def _checks(payload: dict, severity: str = "error") -> set[str]:
    return {f["check"] for f in payload["findings"] if f["severity"] == severity}


# --------------------------------------------------------------------------- fast: verdict logic


def test_classify_no_difference_is_reproduced():
    verdict, findings = rebuild.classify([Finding("training-run", "another run id")], "a" * 40)
    assert verdict == rebuild.REPRODUCED
    assert findings == []  # a rebuilt model is always a new run: not a difference


def test_classify_bytes_only_is_equivalent_and_warns():
    found = [
        Finding("artifact-file-changed", "MLmodel differs"),
        Finding("artifact-root-digest", "root differs"),
        Finding("determinism-stored", "within tolerance", severity="warning"),
    ]
    verdict, findings = rebuild.classify(found, "b" * 40)
    assert verdict == rebuild.EQUIVALENT
    assert all(f.severity == "warning" for f in findings)
    assert "rebuild-equivalent" in {f.check for f in findings}


def test_classify_other_difference_fails_naming_it():
    found = [Finding("artifact-root-digest", "root"), Finding("params", "param train.C is 0.1")]
    verdict, findings = rebuild.classify(found, "c" * 40)
    assert verdict == rebuild.FAILED
    summary = next(f for f in findings if f.check == "rebuild")
    assert "params" in summary.message and "artifact-root-digest" in summary.message


@pytest.mark.parametrize("verdict", [rebuild.REPRODUCED, rebuild.EQUIVALENT])
def test_render_names_the_rebuild_verdict(verdict):
    out = json.loads(rebuild.render([], "json", "t", verdict, {"rebuild": verdict}))
    assert out["verdict"] == verdict
    assert rebuild.render([], "text", "t", verdict, {}).splitlines()[-1] == f"t: {verdict}"


def test_manifest_comparison_names_the_differing_file():
    found = rebuild._manifest_findings({"MLmodel": "1", "a": "2"}, {"MLmodel": "1", "a": "3"}, "m")
    assert [f.file for f in found] == ["m/a"]
    assert rebuild._manifest_findings({}, {"a": "1"}, "m")[0].check == "rebuild-manifest"


def test_report_says_not_run_without_a_verdict_for_this_model(tmp_path):
    from samdkit.core.project import load_project

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    project = load_project(tmp_path)
    lock = {"artifact": {"root_digest": "f" * 64}}
    assert rebuild.describe(project, lock)["verdict"] == "not run"
    summary = {"commit": "d" * 40, "expected_root_digest": "e" * 64, "root_digest": "e" * 64}
    rebuild.write_verdict(project, rebuild.REPRODUCED, summary, "verify-lock")
    assert rebuild.describe(project, lock)["verdict"] == "not run"  # a verdict about another model
    lock["artifact"]["root_digest"] = "e" * 64
    described = rebuild.describe(project, lock)
    assert described["verdict"] == rebuild.REPRODUCED
    assert described["text"].startswith("reproduced: the model rebuilt from commit dddddddddddd")


def _verdict_file(tmp_path: Path) -> tuple[object, Path]:
    from samdkit.core.project import load_project

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    project = load_project(tmp_path)
    summary = {"commit": "d" * 40, "expected_root_digest": "e" * 64, "root_digest": "e" * 64}
    return project, rebuild.write_verdict(project, rebuild.EQUIVALENT, summary, "verify-lock")


def test_read_result_round_trips_the_written_verdict(tmp_path):
    _, path = _verdict_file(tmp_path)
    assert path == tmp_path / "reports" / "rebuild.json"
    record = rebuild.read_result(path)
    assert record["format"] == rebuild.VERDICT_FORMAT and record["verdict"] == rebuild.EQUIVALENT
    assert rebuild.read_result(tmp_path / "reports" / "absent.json") is None


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda r: r.update(format="samdkit/rebuild/v0"), "field 'format' names another format"),
        (lambda r: r.pop("verdict"), "field 'verdict' is missing"),
        (lambda r: r.update(verdict="looks fine"), "field 'verdict' must be one of"),
        (lambda r: r.update(commit=5), "field 'commit' has the wrong type"),
        (lambda r: r.update(root_digest="e" * 64), "unknown field 'root_digest'"),
        (lambda r: r.update(seconds={"train": "slow"}), "field 'seconds.train' must be a number"),
    ],
)
def test_a_hand_edited_verdict_is_one_line_naming_the_field(tmp_path, edit, field):
    from samdkit.core.errors import UserError

    project, path = _verdict_file(tmp_path)
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record))
    with pytest.raises(UserError) as caught:
        rebuild.read_result(path)
    assert f"rebuild.json: not a samdkit rebuild verdict (samdkit/rebuild/v1): {field}" in str(
        caught.value
    )
    with pytest.raises(UserError):  # the report's reader is the same strict one
        rebuild.describe(project, {"artifact": {"root_digest": "e" * 64}})


def test_rebuild_of_an_unknown_commit_is_one_line_exit_2(project_copy):
    done = samdkit_cli(
        "verify-lock",
        "--rebuild",
        cwd=project_copy,
        env={**project_env(project_copy), "GIT_DIR": str(project_copy / "no-such-git")},
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "not a commit" in done.stderr


# --------------------------------------------------------------------------- slow: real rebuilds


@pytest.mark.slow
def test_pull_request_gate_without_remote_or_cache_rebuilds_and_reproduces(project_copy):
    """A fresh clone in CI: no model, no DVC cache, no remote; the data is regenerated."""
    assert not run(["dvc", "remote", "list"], project_copy).stdout.strip()
    shutil.rmtree(project_copy / "models" / "model")
    shutil.rmtree(project_copy / ".dvc" / "cache")
    (project_copy / "reports" / "rebuild.json").unlink(missing_ok=True)
    code, payload = _rebuild(project_copy, "--committed", "--rebuild=auto")
    assert (code, payload["verdict"]) == (0, "reproduced"), payload["findings"]
    assert payload["summary"]["data"] == "dvc repro prepare"
    lock = json.loads((project_copy / "model.lock").read_text())
    assert payload["summary"]["root_digest"] == lock["artifact"]["root_digest"]
    record = json.loads((project_copy / "reports" / "rebuild.json").read_text())
    assert record["verdict"] == "reproduced"
    assert record["commit"] == git(project_copy, "rev-parse", "HEAD").stdout.strip()
    assert not (project_copy / "models" / "model").exists()  # the checkout was not touched


@pytest.mark.slow
def test_other_bytes_same_predictions_is_an_equivalent_rebuild(project_copy):
    """Built at another time (MLmodel time, zip times differ): bytes differ, predictions do not."""
    lock_path = project_copy / "model.lock"
    lock = json.loads(lock_path.read_text())
    lock["build"]["source_date_epoch"] += 86400
    lock_path.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")
    code, payload = _rebuild(project_copy, "--rebuild")
    assert (code, payload["verdict"]) == (0, "equivalent rebuild"), payload["findings"]
    assert payload["summary"]["data"] == "dvc checkout"
    assert not _checks(payload)
    warned = _checks(payload, "warning")
    assert {"rebuild-equivalent", "artifact-file-changed", "artifact-root-digest"} <= warned
    changed = {f["file"] for f in payload["findings"] if f["check"] == "artifact-file-changed"}
    assert "models/model/MLmodel" in changed
    assert payload["summary"]["max_abs_diff"] == 0.0
    # the report states the release's rebuild verdict (reports/rebuild.json)
    run(["samdkit", "report"], project_copy, check=False)
    text = (project_copy / "reports" / "clinical-validation-report.md").read_text()
    assert "`samdkit verify-lock --rebuild`): equivalent rebuild: the model rebuilt from" in text


@pytest.mark.slow
def test_changed_training_parameter_fails_naming_it(project_copy):
    params = project_copy / "params.yaml"
    text = params.read_text()
    assert "  C: 1.0\n" in text
    params.write_text(text.replace("  C: 1.0\n", "  C: 0.05\n"))
    commit_all(project_copy, "weaker regularisation, lock not refreshed")
    # model in the workspace, no DVC remote: auto rebuilds (the PR gate after the job's dvc repro)
    code, payload = _rebuild(project_copy, "--committed", "--rebuild=auto")
    assert (code, payload["verdict"]) == (1, "FAIL")
    assert {"params", "determinism-stored", "artifact-root-digest", "rebuild"} <= _checks(payload)
    assert any("train.C" in f["message"] for f in payload["findings"] if f["check"] == "params")
    assert json.loads((project_copy / "reports" / "rebuild.json").read_text())["verdict"] == "FAIL"


@pytest.mark.slow
def test_changed_data_row_fails_naming_the_data(project_copy):
    train = project_copy / "data" / "prepared" / "train.csv"
    lines = train.read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    row = lines[1].rstrip("\n").split(",")
    label = header.index("label")
    row[label] = "0" if row[label] == "1" else "1"  # one training label flipped
    lines[1] = ",".join(row) + "\n"
    train.write_text("".join(lines))
    run(["dvc", "commit", "-f", "-q", "prepare"], project_copy)
    commit_all(project_copy, "one corrected label, lock not refreshed")
    code, payload = _rebuild(project_copy, "--committed", "--rebuild")
    assert (code, payload["verdict"]) == (1, "FAIL")
    assert {"data-version", "artifact-root-digest", "rebuild"} <= _checks(payload)
    data = [f for f in payload["findings"] if f["check"] == "data-version"]
    assert any("data/prepared" in f["message"] for f in data)


@pytest.mark.slow
def test_auditor_rebuild_compares_with_the_release_manifest(project_copy):
    from samdkit.release import manifest as mf

    root = project_copy.resolve()
    files = [*sorted((root / "models" / "model").iterdir()), root / "model.lock"]
    (root / "release").mkdir(exist_ok=True)
    (root / "release" / "manifest.json").write_bytes(mf.dumps(mf.build(root, files)))
    done = samdkit_cli(
        "verify", "--rebuild", "--format", "json", cwd=project_copy, env=project_env(project_copy)
    )
    payload = json.loads(done.stdout)
    assert done.returncode == 1  # the manifest is not signed: verify's own checks fail
    assert payload["schema"] == "samdkit/gate-result/v1" and payload["gate"] == "verify"
    rebuilt = payload["detail"]["rebuild"]
    assert rebuilt["verdict"] == "reproduced", rebuilt["findings"]
    assert rebuilt["summary"]["commit"] == git(project_copy, "rev-parse", "HEAD").stdout.strip()
    assert not (project_copy / "reports" / "rebuild.json").exists()  # the auditor writes nothing
