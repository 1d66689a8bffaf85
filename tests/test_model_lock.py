"""samdkit lock / verify-lock on a real MLflow (skops) model, real golden CSV, real files.

One project is built and locked once per module; each test works on its own copy and changes one thing.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest
import yaml

from samdkit.cli import main
from samdkit.core import digests
from samdkit.core.errors import UserError
from samdkit.lock import schema as lockfile
from tests.factories import save_model, write_split

DATA_MD5 = "3f1c2b7a9d5e4f60a1b2c3d4e5f60718.dir"
EVALUATION_V1 = Path(__file__).parent / "data" / "evaluation" / "v1-binary.json"
PARAMS = {
    "data": {
        "id_column": "sample_id",
        "label_column": "label",
        "positive_label": 1,
        "subgroup_columns": ["size_tertile"],
        "test_size": 0.3,
        "seed": 42,
        "golden_rows": 50,
    },
    "train": {"C": 1.0, "max_iter": 1000, "seed": 0},
    "evaluate": {"threshold": 0.5},
    "mlflow": {
        "tracking_uri": "sqlite:///mlflow.db",
        "experiment": "demo",
        "registered_model": "demo",
    },
}


def write_dvc_lock(root: Path, md5: str = DATA_MD5) -> None:
    doc = {
        "schema": "2.0",
        "stages": {
            "prepare": {
                "cmd": "python src/prepare.py",
                "outs": [
                    {"path": "data/prepared", "hash": "md5", "md5": md5, "size": 1, "nfiles": 3}
                ],
            }
        },
    }
    (root / "dvc.lock").write_text(yaml.safe_dump(doc), encoding="utf-8")


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess, from the project root (as CI runs it)."""
    return subprocess.run(
        [sys.executable, "-m", "samdkit", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SAMDKIT_DEBUG": ""},
    )


def run_in_process(root: Path, capsys, *args: str) -> tuple[int, str, str]:
    """The same CLI entry point in this process (MLflow is imported once for the whole module)."""
    cwd = Path.cwd()
    os.chdir(root)
    try:
        code = main(list(args))
    finally:
        os.chdir(cwd)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def locked(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("locked")
    split = write_split(root / "data" / "prepared")
    save_model(root / "models" / "model", split["train"])
    (root / "params.yaml").write_text(yaml.safe_dump(PARAMS), encoding="utf-8")
    write_dvc_lock(root)
    reports = root / "reports"
    reports.mkdir()
    (reports / "train_run.json").write_text(
        json.dumps(
            {
                "run_id": "abc123",
                "model_name": "demo",
                "model_version": "1",
                "tracking_uri": "sqlite:///mlflow.db",
                "threshold": 0.5,
            }
        ),
        encoding="utf-8",
    )
    # a valid samdkit/evaluation/v1 document (docs/evaluation-schema.md), read by the strict reader
    shutil.copy(EVALUATION_V1, reports / "evaluation.json")
    out = io.StringIO()
    cwd = Path.cwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(out):
            assert main(["lock"]) == 0
    finally:
        os.chdir(cwd)
    assert "MLflow not tagged" in out.getvalue()  # no mlflow.db here: skipped with a note
    return root


@pytest.fixture
def project(locked, tmp_path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(locked, copy)
    return copy


def read_lock(root: Path) -> dict:
    return json.loads((root / "model.lock").read_text(encoding="utf-8"))


def write_lock(root: Path, lock: dict) -> None:
    (root / "model.lock").write_text(lockfile.dumps(lock), encoding="utf-8")


# --------------------------------------------------------------------------- the lock itself


def test_lock_records_what_the_issue_asks(locked):
    lock = read_lock(locked)
    assert lock["schema_version"] == lockfile.SCHEMA_VERSION
    files = {f["path"]: f for f in lock["artifact"]["files"]}
    assert {"MLmodel", "model.skops"} <= set(files)
    skops = locked / "models/model/model.skops"
    assert files["model.skops"]["sha256"] == hashlib.sha256(skops.read_bytes()).hexdigest()
    assert files["model.skops"]["size"] == skops.stat().st_size
    lines = "".join(f"{p}\0{files[p]['sha256']}\n" for p in sorted(files))
    assert lock["artifact"]["root_digest"] == hashlib.sha256(lines.encode()).hexdigest()
    det = lock["determinism"]
    assert det["runs"] == 3 and det["output_shape"] == [50, 2] and len(det["row_ids"]) == 50
    assert det["row_ids"][:2] == ["row 1", "row 2"]  # positions, never the (patient) ids
    assert "sample_id" not in det["golden"]["features"] and "label" not in det["golden"]["features"]
    assert lock["data"]["outs"] == [{"path": "data/prepared", "md5": DATA_MD5}]
    assert lock["threshold"] == 0.5 and lock["params"]["train"]["C"] == 1.0
    evaluation = json.loads(EVALUATION_V1.read_text(encoding="utf-8"))
    sensitivity = evaluation["overall"]["metrics"]["sensitivity"]
    assert lock["metrics"]["overall.metrics.sensitivity.value"] == sensitivity["value"]
    assert lock["metrics"]["overall.metrics.sensitivity.ci.lower"] == sensitivity["ci"]["lower"]
    assert lock["metrics"]["overall.n"] == evaluation["overall"]["n"]
    assert {k: v for k, v in lock["metrics"].items() if k.startswith("summary.")} == {
        f"summary.{k}": v for k, v in evaluation["summary"].items()
    }
    assert not any(k.startswith(("subgroups", "criteria", "inputs")) for k in lock["metrics"])
    assert lock["mlflow"]["run_id"] == "abc123"
    assert lock["environment"]["packages"]["mlflow"]
    # stable JSON: what lockfile.dumps writes is exactly the committed bytes
    assert lockfile.dumps(lock) == (locked / "model.lock").read_text(encoding="utf-8")


def test_root_digest_matches_the_documented_shell_recipe(locked):
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    script = (
        "cd models/model && find . -type f | sed 's|^\\./||' | LC_ALL=C sort | while read -r f; do "
        'printf \'%s\\0%s\\n\' "$f" "$(openssl dgst -sha256 -r "$f" | cut -d\' \' -f1)"; done '
        "| sha256sum | cut -d' ' -f1"
    )
    done = subprocess.run(["bash", "-c", script], cwd=locked, capture_output=True, text=True)
    assert done.stdout.strip() == read_lock(locked)["artifact"]["root_digest"]


# --------------------------------------------------------------------------- verify: pass and fail


def test_fresh_lock_verifies(locked):
    done = cli(locked, "verify-lock", "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["verdict"] == "PASS" and report["findings"] == []
    assert report["summary"]["max_abs_diff"] == 0.0
    assert report["summary"]["root_digest"] == read_lock(locked)["artifact"]["root_digest"]


def test_one_flipped_byte_fails_naming_file_and_both_digests(project, capsys):
    target = project / "models/model/model.skops"
    expected = hashlib.sha256(target.read_bytes()).hexdigest()
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()
    code, out, _ = run_in_process(project, capsys, "verify-lock")
    assert code == 1, out
    line = next(x for x in out.splitlines() if "[artifact-file-changed]" in x)
    assert "models/model/model.skops" in line and expected in line and actual in line


def test_added_file_fails_naming_it(project, capsys):
    (project / "models/model/extra.txt").write_text("not validated\n")
    code, out, _ = run_in_process(project, capsys, "verify-lock")
    assert code == 1
    assert "[artifact-file-added] models/model/extra.txt" in out
    assert "artifact-root-digest" in out


def test_missing_file_fails_naming_it(project, capsys):
    (project / "models/model/python_env.yaml").unlink()
    code, out, _ = run_in_process(project, capsys, "verify-lock", "--format", "json")
    assert code == 1
    report = json.loads(out)
    missing = [f for f in report["findings"] if f["check"] == "artifact-file-missing"]
    assert [f["file"] for f in missing] == ["models/model/python_env.yaml"]


def test_data_version_different_from_dvc_lock_fails(project, capsys):
    write_dvc_lock(project, md5="0" * 32 + ".dir")  # data changed, only `prepare` re-ran
    code, out, _ = run_in_process(project, capsys, "verify-lock")
    assert code == 1
    assert "[data-version]" in out and DATA_MD5 in out and "0" * 32 + ".dir" in out


def test_edited_golden_inputs_fail(project, capsys):
    golden = project / "data/prepared/golden.csv"
    lines = golden.read_text().splitlines()
    header, row = lines[0].split(","), lines[3].split(",")
    column = header.index("mean_radius")
    row[column] = str(float(row[column]) * 3)
    lines[3] = ",".join(row)
    golden.write_text("\n".join(lines) + "\n")
    code, out, _ = run_in_process(project, capsys, "verify-lock")
    assert code == 1
    assert "[golden-input]" in out
    # the edited row is named by its position (data line 3 = row 3), never by its sample id
    assert "[determinism-stored]" in out and "row 3" in out and row[0] not in out


def test_tampered_stored_predictions_fail_naming_rows(project, capsys):
    lock = read_lock(project)
    det = lock["determinism"]
    det["predictions"][7] = [1.0 - p for p in det["predictions"][7]]
    det["predictions"][21][0] += 1e-3
    det["predictions"][21][1] -= 1e-3
    write_lock(project, lock)  # the hand edit keeps the old output digest: integrity fails too
    code, out, _ = run_in_process(project, capsys, "verify-lock", "--format", "json")
    assert code == 1
    findings = json.loads(out)["findings"]
    checks = {f["check"] for f in findings}
    assert {"lock-integrity", "determinism-stored"} <= checks
    stored = next(f for f in findings if f["check"] == "determinism-stored")
    assert stored["detail"]["rows"] == [det["row_ids"][7], det["row_ids"][21]]
    assert stored["detail"]["max_abs_diff"] > 1e-3


def test_difference_within_tolerance_is_a_warning_not_a_failure(project, capsys):
    """Another machine's last-bit differences: reported with the max diff, the gate stays green."""
    from samdkit.lock.fingerprint import array_sha256

    lock = read_lock(project)
    det = lock["determinism"]
    det["predictions"][0][1] += 1e-12
    det["output_sha256"] = array_sha256(det["predictions"])  # as if locked on that machine
    write_lock(project, lock)
    code, out, _ = run_in_process(project, capsys, "verify-lock", "--format", "json")
    report = json.loads(out)
    assert code == 0, out
    assert [f["severity"] for f in report["findings"]] == ["warning"]
    assert 0 < report["summary"]["max_abs_diff"] < 1e-9


def test_hand_edited_threshold_and_params_fail(project, capsys):
    lock = read_lock(project)
    lock["threshold"] = 0.3
    lock["params"]["train"]["C"] = 10.0
    write_lock(project, lock)
    code, out, _ = run_in_process(project, capsys, "verify-lock")
    assert code == 1
    assert "[threshold] decision threshold in force is 0.5, model.lock recorded 0.3" in out
    assert "[params] param train.C is 1.0, model.lock recorded 10.0" in out


def test_hand_edited_file_digest_fails_integrity(project, capsys):
    lock = read_lock(project)
    lock["artifact"]["files"][0]["sha256"] = "f" * 64
    write_lock(project, lock)
    code, out, _ = run_in_process(project, capsys, "verify-lock", "--format", "github")
    assert code == 1
    assert "::error file=model.lock,title=lock-integrity::" in out
    assert "title=artifact-file-changed" in out


NOISY_MODEL = textwrap.dedent(
    """
    import numpy as np
    import mlflow.pyfunc
    from mlflow.models import set_model

    class Noisy(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            rng = np.random.default_rng()  # fresh OS entropy every call: not a locked model
            return 0.5 + rng.normal(0.0, 0.01, size=len(model_input))

    set_model(Noisy())
    """
)


def save_noisy_model(directory: Path, work: Path) -> None:
    import mlflow.pyfunc

    code = work / "noisy_model.py"
    code.write_text(NOISY_MODEL, encoding="utf-8")
    mlflow.pyfunc.save_model(str(directory), python_model=str(code), pip_requirements=["numpy"])


def test_non_deterministic_model_fails_repeated_runs(project, tmp_path, capsys):
    shutil.rmtree(project / "models/model")
    save_noisy_model(project / "models/model", tmp_path)
    # lock refuses to record it
    (project / "model.lock").rename(project / "good.lock")
    code, out, _ = run_in_process(project, capsys, "lock")
    assert code == 1 and "[determinism-repeat]" in out
    assert not (project / "model.lock").exists()
    # verify against the good model's lock: files differ and the repeated runs disagree
    code, out, _ = run_in_process(
        project, capsys, "verify-lock", "--lock", "good.lock", "--format", "json"
    )
    assert code == 1
    findings = {f["check"]: f for f in json.loads(out)["findings"]}
    repeat = findings["determinism-repeat"]
    assert len(set(repeat["detail"]["run_digests"])) == 3
    assert len(repeat["detail"]["rows"]) == 50
    assert "artifact-file-missing" in findings  # model.skops is gone


# --------------------------------------------------------------------------- --against


def test_against_a_lock_file_shows_the_changed_digest(project, capsys):
    shutil.copy(project / "model.lock", project / "base.lock")
    old = read_lock(project)
    shutil.rmtree(project / "models/model")
    save_model(project / "models/model", project / "data/prepared/train.csv", C=0.05)
    params = dict(PARAMS, train={"C": 0.05, "max_iter": 1000, "seed": 0})
    (project / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    code, _, err = run_in_process(project, capsys, "lock")
    assert code == 0, err
    new = read_lock(project)
    code, out, _ = run_in_process(project, capsys, "verify-lock", "--against", "base.lock")
    assert code == 0
    root = f"artifact.root_digest: {old['artifact']['root_digest']} -> {new['artifact']['root_digest']}"
    assert root in out
    assert "artifact.files[model.skops]" in out
    assert "params.train.C: 1.0 -> 0.05" in out
    assert "determinism.predictions: largest difference" in out
    assert "the model changed" in out


def test_against_a_git_ref(project, capsys):
    def git(*args):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
            cwd=project,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    git("add", "model.lock")
    git("commit", "-qm", "lock")
    write_dvc_lock(project, md5="1" * 32 + ".dir")
    lock = read_lock(project)
    lock["data"]["outs"][0]["md5"] = "1" * 32 + ".dir"
    write_lock(project, lock)
    code, out, _ = run_in_process(
        project, capsys, "verify-lock", "--against", "HEAD", "--format", "json"
    )
    assert code == 0
    result = json.loads(out)
    assert result["schema"] == "samdkit/gate-result/v1" and result["gate"] == "verify-lock"
    assert result["verdict"] == "the model changed"
    diff = result["detail"]
    assert diff["base"] == "HEAD:model.lock" and diff["model_changed"] is True
    assert diff["changes"] == [
        {
            "field": "data.data/prepared",
            "kind": "changed",
            "old": DATA_MD5,
            "new": "1" * 32 + ".dir",
        }
    ]
    done = cli(project, "verify-lock", "--against", "no-such-ref")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- bad input: one line, exit 2


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda root: (root / "model.lock").write_text('{"schema_version": 1, "artifact": {'),
            "malformed lock (not JSON, truncated?)",
        ),
        (
            lambda root: (root / "model.lock").write_text(
                (root / "model.lock")
                .read_text()
                .replace('"schema_version": 1', '"schema_version": 99')
            ),
            "unknown lock format version (this samdkit reads 1",
        ),
        (lambda root: (root / "model.lock").write_text("[]"), "malformed lock"),
        (lambda root: (root / "model.lock").unlink(), "lock file not found"),
        (lambda root: shutil.rmtree(root / "models/model"), "model not found"),
        (lambda root: (root / "data/prepared/golden.csv").unlink(), "golden input set not found"),
    ],
    ids=[
        "truncated",
        "unknown-version",
        "not-an-object",
        "missing-lock",
        "missing-model",
        "missing-golden",
    ],
)
def test_bad_input_is_one_line_exit_2(project, mutate, expected):
    mutate(project)
    done = cli(project, "verify-lock")
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda root: (root / "reports/evaluation.json").write_text(
                json.dumps({"metrics": {"auroc": 0.9}})  # a foreign file: once guessed, now refused
            ),
            "reports/evaluation.json: ",
        ),
        (
            lambda root: (root / "params.yaml").write_text(
                yaml.safe_dump(dict(PARAMS, evaluate={"threshold": 1.5}))
            ),
            "params.yaml: evaluate.threshold must be a number in [0, 1], got 1.5",
        ),
        (
            lambda root: (root / "params.yaml").write_text("- not\n- a mapping\n"),
            "params.yaml: must be a mapping",
        ),
    ],
    ids=["foreign-evaluation", "threshold-out-of-range", "params-not-a-mapping"],
)
def test_lock_refuses_a_foreign_input_in_one_line(project, mutate, expected):
    before = (project / "model.lock").read_bytes()
    mutate(project)
    done = cli(project, "lock")
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines
    assert (project / "model.lock").read_bytes() == before  # nothing written


