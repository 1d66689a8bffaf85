"""The rebuild verdict as honest evidence (issue 16), and the readers' small leftovers.

reports/rebuild.json is a claim the team's `samdkit verify-lock --rebuild` recorded, not a check the
report or `samdkit sign` re-runs. So the report and the model card say whose claim it is, when, and how
an auditor confirms it; the report prints the file's SHA-256 (and attaches it for verify); `samdkit sign`
seals the file in the manifest, so an edit after signing fails `samdkit verify`.

Leftovers: model.lock is validated before it is written; the PR comment reads the base's lock strictly
(one line, never a traceback, never its content); the evidence-digests reader names a bad entry by
position, never quoting it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from samdkit.core.errors import UserError
from samdkit.lock import rebuild

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data" / "report"
ROOT = "3f5a0c4e1d2b6a7980c1e2f3a4b5c6d7e8f90123456789abcdef0123456789ab"  # tests/data/report lock
COMMIT = "d" * 40
POPPLER = pytest.mark.skipif(
    not (shutil.which("pdfsig") and shutil.which("pdftotext") and shutil.which("pdfdetach")),
    reason="poppler-utils needed",
)


def _project(root: Path):
    from samdkit.core.project import load_project

    if not (root / "pyproject.toml").exists():
        (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    return load_project(root)


def _verdict(root: Path, verdict: str = rebuild.REPRODUCED, lock_root: str = ROOT) -> Path:
    summary = {"commit": COMMIT, "expected_root_digest": lock_root, "root_digest": lock_root}
    return rebuild.write_verdict(_project(root), verdict, summary, "verify-lock")


# --------------------------------------------------------------------------- describe(): whose claim


def test_the_verdict_text_says_whose_claim_it_is_when_and_how_to_confirm_it(tmp_path):
    path = _verdict(tmp_path)
    checked = json.loads(path.read_text())["checked_utc"]
    text = rebuild.describe(_project(tmp_path), {"artifact": {"root_digest": ROOT}})["text"]
    assert text == (
        f"reproduced: the model rebuilt from commit {COMMIT[:12]} is bit-identical — recorded by "
        f"the team's rebuild check (reports/rebuild.json, {checked}, commit {COMMIT[:12]}); "
        "not re-run at signing: an auditor confirms it with samdkit verify --rebuild"
    )


def test_not_run_says_how_to_run_it(tmp_path):
    lock = {"artifact": {"root_digest": ROOT}}
    text = rebuild.describe(_project(tmp_path), lock)["text"]
    assert text.startswith(
        "rebuild check not run for this model: run samdkit verify-lock --rebuild"
    )
    assert "samdkit verify --rebuild" in text
    _verdict(tmp_path, lock_root="e" * 64)  # a verdict about another model is not this one's
    other = rebuild.describe(_project(tmp_path), lock)
    assert other["verdict"] == "not run"
    assert "(reports/rebuild.json is about another)" in other["text"]


def test_describe_states_the_record_the_report_read_not_a_second_read(tmp_path):
    """The report prints the digest of the bytes it read: describe() takes that record."""
    path = _verdict(tmp_path, rebuild.FAILED)
    record = rebuild.read_result(path)
    path.unlink()
    lock = {"artifact": {"root_digest": ROOT}}
    assert rebuild.describe(_project(tmp_path), lock, record)["verdict"] == rebuild.FAILED
    assert rebuild.describe(_project(tmp_path), lock, None)["verdict"] == "not run"


# --------------------------------------------------------------------------- the report and the card


def _pdftotext(pdf: Path) -> str:
    done = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
    return " ".join(done.stdout.split())  # table cells wrap: compare the words


def _attached_digests(pdf: Path, tmp_path: Path) -> dict[str, str]:
    from samdkit.release import report_digests

    out = tmp_path / "attached.json"
    subprocess.run(
        ["pdfdetach", "-savefile", report_digests.ATTACHMENT, "-o", str(out), str(pdf)], check=True
    )
    return report_digests.parse(out.read_bytes(), report_digests.ATTACHMENT)


@pytest.fixture(scope="module")
def reported(tmp_path_factory, predictions) -> Path:
    """tests/test_report.py's evidence set with a rebuild verdict for its model, reported once."""
    from samdkit.cli import main
    from tests.test_report import EPOCH, populate

    root = populate(tmp_path_factory.mktemp("honest"), predictions)
    _verdict(root)
    old, epoch = Path.cwd(), os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = EPOCH
    os.chdir(root)
    try:
        assert main(["evaluate", "--no-mlflow"]) == 0
        assert main(["report"]) == 0
    finally:
        os.chdir(old)
        if epoch is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = epoch
    return root


