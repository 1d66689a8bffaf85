"""The release's strict readers (issue 18): the evidence-digests attachment, the release manifest and the
record of an interrupted sign, each read by exactly one reader that names the field it refuses.

Every hole the old guessing readers left is an attacker-style case here: a JSON attachment that is not the
evidence-digests one, an evidence-digests document with a `../` path, a non-hex digest, extra keys, a nested
object that looks like {path, sha256}, duplicate keys, two attachments of the same name; a manifest with a
wrong type; a hand-edited pending record naming a file outside the project. The end-to-end cases sign real
weasyprint PDFs with `samdkit sign --demo` and run `samdkit verify` in a subprocess, as an auditor would.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from samdkit.core.errors import UserError
from samdkit.release import manifest as mf
from samdkit.release import report_digests as rd
from tests.test_signing import CARD, MODEL_FILE, REPORT, make_project, pdfsig, pins, samdkit

HEX = "ab" * 32
POPPLER = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("pdfsig", "pdftotext", "pdfdetach")),
    reason="poppler-utils needed",
)
OTHER = "cd" * 32


def v1(files: object, **extra: object) -> bytes:
    return json.dumps({"schema": rd.SCHEMA, "files": files, **extra}).encode()


# ---------------------------------------------------------------- report_digests: writer and reader


def test_dumps_is_stable_and_parse_reads_it_back():
    data = rd.dumps({"model.lock": HEX, "models/model/model.skops": OTHER})
    assert data == rd.dumps({"models/model/model.skops": OTHER, "model.lock": HEX})
    doc = json.loads(data)
    assert doc == {
        "schema": "samdkit/evidence-digests/v1",
        "files": {"model.lock": HEX, "models/model/model.skops": OTHER},
    }
    assert rd.parse(data, "x") == {"model.lock": HEX, "models/model/model.skops": OTHER}


@pytest.mark.parametrize(
    ("digests", "field"),
    [
        ({"../outside.json": HEX}, "files (entry #1)"),
        ({"a.json": HEX, "/etc/passwd": HEX}, "files (entry #2)"),
        ({"reports/eval.json": "not-hex"}, "files (entry #1)"),
    ],
)
def test_dumps_refuses_what_parse_would_refuse(digests, field):
    with pytest.raises(UserError) as caught:
        rd.dumps(digests)
    assert str(caught.value).startswith(f"evidence-digests.json: {field}: ")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (v1({"../model.lock": HEX}), r"files \(entry #1\): has an empty"),
        (v1({"a/./b": HEX}), r"files \(entry #1\): has an empty"),
        (v1({"C:/model.lock": HEX}), r"files \(entry #1\): not a relative POSIX path"),
        (v1({"a\\b": HEX}), r"not a relative POSIX path"),
        (v1({"model.lock": "z" * 64}), r"files \(entry #1\): not a lowercase 64-hex"),
        (v1({"model.lock": HEX.upper()}), r"files \(entry #1\): not a lowercase 64-hex"),
        (v1({"model.lock": "sha256:" + HEX}), r"not a lowercase 64-hex"),
        (v1({"model.lock": HEX}, note="x"), r": note: unknown field"),
        (v1([{"path": "model.lock", "sha256": HEX}]), r": files: not a table"),
        (  # a nested object that looks like {path, sha256} is not a digest
            v1({"reports/x.json": {"path": "model.lock", "sha256": HEX}}),
            r"files \(entry #1\): not a lowercase 64-hex",
        ),
        (json.dumps({"files": {"model.lock": HEX}}).encode(), r": schema: missing"),
        (json.dumps({"model.lock": HEX}).encode(), r": schema: missing"),  # a flat table
        (
            json.dumps({"schema": "samdkit/evidence-digests/v2", "files": {}}).encode(),
            r"schema: not samdkit/evidence-digests/v1 \(an unknown schema\)",
        ),
        (json.dumps({"schema": rd.SCHEMA}).encode(), r": files: missing"),
        (  # json.loads would keep the second, matching value silently
            b'{"schema": "samdkit/evidence-digests/v1", "files": {"model.lock": "'
            + HEX.encode()
            + b'", "model.lock": "'
            + OTHER.encode()
            + b'"}}',
            r"duplicate key #2 of an object",  # named by position: not quoted
        ),
        (b'{"schema": "samdkit/evidence-digests/v1", "files": NaN}', r"NaN is not JSON"),
        (b"\xff\xfe", r"not JSON"),
        (b'"just a string"', r"not an evidence-digests document \(a str\)"),
        # the legacy list (samdkit 0.1.0), read as strictly
        ([{"path": "model.lock", "sha256": HEX}], r"\[0\]: not an object with exactly"),
        (
            [{"subject": "s", "path": "m", "sha256": HEX, "extra": {"path": "m", "sha256": HEX}}],
            r"\[0\]: not an object with exactly subject, path, sha256",
        ),
        ([{"subject": "s", "path": "../m", "sha256": HEX}], r"\[0\]\.path: has an empty"),
        ([{"subject": "s", "path": "m", "sha256": 5}], r"\[0\]\.sha256: not a lowercase"),
        ([{"subject": 1, "path": "m", "sha256": HEX}], r"\[0\]\.subject: not a string"),
        (
            [
                {"subject": "a", "path": "m", "sha256": HEX},
                {"subject": "b", "path": "m", "sha256": OTHER},
            ],
            r"\[1\]\.path: listed twice with different digests",
        ),
    ],
)
def test_parse_refuses_every_guessable_shape_naming_the_field(data, message):
    if isinstance(data, list):
        data = json.dumps(data).encode()
    with pytest.raises(UserError, match=r"^where: ") as caught:
        rd.parse(data, "where")
    assert re.search(message, f": {str(caught.value).removeprefix('where: ')}"), caught.value


def test_legacy_list_is_read_strictly_and_the_root_digest_is_no_file():
    legacy = [
        {"subject": "model root digest (model.lock)", "path": None, "sha256": HEX},
        {"subject": "Model lock", "path": "model.lock", "sha256": OTHER},
    ]
    assert rd.parse(json.dumps(legacy).encode(), "x") == {"model.lock": OTHER}


# ---------------------------------------------------------------- manifest: the one strict reader


def _manifest(tmp_path: Path) -> dict:
    (tmp_path / "a.bin").write_bytes(b"a")
    return mf.build(tmp_path, [tmp_path / "a.bin"], signer_sha256=HEX)


def test_manifest_build_validates(tmp_path):
    doc = _manifest(tmp_path)
    assert mf.validate(json.loads(mf.dumps(doc)), "m") == doc
    unsigned = mf.build(tmp_path, [tmp_path / "a.bin"])  # verify --rebuild's test manifests
    assert "signer_sha256" not in unsigned and mf.validate(unsigned, "m") == unsigned


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["files"]["a.bin"].update(size="1"), r'files\["a\.bin"\]\.size: not a byte'),
        (lambda d: d["files"]["a.bin"].update(size=True), r'files\["a\.bin"\]\.size: not a byte'),
        (lambda d: d["files"]["a.bin"].update(size=-1), r"\.size: not a byte count"),
        (lambda d: d["files"]["a.bin"].update(sha256=HEX.upper()), r"\.sha256: not a lowercase"),
        (lambda d: d["files"]["a.bin"].pop("size"), r'files\["a\.bin"\]\.size: missing'),
        (lambda d: d["files"]["a.bin"].update(md5="x"), r'files\["a\.bin"\]\.md5: unknown field'),
        (lambda d: d["files"]["a.bin"].update(link_target="../x"), r"\.link_target: has an"),
        (lambda d: d["files"].update({"a.bin": HEX}), r'files\["a\.bin"\]: not an object'),
        (lambda d: d["files"].update({"../b": {"sha256": HEX, "size": 1}}), r'files\["\.\./b"\]'),
        (lambda d: d.update(files=[]), r": files: not a non-empty table"),
        (lambda d: d.update(files={}), r": files: not a non-empty table"),
        (lambda d: d.update(signer_sha256="abc"), r": signer_sha256: not a lowercase"),
        (lambda d: d.update(commit=7), r": commit: not a string or null"),
        (lambda d: d.update(hash_algorithm="md5"), r': hash_algorithm: "md5" is not sha256'),
        (lambda d: d.update(created_utc="yesterday"), r": created_utc: not a UTC time"),
        (lambda d: d.pop("generator"), r": generator: missing"),
        (lambda d: d.update(trusted=True), r": trusted: unknown field"),
        (lambda d: d.update(format="samdkit-release-manifest/2"), r': format: "samdkit-release'),
        (lambda d: d.pop("format"), r": format: missing"),
    ],
)
def test_manifest_validate_names_the_field(tmp_path, edit, message):
    doc = _manifest(tmp_path)
    edit(doc)
    with pytest.raises(UserError, match=r"^release/manifest\.json: ") as caught:
        mf.validate(doc, "release/manifest.json")
    text = str(caught.value).removeprefix("release/manifest.json")
    assert re.search(message, text), caught.value


def test_manifest_read_refuses_duplicate_keys_and_non_json(tmp_path):
    path = tmp_path / "manifest.json"
    text = mf.dumps(_manifest(tmp_path)).decode()
    path.write_text(text.replace('"files": {', f'"signer_sha256": "{OTHER}",\n  "files": {{', 1))
    with pytest.raises(UserError, match='duplicate key "signer_sha256"'):
        mf.read(path)
    path.write_text("{not json")
    with pytest.raises(UserError, match="not JSON"):
        mf.read(path)


# ---------------------------------------------------------------- end to end: signed PDFs, verify


CASES = {
    # name: (attachments [(file name, bytes)], what the page prints, expected line fragments)
    "good": ([(rd.ATTACHMENT, "GOOD")], "", ("PASS", "1 digests in evidence-digests.json match")),
    # the old reader took any JSON attachment when evidence-digests.json was absent, and skipped the
    # printed digests: a look-alike "digests.json" with matching pairs covered a stale printed digest
    "lookalike": ([("digests.json", "GOOD")], "STALE", ("ERROR", "matches no release file")),
    # ... and matched the name case-insensitively
    "uppercase": ([("EVIDENCE-DIGESTS.JSON", "GOOD")], "STALE", ("ERROR", "matches no release")),
    "dotdot": ([(rd.ATTACHMENT, "DOTDOT")], "", ("ERROR", "files (entry #1): has an empty")),
    "nonhex": ([(rd.ATTACHMENT, "NONHEX")], "", ("ERROR", "not a lowercase 64-hex SHA-256")),
    "extra": ([(rd.ATTACHMENT, "EXTRA")], "", ("ERROR", "evidence-digests.json: note: unknown")),
    "nested": ([(rd.ATTACHMENT, "NESTED")], "", ("ERROR", "schema: missing")),
    "twice": (
        [(rd.ATTACHMENT, "GOOD"), (rd.ATTACHMENT, "GOOD")],
        "",
        ("ERROR", "attached 2 times"),
    ),
    "legacy": ([(rd.ATTACHMENT, "LEGACY")], "", ("PASS", "1 digests in evidence-digests.json")),
    "stale": ([(rd.ATTACHMENT, "STALE")], "", ("ERROR", f"for {MODEL_FILE}, but the file has")),
    # the old fallback accepted any 64-hex found inside a release JSON/YAML file
    "injson": ([], "INJSON", ("ERROR", "matches no release file")),
}


def _payloads(root: Path) -> dict[str, bytes]:
    model = hashlib.sha256((root / MODEL_FILE).read_bytes()).hexdigest()
    return {
        "GOOD": rd.dumps({MODEL_FILE: model}),
        "STALE": rd.dumps({MODEL_FILE: OTHER}),
        "DOTDOT": v1({"../model.lock": model}),
        "NONHEX": v1({MODEL_FILE: "g" * 64}),
        "EXTRA": v1({MODEL_FILE: model}, note="reviewed"),
        # the shape the old reader walked into: objects that look like {path, sha256}
        "NESTED": json.dumps({"files": [{"path": MODEL_FILE, "sha256": model}]}).encode(),
        "LEGACY": json.dumps(
            [
                {"subject": "model root digest (model.lock)", "path": None, "sha256": HEX},
                {"subject": "Model", "path": MODEL_FILE, "sha256": model},
            ]
        ).encode(),
    }


def _write_case_pdfs(root: Path) -> list[str]:
    from weasyprint import HTML, Attachment

    payloads = _payloads(root)
    model = hashlib.sha256((root / MODEL_FILE).read_bytes()).hexdigest()
    printed = {"": "", "STALE": OTHER, "INJSON": "ef" * 32}
    (root / "reports/evaluation.json").write_text(json.dumps({"note": "ef" * 32}) + "\n")
    names = []
    for case, (attachments, prints, _) in CASES.items():
        rel = f"reports/case-{case}.pdf"
        files = [
            Attachment(string=payloads[kind].decode(), name=name, base_url=str(root))
            for name, kind in attachments
        ]
        body = f"<h1>{case}</h1><p>model</p><p>{printed[prints]}</p><p>file {model[:8]}</p>"
        HTML(string=body).write_pdf(root / rel, pdf_variant="pdf/a-3b", attachments=files)
        names.append(rel)
    return names


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    """One signed release whose PDFs are the attacker cases above (one sign, one verify)."""
    root = make_project(tmp_path_factory.mktemp("readers") / "proj")
    pdfs = _write_case_pdfs(root)
    pdfs = [REPORT, CARD, *pdfs]  # the genuine report and card of tests/test_signing.py too
    (root / "pyproject.toml").write_text(f"[tool.samdkit.sign]\npdfs = {json.dumps(pdfs)}\n")
    done = samdkit(root, "sign", "--demo")
    assert done.returncode == 0, done.stderr
    return root


@pytest.fixture(scope="module")
def verified(cases) -> tuple[int, list[str]]:
    done = samdkit(cases, "verify", *pins(cases))
    assert "Traceback" not in done.stdout + done.stderr
    return done.returncode, done.stdout.splitlines()


@POPPLER
@pytest.mark.parametrize("case", sorted(CASES))
def test_verify_reads_only_the_named_attachment_strictly(verified, case):
    code, lines = verified
    assert code == 1  # some cases fail: the release as a whole fails
    severity, fragment = CASES[case][2]
    mine = [ln for ln in lines if f"reports/case-{case}.pdf  [report-digests]" in ln]
    assert mine, lines
    assert any(ln.startswith(severity) and fragment in ln for ln in mine), mine
    if severity == "PASS":
        assert not any(ln.startswith("ERROR") for ln in mine), mine


@POPPLER
def test_malformed_attachment_is_a_fail_naming_the_field_not_a_crash(verified):
    _, lines = verified
    line = next(ln for ln in lines if "case-dotdot.pdf  [report-digests]" in ln)
    assert line == (
        "ERROR   reports/case-dotdot.pdf  [report-digests] malformed evidence digests: "
        "evidence-digests.json: files (entry #1): has an empty, '.' or '..' component"
    )


@POPPLER
def test_case_pdfs_are_what_poppler_sees_signed_and_attached(cases):
    """pdfsig: each attacker PDF is validly signed (the digests check is what refuses it); pdfdetach
    lists the attachments verify judged (independent of pyHanko's name-tree reading)."""
    for case in ("good", "lookalike", "twice"):
        out = pdfsig(cases / f"reports/case-{case}.pdf")
        assert "Signature is Valid" in out and "Total document signed" in out, out

    def attached(case: str) -> list[str]:
        done = subprocess.run(
            ["pdfdetach", "-list", str(cases / f"reports/case-{case}.pdf")],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return sorted(line.split(": ", 1)[1] for line in done.stdout.splitlines()[1:])

    assert attached("good") == [rd.ATTACHMENT]
    assert attached("lookalike") == ["digests.json"]
    assert attached("uppercase") == ["EVIDENCE-DIGESTS.JSON"]
    assert attached("twice") == [rd.ATTACHMENT, rd.ATTACHMENT]
    assert attached("injson") == []


@POPPLER
def test_manifest_with_a_wrong_type_fails_verify_naming_the_field(cases, tmp_path):
    root = tmp_path / "proj"
    shutil.copytree(cases, root)
    path = root / "release/manifest.json"
    doc = json.loads(path.read_text())
    doc["files"][MODEL_FILE]["size"] = str(doc["files"][MODEL_FILE]["size"])
    path.write_bytes(mf.dumps(doc))
    done = samdkit(root, "verify", *pins(root))
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "ERROR   release/manifest.json  [manifest-file] malformed manifest: release/manifest.json: "
        f'files["{MODEL_FILE}"].size: not a byte count (a non-negative integer)'
    ) in done.stdout.splitlines()
    assert "samdkit verify: FAIL" in done.stdout
    # not a samdkit manifest at all: bad input, one line, exit 2
    path.write_text(json.dumps({"files": {}}))
    done = samdkit(root, "verify", *pins(root))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "samdkit verify: error: release/manifest.json: format: missing (not a samdkit release "
        "manifest, samdkit-release-manifest/1)"
    ]