def test_lock_without_model_is_one_line_exit_2(tmp_path):
    done = cli(tmp_path, "lock")
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "samdkit lock: error: models/model: model not found (train the model first)"
    )


# --------------------------------------------------------------------------- MLflow tag


@pytest.mark.slow
def test_lock_tags_the_registered_model_version(project):
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{project / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        with mlflow.start_run() as run:
            mlflow.log_artifacts(str(project / "models/model"), "model")
        version = mlflow.register_model(f"runs:/{run.info.run_id}/model", "demo")
    finally:  # MLflow keeps both URIs in globals and in os.environ: leave neither behind
        mlflow.set_tracking_uri("")
        mlflow.set_registry_uri("")
        for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            os.environ.pop(key, None)
    train_run = {
        "run_id": run.info.run_id,
        "model_name": "demo",
        "model_version": version.version,
        "tracking_uri": "sqlite:///mlflow.db",
        "threshold": 0.5,
    }
    (project / "reports/train_run.json").write_text(json.dumps(train_run))
    done = cli(project, "lock")
    assert done.returncode == 0, done.stderr
    assert f"version {version.version} tagged samdkit.model_sha256" in done.stdout
    tags = MlflowClient(uri, uri).get_model_version("demo", version.version).tags
    assert tags["samdkit.model_sha256"] == read_lock(project)["artifact"]["root_digest"]


# --------------------------------------------------------------------------- streamed hashing


def test_hashing_a_large_file_keeps_memory_flat(tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as handle:  # sparse: 200 MiB of zeros, no disk used
        handle.truncate(200 << 20)
    tracemalloc.start()
    try:
        sha, size = digests.file_sha256(big)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == 200 << 20
    expected = hashlib.sha256()
    chunk = bytes(1 << 20)
    for _ in range(200):
        expected.update(chunk)
    assert sha == expected.hexdigest()
    assert peak < 4 * digests.BUFFER_SIZE  # one buffer, whatever the file size


def test_tree_digests_in_parallel_equal_sequential(tmp_path):
    for i in range(6):
        (tmp_path / f"d{i % 2}").mkdir(exist_ok=True)
        (tmp_path / f"d{i % 2}" / f"f{i}.bin").write_bytes(os.urandom(100_000 + i))
    parallel = digests.tree_digests(tmp_path, workers=4)
    assert parallel == digests.tree_digests(tmp_path, workers=1)
    assert [f.path for f in parallel] == sorted(f.path for f in parallel)


def test_a_symlinked_directory_in_the_artifact_is_refused(tmp_path):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "weights.bin").write_bytes(b"w")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "MLmodel").write_text("x")
    (tmp_path / "model" / "linked").symlink_to(tmp_path / "outside")
    with pytest.raises(UserError, match="linked is a symlinked directory"):
        digests.tree_digests(tmp_path / "model")


