"""The main job on the embedded default, end to end: the scaffolded project's pipeline leaves a locked
model and a report whose only blocking gaps are the template's example texts; signing with the DEMO certificate and the auditor's verify agree with poppler;
any later change to the model or the evidence turns the verification red."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import BIN, project_env, run

pytestmark = pytest.mark.slow


def test_pipeline_stages_in_order(default_project):
    stages = list(yaml.safe_load((default_project / "dvc.yaml").read_text())["stages"])
    assert stages == ["prepare", "check-data", "train", "evaluate", "lock", "report"]
    assert run(["dvc", "status", "-q"], default_project, check=False).returncode == 0


def test_default_lock_verifies(default_project):
    result = run(["samdkit", "verify-lock", "--format", "json"], default_project)
    verdict = json.loads(result.stdout)
    assert verdict["verdict"] == "PASS", verdict


def test_default_evidence_passes(default_project):
    evaluation = json.loads((default_project / "reports/evaluation.json").read_text())
    assert evaluation["verdict"] == "PASS"
    report = json.loads((default_project / "reports/clinical-validation-report.json").read_text())
    # the scaffold's example texts are its only blocking gaps (tests/test_honest_evidence.py)
    blocking = [g for g in report["gaps"] if g["blocking"]]
    assert blocking and all("TEMPLATE EXAMPLE" in g["message"] for g in blocking), report["gaps"]
    assert report["verdict"] == "FAIL"
    lock = json.loads((default_project / "model.lock").read_text())
    assert lock["artifact"]["root_digest"] in (
        subprocess.run(
            ["pdftotext", str(default_project / "reports/clinical-validation-report.pdf"), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    ), "the report prints the locked model's root digest"


def test_sign_verify_and_tamper(project_copy):
    project = project_copy
    signed = json.loads(run(["samdkit", "sign", "--demo", "--format", "json"], project).stdout)[
        "detail"
    ]  # the gate-result envelope
    assert signed["demo"]
    pin = ["--expect-signer", signed["certificate_sha256"]]
    verdict = json.loads(run(["samdkit", "verify", "--format", "json", *pin], project).stdout)
    assert verdict["verdict"] == "PASS", verdict
    offline = project_env(project)  # only samdkit and git: no poppler to read the PDFs' text
    only = project.parent / "only-git"
    only.mkdir()
    (only / "git").symlink_to(shutil.which("git"))
    offline["PATH"] = f"{BIN}:{only}"
    alone = json.loads(
        run(["samdkit", "verify", "--format", "json", *pin], project, env=offline).stdout
    )
    assert alone["verdict"] == "PASS", alone
    assert not [f for f in alone["findings"] if "pdftotext" in f["message"]]
    # without poppler the stamps' placement over the page's own text is said to be unchecked
    assert [f for f in alone["findings"] if "poppler-utils not installed" in f["message"]]
    for pdf in ("clinical-validation-report.pdf", "model-card.pdf"):
        pdfsig = subprocess.run(
            ["pdfsig", str(project / "reports" / pdf)], capture_output=True, text=True
        )
        assert "Signature is Valid." in pdfsig.stdout, pdfsig.stdout
        assert "Total document signed" in pdfsig.stdout

    skops = project / "models/model/model.skops"
    skops.chmod(0o644)
    data = bytearray(skops.read_bytes())
    data[len(data) // 2] ^= 0xFF
    skops.unlink()  # DVC may have linked it from the cache; never write through to the cache
    skops.write_bytes(bytes(data))
    after = run(["samdkit", "verify", "--format", "json"], project, check=False)
    assert after.returncode == 1
    failed = [f for f in json.loads(after.stdout)["findings"] if f["severity"] == "error"]
    assert any("models/model/model.skops" in (f["file"] or "") + f["message"] for f in failed), (
        failed
    )
    lock = run(["samdkit", "verify-lock"], project, check=False)
    assert lock.returncode == 1 and "model.skops" in lock.stdout