@POPPLER
def test_report_and_card_state_the_claim_and_the_report_prints_its_digest(reported, tmp_path):
    checked = json.loads((reported / "reports/rebuild.json").read_text())["checked_utc"]
    claim = (
        f"recorded by the team's rebuild check (reports/rebuild.json, {checked}, "
        f"commit {COMMIT[:12]}); not re-run at signing: "
        "an auditor confirms it with samdkit verify --rebuild"
    )
    report = _pdftotext(reported / "reports/clinical-validation-report.pdf")
    assert f"reproduced: the model rebuilt from commit {COMMIT[:12]} is bit-identical" in report
    assert claim in report
    card = _pdftotext(reported / "reports/model-card.pdf")
    assert "Rebuild from the commit" in card and claim in card
    markdown = " ".join((reported / "reports/model-card.md").read_text().split())
    assert "rebuild from the commit | reproduced: the model rebuilt" in markdown
    assert claim in markdown
    # the report binds its statement to the file: digest printed in section 14 and attached
    digest = hashlib.sha256((reported / "reports/rebuild.json").read_bytes()).hexdigest()
    assert digest in report
    attached = _attached_digests(reported / "reports/clinical-validation-report.pdf", tmp_path)
    assert attached["reports/rebuild.json"] == digest
    # ... and embeds the claim itself, byte for byte, for an auditor to read from the signed PDF
    out = tmp_path / "embedded-rebuild.json"
    subprocess.run(
        ["pdfdetach", "-savefile", "rebuild.json", "-o", str(out),
         str(reported / "reports/clinical-validation-report.pdf")],
        check=True,
    )  # fmt: skip
    assert out.read_bytes() == (reported / "reports/rebuild.json").read_bytes()
    assert "Embedded files: evaluation.json, data-check.json, model.lock, rebuild.json," in report


def test_a_hand_written_verdict_stops_the_report_naming_the_field(reported, tmp_path, capsys):
    from samdkit.cli import main

    root = tmp_path / "p"
    shutil.copytree(reported, root)
    (root / "reports/rebuild.json").write_text(json.dumps({"verdict": "reproduced"}))
    old = Path.cwd()
    os.chdir(root)
    try:
        assert main(["report"]) == 2
    finally:
        os.chdir(old)
    assert "reports/rebuild.json: not a samdkit rebuild verdict" in capsys.readouterr().err


# --------------------------------------------------------------------------- sign seals it


def _pdfs_with_verdict(root: Path) -> None:
    """test_signing's two PDFs, the report's evidence-digests also naming reports/rebuild.json."""
    from weasyprint import HTML, Attachment

    from samdkit.release import report_digests
    from tests.test_signing import CARD, MODEL_FILE, REPORT, write_pdfs

    write_pdfs(root)
    files = ["model.lock", MODEL_FILE, "reports/rebuild.json"]
    digests = {f: hashlib.sha256((root / f).read_bytes()).hexdigest() for f in files}
    rows = "".join(f"<p>{f} {d}</p>" for f, d in digests.items())
    attachment = Attachment(
        string=report_digests.dumps(digests).decode(), name=report_digests.ATTACHMENT
    )
    HTML(string=f"<h1>Report</h1>{rows}").write_pdf(
        root / REPORT, pdf_variant="pdf/a-3b", attachments=[attachment]
    )
    assert (root / CARD).is_file()


@pytest.fixture(scope="module")
def sealed(tmp_path_factory) -> Path:
    from tests.test_signing import make_project, samdkit

    root = make_project(tmp_path_factory.mktemp("sealed") / "proj")
    _verdict(root, rebuild.FAILED)
    _pdfs_with_verdict(root)
    done = samdkit(root, "sign", "--demo", "--name", "CI Pipeline")
    assert done.returncode == 0, done.stderr
    return root


@POPPLER
def test_sign_seals_the_verdict_and_verify_detects_an_edit(sealed, tmp_path):
    from tests.test_signing import pins, samdkit

    manifest = json.loads((sealed / "release/manifest.json").read_text())
    path = sealed / "reports/rebuild.json"
    assert manifest["files"]["reports/rebuild.json"]["sha256"] == (
        hashlib.sha256(path.read_bytes()).hexdigest()
    )
    root = tmp_path / "proj"
    shutil.copytree(sealed, root)
    assert samdkit(root, "verify", *pins(root)).returncode == 0
    # the team turns its recorded FAIL into "reproduced" after signing
    record = json.loads((root / "reports/rebuild.json").read_text())
    record["verdict"] = rebuild.REPRODUCED
    (root / "reports/rebuild.json").write_text(json.dumps(record))
    done = samdkit(root, "verify", *pins(root))
    assert done.returncode == 1, done.stdout
    lines = done.stdout.splitlines()
    assert any(
        "reports/rebuild.json" in ln and "[manifest-file]" in ln and "modified" in ln
        for ln in lines
    ), done.stdout
    assert any(
        ln.startswith("ERROR") and "[report-digests]" in ln and "for reports/rebuild.json" in ln
        for ln in lines
    ), done.stdout