# ---------------------------------------------------------------- the record of an interrupted sign


def test_hand_edited_pending_record_cannot_delete_a_file_outside_the_project(unsigned_copy):
    root, outside = unsigned_copy
    record = {
        "format": "samdkit-sign-pending/1",
        "add": False,
        "certificate_sha256": HEX,
        "demo": True,
        "meaning": "Authorship",
        "name": None,
        "location": None,
        "started_utc": "2026-11-30T12:00:00Z",
        "pdfs": [REPORT],
        "manifest": "release/manifest.json",
        "files": [{"path": "../victim.txt", "sha256": OTHER, "backup": None}],
    }
    (root / "release").mkdir(exist_ok=True)
    (root / "release/.sign-pending.json").write_text(json.dumps(record))
    done = samdkit(root, "sign", "--rollback")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "samdkit sign: error: release/.sign-pending.json: files[0].path: has an empty, "
        "'.' or '..' component"
    ]
    assert outside.read_text() == "keep me"


@pytest.fixture
def unsigned_copy(tmp_path) -> tuple[Path, Path]:
    root = make_project(tmp_path / "proj")
    outside = tmp_path / "victim.txt"
    outside.write_text("keep me")
    return root, outside


@POPPLER
def test_genuine_report_and_card_pass_their_digest_checks(verified):
    """The report of tests/test_signing.py carries a v1 attachment written by report_digests.dumps;
    the card has none and prints the model's digest (the strict text fallback)."""
    _, lines = verified
    assert (
        f"PASS    {REPORT}  [report-digests] 3 digests in evidence-digests.json match the files"
        in lines
    )
    assert f"PASS    {CARD}  [report-digests] 1 printed digests match release files" in lines
