"""The generated project's release workflow run for real with act: it calls samdkit's reusable release
workflow (.github/workflows/release-evidence.yml, mapped to this checkout like the actions).

Shares the act harness of tests/test_ci_bundle.py (its ci_project fixture, run_act, step_failed and the
stand-ins in tests/ci_stubs/). The release is signed with a real (throwaway) PKCS#12 passed as act secrets,
never with the demo key; `gh release create` is recorded by a stand-in, so the tests assert what would be
published, and that nothing is published when an acceptance criterion fails. The attestation step cannot
reach GitHub under act and is skipped there (tests/test_ci_bundle.py checks it statically).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import test_ci_bundle
from tests.conftest import git, run
from tests.test_ci_bundle import calls, run_act, step_failed

pytestmark = pytest.mark.slow

RELEASE = ".github/workflows/release.yml"
TAG = "v0.1.0"
PASSWORD = "rel-Pa55-do-not-print"
SIGNED_PDFS = ("reports/clinical-validation-report.pdf", "reports/model-card.pdf")

# the PR tests' fixture (baked, dvc repro, local DVC remote, committed), set up once for this module
ci_project = test_ci_bundle.ci_project


@pytest.fixture(scope="module")
def signing_secrets() -> dict[str, str]:
    """A throwaway PKCS#12 (self-signed EC key), as the two repository secrets release.yml reads."""
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    from samdkit.release.keys import make_self_signed

    key, cert = make_self_signed("Release Manager")
    blob = pkcs12.serialize_key_and_certificates(
        b"rm", key, cert, None, BestAvailableEncryption(PASSWORD.encode())
    )
    return {
        "SAMDKIT_SIGNING_P12_BASE64": base64.b64encode(blob).decode(),
        "SAMDKIT_SIGNING_PASSWORD": PASSWORD,
    }


def release(project: Path, work: Path, secrets: dict[str, str]) -> tuple[int, str, Path]:
    git(project, "tag", "-f", TAG)
    payload = {"ref": f"refs/tags/{TAG}", "ref_name": TAG}
    return run_act(project, work, event="push", workflow=RELEASE, payload=payload, secrets=secrets)


def copy_project(ci_project: dict, dest: Path) -> Path:
    shutil.copytree(ci_project["project"], dest, symlinks=True)
    return dest


def test_release_publishes_signed_verified_evidence(ci_project, signing_secrets, tmp_path):
    code, log, record = release(ci_project["project"], tmp_path, signing_secrets)
    assert code == 0, log[-8000:]
    assert PASSWORD not in log and signing_secrets["SAMDKIT_SIGNING_P12_BASE64"][:40] not in log

    # the evidence artifact handed from the gated job to the publishing job
    evidence = tmp_path / "artifacts" / "release-evidence"
    for name in ("release/manifest.json", "release/manifest.json.p7s", "model.lock", *SIGNED_PDFS):
        assert (evidence / name).is_file(), name
    for pdf in SIGNED_PDFS:
        out = subprocess.run(["pdfsig", str(evidence / pdf)], capture_output=True, text=True)
        assert "Signature #1" in out.stdout and "Signature is Valid" in out.stdout, out.stdout
        assert "Release Manager" in out.stdout  # the key from the secrets, not the demo key
    # the signed manifest names the signed PDFs and the lock with the digests of the files published
    files = json.loads((evidence / "release/manifest.json").read_text())["files"]
    for name in (*SIGNED_PDFS, "model.lock"):
        digest = hashlib.sha256((evidence / name).read_bytes()).hexdigest()
        assert files[name]["sha256"] == digest, name

    # published: exactly one `gh release create` for the tag with the evidence files; attested first
    [call] = [c for c in calls(record) if c["name"] == "gh"]
    argv = call["argv"]
    assert argv[:3] == ["release", "create", TAG] and "--verify-tag" in argv
    files = [a for a in argv if a.startswith("evidence/")]
    for name in ("release/manifest.json", "release/manifest.json.p7s", "model.lock", *SIGNED_PDFS):
        assert f"evidence/{name}" in files, (name, files)
    # built by samdkit's reusable workflow; its attestation step is skipped under act only (no GitHub OIDC)
    assert "attest build provenance" in log
    assert not (record / "attest.txt").exists()


def test_release_with_a_failed_acceptance_criterion_publishes_nothing(
    ci_project, signing_secrets, tmp_path
):
    project = copy_project(ci_project, tmp_path / "p")
    requirements = project / "compliance" / "requirements.yaml"
    text = requirements.read_text()
    block = text.index("id: REQ-PERF-003")
    start = text.index("threshold: 0.90", block)
    requirements.write_text(
        text[:start] + "threshold: 0.999" + text[start + len("threshold: 0.90") :]
    )
    # dvc.lock re-recorded for the edited requirement, so the pipeline step is green and the
    # evaluation step has to catch it
    run(["dvc", "commit", "-f", "-q"], project)
    git(project, "commit", "-qam", "raise the specificity bar")
    code, log, record = release(project, tmp_path / "act", signing_secrets)
    assert code != 0
    assert step_failed(log, "Evaluation and acceptance criteria"), log[-8000:]
    assert not step_failed(log, "Pipeline (dvc pull"), log[-8000:]
    # nothing signed, attested or published
    assert not (record / "calls.jsonl").exists() or not [
        c for c in calls(record) if c["name"] == "gh"
    ]
    assert not (record / "attest.txt").exists()
    assert not (tmp_path / "act" / "artifacts" / "release-evidence").exists()
    assert not step_failed(log, "Sign (PAdES)") and "samdkit sign" not in log
