"""A fresh attacker's and auditor's pass over the finished release chain (sign, verify, report), through
the real CLI: each test is an attack that got through (or crashed, or leaked) before its fix.

- a file name in the model folder with a line break and terminal escapes drew a fake "PASS" verdict line
  and concealed the real one in verify's text output;
- JSON nested a few thousand deep (the manifest, the evidence-digests attachment) was an internal error
  (RecursionError, exit 3) instead of bad input / a FAIL naming the file;
- an evidence-digests attachment swapped in by an unsigned update was the one verify compared ("0 digests
  match", PASS) instead of the one the signer signed; an attachment naming no file was a silent PASS;
- a hand-edited model.lock digest holding a patient-looking value reached stderr through the SBOM
  validator's message.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.test_signing import REPORT, make_project, pins, samdkit

PATIENT = "Jane Doe MRN 12345678"
HOSTILE = (
    "x\x1b[1A\x1b[2K\rPASS    [model-signature] fine\nsamdkit verify: PASS (checks: 7)\x1b[8m\u202e"
)
VERDICT = "samdkit verify: "


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    """One release signed once: the genuine report and card, plus PDFs whose evidence-digests
    attachment is empty or nested too deeply (attached before signing, so signed)."""
    from weasyprint import HTML, Attachment

    root = make_project(tmp_path_factory.mktemp("stop23") / "proj")
    bodies = {
        "empty": json.dumps({"schema": "samdkit/evidence-digests/v1", "files": {}}),
        "deep": "[" * 20000 + "]" * 20000,
    }
    for case, body in bodies.items():
        attachment = Attachment(string=body, name="evidence-digests.json", base_url=str(root))
        HTML(string=f"<h1>case {case}</h1>").write_pdf(
            root / f"reports/case-{case}.pdf", pdf_variant="pdf/a-3b", attachments=[attachment]
        )
    pdfs = [REPORT, "reports/model-card.pdf", "reports/case-empty.pdf", "reports/case-deep.pdf"]
    (root / "pyproject.toml").write_text(f"[tool.samdkit.sign]\npdfs = {json.dumps(pdfs)}\n")
    done = samdkit(root, "sign", "--demo")
    assert done.returncode == 0, done.stderr
    return root


@pytest.fixture
def release(cases, tmp_path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(cases, root)
    return root


def _clean(text: str) -> None:
    """No terminal escape, other control character (but the line breaks between lines) or bidi
    override reaches the auditor's screen."""
    bad = [ch for ch in text if (ord(ch) < 32 and ch != "\n") or 0x7F <= ord(ch) <= 0x9F]
    bad += [ch for ch in text if ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"]
    assert not bad, sorted(set(bad))


def test_a_hostile_file_name_cannot_draw_a_fake_line_or_hide_the_verdict(release):
    (release / "models/model" / HOSTILE).write_text("planted after signing")
    done = samdkit(release, "verify", *pins(release))
    assert done.returncode == 1, done.stdout + done.stderr
    _clean(done.stdout + done.stderr)
    lines = done.stdout.splitlines()
    assert [ln for ln in lines if ln.startswith(VERDICT)] == [lines[-1]]
    assert lines[-1].startswith("samdkit verify: FAIL")
    assert all(ln.split(" ", 1)[0] in ("PASS", "ERROR", "WARNING") for ln in lines[:-1]), lines
    planted = [ln for ln in lines if "not covered by the signature" in ln]
    assert planted and planted[0].startswith("ERROR"), lines
    assert "\\x1b[8m" in planted[0] and "\\n" in planted[0]  # shown, not obeyed
    envelope = samdkit(release, "verify", "--format", "json", *pins(release))
    # what `jq -r` would print: every string of the envelope, decoded
    _clean("\n".join(_strings(json.loads(envelope.stdout))))


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_deeply_nested_manifest_is_bad_input_not_an_internal_error(release):
    (release / "release/manifest.json").write_text("[" * 100000 + "]" * 100000)
    done = samdkit(release, "verify", *pins(release))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "samdkit verify: error: release/manifest.json: not JSON samdkit wrote (nested too deeply)"
    ]