def test_unknown_lock_setting_is_one_line_exit_2(project, capsys):
    (project / "pyproject.toml").write_text("[tool.samdkit.lock]\nrunz = 5\n")
    code, _, err = run_in_process(project, capsys, "verify-lock")
    assert code == 2
    assert err.strip() == (
        "samdkit verify-lock: error: pyproject.toml: [tool.samdkit.lock] has an unknown key 'runz' "
        "(did you mean 'runs'?)"
    )


def test_threshold_changed_in_params_fails(project, capsys):
    params = dict(PARAMS, evaluate={"threshold": 0.35})
    (project / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    (project / "pyproject.toml").write_text("[tool.samdkit.lock]\nruns = 2\n")
    code, out, _ = run_in_process(project, capsys, "verify-lock")
    assert code == 1
    assert "[threshold] decision threshold in force is 0.35, model.lock recorded 0.5" in out


def test_committed_lock_is_what_the_gate_verifies(project, capsys):
    """A model.lock rewritten in the CI job (e.g. by dvc repro) cannot make the gate pass."""
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    lock = read_lock(project)
    lock["threshold"] = 0.123  # the committed lock is wrong for this model
    write_lock(project, lock)
    subprocess.run(["git", "add", "model.lock"], cwd=project, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "bad lock"],
        cwd=project,
        check=True,
    )
    code, _, err = run_in_process(project, capsys, "lock")  # the job rewrites a matching lock
    assert code == 0, err
    code, _, _ = run_in_process(project, capsys, "verify-lock")
    assert code == 0, "the working lock matches the model"
    code, out, _ = run_in_process(project, capsys, "verify-lock", "--committed", "--format", "json")
    assert code == 1
    checks = {f["check"] for f in json.loads(out)["findings"]}
    assert "committed-lock" in checks, "says that the working lock was rewritten"