@POPPLER
def test_sign_refuses_a_verdict_file_that_is_not_one_before_writing(tmp_path):
    from tests.test_signing import REPORT, make_project, samdkit

    root = make_project(tmp_path / "proj")
    (root / "reports/rebuild.json").write_text('{"verdict": "reproduced"}')
    before = (root / REPORT).read_bytes()
    done = samdkit(root, "sign", "--demo", "--name", "CI Pipeline")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "reports/rebuild.json: not a samdkit rebuild verdict" in lines[0]
    assert (root / REPORT).read_bytes() == before
    assert not (root / "release/manifest.json").exists()


# --------------------------------------------------------------------------- leftovers


def _valid_lock() -> dict:
    return json.loads((DATA / "model.lock").read_text())


def test_lock_write_refuses_what_the_reader_refuses_and_keeps_the_previous_lock(tmp_path):
    from samdkit.lock import schema as lockfile

    path = tmp_path / "model.lock"
    lockfile.write(path, _valid_lock())
    before = path.read_bytes()
    assert lockfile.read(path) == _valid_lock()
    for edit, field in (
        (lambda d: d.pop("artifact"), "'artifact' is missing"),
        (lambda d: d["determinism"].update(runs=1), "determinism.runs"),
        (lambda d: d["artifact"].update(root_digest="not-hex"), "artifact.root_digest"),
    ):
        lock = _valid_lock()
        edit(lock)
        with pytest.raises(UserError, match=field.replace(".", r"\.")):
            lockfile.write(path, lock)
        assert path.read_bytes() == before


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", *args],
        cwd=root, check=True, capture_output=True,
    )  # fmt: skip


def _comment_with_base_lock(tmp_path: Path, base_lock: bytes) -> subprocess.CompletedProcess:
    from tests.test_signing import samdkit

    root = tmp_path / "p"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (root / "model.lock").write_bytes(base_lock)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base")
    shutil.copy(DATA / "model.lock", root / "model.lock")
    return samdkit(root, "comment", "--base", "HEAD")


@pytest.mark.parametrize(
    ("base_lock", "why"),
    [
        # a valid lock but for one byte: "replace" decoding read it and showed its history
        (
            (DATA / "model.lock")
            .read_bytes()
            .replace(b'"samdkit_version": "', b'"samdkit_version": "MRN-4711-\xff', 1),
            "HEAD:model.lock: malformed lock: not UTF-8 text",
        ),
        (b'{"schema_version": 1, "note": "MRN-4711"}', "HEAD:model.lock: malformed lock"),
        (b"MRN-4711,0.93\n", "HEAD:model.lock: malformed lock (not JSON"),
    ],
)
def test_comment_says_history_unavailable_for_a_base_lock_it_cannot_read(tmp_path, base_lock, why):
    done = _comment_with_base_lock(tmp_path, base_lock)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    text = (tmp_path / "p" / "reports" / "pr-comment.md").read_text()
    notes = [ln for ln in text.splitlines() if "history unavailable" in ln]
    assert len(notes) == 1 and why in notes[0], text
    assert "MRN-4711" not in text + done.stdout + done.stderr


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"files": {"reports/MRN-4711.json": "x" * 64}}, "files (entry #1): not a lowercase"),
        ({"files": {"a": "0" * 64, "../MRN-4711": "0" * 64}}, "files (entry #2): has an empty"),
        ({"schema": "MRN-4711", "files": {}}, "schema: not samdkit/evidence-digests/v1"),
        ({"files": {}, "MRN-4711": 1}, "a field whose name is not a plain identifier: unknown"),
    ],
)
def test_evidence_digests_errors_name_the_field_never_quote_it(doc, expected):
    from samdkit.release import report_digests

    data = {"schema": report_digests.SCHEMA, **doc}
    with pytest.raises(UserError) as caught:
        report_digests.parse(json.dumps(data).encode(), report_digests.ATTACHMENT)
    assert f"evidence-digests.json: {expected}" in str(caught.value)
    assert "MRN-4711" not in str(caught.value)


def test_a_repeated_key_is_named_by_position_never_quoted():
    from samdkit.release import report_digests

    data = b'{"schema": "samdkit/evidence-digests/v1", "files": {"MRN-4711": "a", "MRN-4711": "b"}}'
    with pytest.raises(UserError) as caught:
        report_digests.parse(data, report_digests.ATTACHMENT)
    assert "duplicate key #2 of an object" in str(caught.value)
    assert "MRN-4711" not in str(caught.value)