def test_empty_or_deeply_nested_digests_attachment_is_named_never_a_crash(release):
    done = samdkit(release, "verify", *pins(release))
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    deep = [ln for ln in lines if "reports/case-deep.pdf  [report-digests]" in ln]
    assert deep == [
        "ERROR   reports/case-deep.pdf  [report-digests] malformed evidence digests: "
        "evidence-digests.json: not JSON samdkit wrote (nested too deeply)"
    ]
    empty = [ln for ln in lines if "reports/case-empty.pdf  [report-digests]" in ln]
    assert empty == [
        "WARNING reports/case-empty.pdf  [report-digests] evidence-digests.json names no file: "
        "the document's digests were not checked"
    ]
    genuine = [ln for ln in lines if f"{REPORT}  [report-digests]" in ln]
    assert genuine == [
        f"PASS    {REPORT}  [report-digests] 3 digests in evidence-digests.json match the files"
    ]


def _swap_attachment(pdf: Path, body: bytes) -> None:
    """An unsigned incremental update that redefines the evidence-digests stream."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    with open(pdf, "rb") as handle:
        writer = IncrementalPdfFileWriter(handle)
        names = writer.root["/Names"]["/EmbeddedFiles"].get_object()["/Names"]
        items = list(names)
        spec = dict(zip([str(k) for k in items[::2]], items[1::2], strict=True))
        ref = spec["evidence-digests.json"].get_object()["/EF"].raw_get("/F")
        stream = generic.StreamObject(
            {generic.NameObject("/Type"): generic.NameObject("/EmbeddedFile")}, stream_data=body
        )
        writer.mark_update(ref)
        writer.objects[(ref.generation, ref.idnum)] = stream
        out = pdf.with_suffix(".new")
        with open(out, "wb") as target:
            writer.write(target)
    out.replace(pdf)


def test_an_attachment_swapped_in_after_signing_is_not_the_one_compared(release):
    _swap_attachment(release / REPORT, b'{"files": {}, "schema": "samdkit/evidence-digests/v1"}')
    done = samdkit(release, "verify", *pins(release))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert any(ln.startswith(f"ERROR   {REPORT}  [pdf-signature] modified:") for ln in lines)
    digests = [ln for ln in lines if f"{REPORT}  [report-digests]" in ln]
    # the digests the signer signed, still matching the files; not the empty table swapped in
    assert digests == [
        f"PASS    {REPORT}  [report-digests] 3 digests in evidence-digests.json match the files"
    ]


def test_a_patient_value_in_a_lock_digest_never_reaches_the_report_output(project_copy):
    from tests.conftest import project_env, run

    lock = json.loads((project_copy / "model.lock").read_text())
    lock["artifact"]["root_digest"] = PATIENT
    (project_copy / "model.lock").write_text(json.dumps(lock, indent=2))
    before = {p: p.read_bytes() for p in (project_copy / "reports").glob("*.pdf")}
    done = run(["samdkit", "report"], project_copy, check=False, env=project_env(project_copy))
    assert done.returncode in (2, 3), done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    for fragment in ("Jane", "Doe", "12345678"):
        assert fragment not in done.stdout + done.stderr
    assert {p: p.read_bytes() for p in before} == before  # previous outputs intact


def test_megabytes_appended_after_signing_fail_without_being_parsed(release):
    """pyHanko's reader scans bytes after the last %%EOF one by one in Python: 200 MB of appended
    zeros took verify 5 minutes and 2 GB. Beyond 1 MiB they fail the file unparsed."""
    card = release / "reports/model-card.pdf"
    auditor = pins(release)
    with open(card, "ab") as handle:
        handle.write(b"\0" * (3 << 20))
    done = samdkit(release, "verify", *auditor)
    assert done.returncode == 1, done.stdout + done.stderr
    tail = f"{3 << 20} bytes after the last %%EOF belong to no revision (appended after signing)"
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("ERROR   reports/model-card")]
    assert lines[0].startswith("ERROR   reports/model-card.pdf  [manifest-file] modified:")
    assert lines[0].endswith(f"; {tail}")
    assert lines[1:] == [
        "ERROR   reports/model-card.pdf  [pdf-signature] modified: changed after signing: "
        f"{tail}; not parsed further"
    ]
