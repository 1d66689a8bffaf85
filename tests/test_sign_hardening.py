"""Issue 12, the sign side: check then write, interrupted runs, manifest paths, secrets, a legible stamp.

Real pyHanko, poppler (pdfsig, pdftotext, pdftoppm) and MuPDF (mutool); the CLI runs in a subprocess so exit
codes and stderr are what a user sees. The small release comes from tests/test_signing.py.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.test_signing import (
    CARD,
    MODEL_FILE,
    REPORT,
    SECRET,
    make_project,
    p12_file,
    pdfsig,
    samdkit,
)

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("pdfsig", "pdftotext", "pdftoppm", "mutool")),
    reason="poppler-utils and mupdf-tools needed",
)
PDFS = (REPORT, CARD)


@pytest.fixture(scope="module")
def unsigned(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("unsigned") / "proj")


@pytest.fixture
def proj(unsigned, tmp_path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(unsigned, root, symlinks=True)
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    """Every regular file under the root (links not followed), to prove nothing was written."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def one_line_refusal(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


def signature_count(pdf: Path) -> int:
    return pdfsig(pdf).count("Signature Validation: Signature is Valid")


# ---------------------------------------------------------------- check, then write


def test_symlink_leaving_the_project_stops_sign_before_any_write(proj, tmp_path):
    """Issue 12 example: a model file replaced by a link to a file outside the project."""
    outside = tmp_path / "elsewhere.bin"
    outside.write_bytes(b"weights-from-somewhere-else")
    (proj / MODEL_FILE).unlink()
    (proj / MODEL_FILE).symlink_to(outside)
    before = snapshot(proj)
    done = samdkit(proj, "sign", "--demo")
    one_line_refusal(done, MODEL_FILE, "outside the project")
    assert snapshot(proj) == before and not (proj / "release").exists()
    # fixed, the rerun signs: nothing was half-done
    (proj / MODEL_FILE).unlink()
    (proj / MODEL_FILE).write_bytes(b"weights-v1")
    again = samdkit(proj, "sign", "--demo")
    assert again.returncode == 0, again.stderr
    assert "already signed" not in again.stderr
    assert all(signature_count(proj / pdf) == 1 for pdf in PDFS)


@pytest.mark.parametrize(
    "breakage, words",
    [
        ("linked_folder_outside", ["models/model", "outside the project"]),
        ("extra_file_outside", ["release files must be inside the project"]),
        ("missing_release_file", ["reports/evaluation.json", "not found"]),
        ("manifest_target_is_a_folder", ["is a folder"]),
        ("one_pdf_already_signed", [CARD, "already signed"]),
        ("pdf_unreadable", [CARD, "not a readable PDF"]),
    ],
)
def test_every_bad_input_is_found_before_the_first_write(proj, tmp_path, breakage, words):
    args = ["sign", "--demo"]
    if breakage == "linked_folder_outside":
        shutil.move(proj / "models/model", tmp_path / "model-outside")
        (proj / "models/model").symlink_to(tmp_path / "model-outside")
    elif breakage == "extra_file_outside":
        (tmp_path / "notes.txt").write_text("x")
        (proj / "pyproject.toml").write_text(
            '[tool.samdkit.sign]\nextra_files = ["../notes.txt"]\n'
        )
    elif breakage == "missing_release_file":
        (proj / "reports/evaluation.json").unlink()
    elif breakage == "manifest_target_is_a_folder":
        (proj / "out/manifest.json").mkdir(parents=True)
        args += ["--manifest", "out/manifest.json"]
    elif breakage == "one_pdf_already_signed":
        assert samdkit(proj, "sign", "--demo", CARD, "--no-manifest").returncode == 0
    elif breakage == "pdf_unreadable":
        data = (proj / CARD).read_bytes()
        (proj / CARD).write_bytes(data[:20] + b"\0" * (len(data) - 20))
    before = snapshot(proj)
    done = samdkit(proj, *args)
    one_line_refusal(done, *words)
    assert snapshot(proj) == before
    assert not any((proj / "release").glob("*"))


def test_expired_certificate_is_refused_before_any_write(proj, tmp_path):
    import datetime as dt

    p12 = p12_file(tmp_path, SECRET.encode(), not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    before = snapshot(proj)
    env = {"SAMDKIT_SIGNING_P12": str(p12), "SAMDKIT_SIGNING_PASSWORD": SECRET}
    one_line_refusal(samdkit(proj, "sign", env=env), "expired")
    assert snapshot(proj) == before


def test_a_failure_while_signing_writes_nothing_and_names_no_url(proj):
    """Signatures and the manifest are computed in memory first: an unreachable timestamp authority
    (its URL may hold credentials) stops the run before any file changes."""
    import socket

    with socket.socket() as sock:  # a local port that refuses connections
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://tsa-user:{SECRET}@127.0.0.1:{port}/tsa"
    before = snapshot(proj)
    done = samdkit(proj, "sign", "--demo", env={"SAMDKIT_TSA_URL": url})
    one_line_refusal(done, "SAMDKIT_TSA_URL", "nothing was written")
    assert SECRET not in done.stderr and "tsa-user" not in done.stderr
    assert snapshot(proj) == before and not any((proj / "release").glob("*"))


# ---------------------------------------------------------------- manifest


def test_symlinked_release_file_is_named_by_project_path_with_link_target(proj):
    """A DVC-style link inside the project: the project path, the target's digest and the target."""
    cache = proj / ".dvc/cache/files/md5/ab"
    cache.mkdir(parents=True)
    (cache / "cdef0123").write_bytes(b"weights-v1")
    (proj / MODEL_FILE).unlink()
    (proj / MODEL_FILE).symlink_to(Path("../../.dvc/cache/files/md5/ab/cdef0123"))
    folder_target = proj / ".dvc/cache/files/md5/cd/dir0"
    folder_target.mkdir(parents=True)
    (folder_target / "weights.bin").write_bytes(b"more weights")
    (proj / "models/model/extra").symlink_to(Path("../../.dvc/cache/files/md5/cd/dir0"))
    done = samdkit(proj, "sign", "--demo", "--format", "json")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((proj / "release/manifest.json").read_text())
    files = manifest["files"]
    assert not any(name.startswith(".dvc") for name in files), sorted(files)
    entry = files[MODEL_FILE]
    assert entry["link_target"] == ".dvc/cache/files/md5/ab/cdef0123"
    assert entry["sha256"] == hashlib.sha256(b"weights-v1").hexdigest()
    linked = files["models/model/extra/weights.bin"]
    assert linked["link_target"] == ".dvc/cache/files/md5/cd/dir0/weights.bin"
    assert linked["sha256"] == hashlib.sha256(b"more weights").hexdigest()
    assert "link_target" not in files["model.lock"]
    assert manifest["signer_sha256"] == json.loads(done.stdout)["detail"]["certificate_sha256"]


def test_manifest_signer_is_the_pdf_signer(proj):
    from pyhanko.pdf_utils.reader import PdfFileReader

    done = samdkit(proj, "sign", "--demo", "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)["detail"]  # the gate-result envelope
    manifest = json.loads((proj / "release/manifest.json").read_text())
    for pdf in PDFS:
        reader = PdfFileReader(io.BytesIO((proj / pdf).read_bytes()))
        cert = reader.embedded_signatures[0].signer_cert
        assert hashlib.sha256(cert.dump()).hexdigest() == manifest["signer_sha256"]
        assert (
            manifest["files"][pdf]["sha256"]
            == hashlib.sha256((proj / pdf).read_bytes()).hexdigest()
        )
    assert result["certificate_sha256"] == manifest["signer_sha256"]


# ---------------------------------------------------------------- interrupted runs


def interrupt(root: Path, monkeypatch, stop_at: str, *argv: str) -> None:
    """Run sign in this process and stop it as a kill would, just before it writes `stop_at`."""
    from samdkit.cli import main
    from samdkit.core import atomic

    real = atomic.write_bytes

    def write_bytes(path, data, mode=0o644):
        if Path(path).name == Path(stop_at).name and Path(path).parent.name != ".unsigned":
            raise SystemExit(137)
        return real(path, data, mode)

    monkeypatch.setattr(atomic, "write_bytes", write_bytes)
    monkeypatch.chdir(root)
    with pytest.raises(SystemExit):
        main(["sign", *argv])
    monkeypatch.undo()


def test_interrupted_demo_run_is_named_and_rolled_back(proj, monkeypatch):
    originals = {pdf: (proj / pdf).read_bytes() for pdf in PDFS}
    interrupt(proj, monkeypatch, CARD, "--demo")
    assert signature_count(proj / REPORT) == 1 and signature_count(proj / CARD) == 0
    assert not (proj / "release/manifest.json").exists()
    rerun = samdkit(proj, "sign", "--demo")
    one_line_refusal(rerun, "stopped half-way", "1 of 2 PDFs signed", "--resume", "--rollback")
    # a demo key is new on every run: it cannot complete the run, and says so
    one_line_refusal(samdkit(proj, "sign", "--demo", "--resume"), "--rollback")
    back = samdkit(proj, "sign", "--rollback")
    assert back.returncode == 0, back.stderr
    assert REPORT in back.stdout
    assert {pdf: (proj / pdf).read_bytes() for pdf in PDFS} == originals
    assert sorted(p.name for p in (proj / "release").iterdir()) == []
    fresh = samdkit(proj, "sign", "--demo")
    assert fresh.returncode == 0, fresh.stderr
    assert all(signature_count(proj / pdf) == 1 for pdf in PDFS)
    one_line_refusal(samdkit(proj, "sign", "--rollback"), "nothing to roll back")


@pytest.mark.parametrize("stop_at", [CARD, "manifest.json.p7s"])
def test_interrupted_run_is_completed_by_resume_with_the_same_key(
    proj, tmp_path, monkeypatch, stop_at
):
    p12 = p12_file(tmp_path, SECRET.encode())
    env = {"SAMDKIT_SIGNING_P12": str(p12), "SAMDKIT_SIGNING_PASSWORD": SECRET}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    interrupt(proj, monkeypatch, stop_at, "--meaning", "responsibility")
    assert not (proj / "release/manifest.json.p7s").exists()
    one_line_refusal(samdkit(proj, "sign", env=env), "stopped half-way", "--resume")
    done = samdkit(proj, "sign", "--resume", "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    resumed = json.loads(done.stdout)["detail"]
    assert resumed["meaning"] == "Responsibility"  # the interrupted run's choice
    for pdf in PDFS:  # exactly one signature each: the finished PDF is not signed twice
        out = pdfsig(proj / pdf)
        assert out.count("Signature is Valid") == 1 and "Total document signed" in out, out
    manifest = json.loads((proj / "release/manifest.json").read_text())
    for pdf in PDFS:
        assert (
            manifest["files"][pdf]["sha256"]
            == hashlib.sha256((proj / pdf).read_bytes()).hexdigest()
        )
    assert not (proj / "release/.sign-pending.json").exists()
    assert not (proj / "release/.unsigned").exists()
    check = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-noverify", "-out", os.devnull,
         "-in", "release/manifest.json.p7s", "-content", "release/manifest.json"],
        cwd=proj, capture_output=True, text=True,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr


def test_interrupted_add_is_rolled_back_and_a_foreign_change_is_refused(proj, monkeypatch):
    assert samdkit(proj, "sign", "--demo").returncode == 0
    once = {pdf: (proj / pdf).read_bytes() for pdf in PDFS}
    manifest = (proj / "release/manifest.json").read_bytes()
    interrupt(proj, monkeypatch, CARD, "--add", "--demo", "--meaning", "approval")
    assert signature_count(proj / REPORT) == 2 and signature_count(proj / CARD) == 1
    one_line_refusal(samdkit(proj, "sign", "--add", "--demo"), "stopped half-way", "1 of 2")
    # something else rewrote a PDF since: neither resume nor rollback may overwrite it
    (proj / REPORT).write_bytes(once[REPORT] + b"%% appended by someone else\n")
    one_line_refusal(samdkit(proj, "sign", "--rollback"), REPORT, "changed by something other")
    (proj / REPORT).write_bytes(once[REPORT])
    back = samdkit(proj, "sign", "--rollback")
    assert back.returncode == 0, back.stderr
    assert {pdf: (proj / pdf).read_bytes() for pdf in PDFS} == once
    assert (proj / "release/manifest.json").read_bytes() == manifest


def test_planned_signers_with_an_unknown_meaning_are_one_line(proj):
    (proj / "pyproject.toml").write_text(
        '[tool.samdkit.sign]\nsigners = [{role = "QA", meaning = "sign-off"}]\n'
    )
    before = snapshot(proj)
    one_line_refusal(samdkit(proj, "sign", "--demo"), "signers", "sign-off", "authorship")
    assert snapshot(proj) == before


# ---------------------------------------------------------------- secrets


def key_material(tmp_path: Path) -> dict[str, str]:
    """PEM key (encrypted with SECRET), PEM certificate, PKCS#12 as base64: texts and file paths."""
    from cryptography.hazmat.primitives.serialization import (
        BestAvailableEncryption,
        Encoding,
        PrivateFormat,
    )

    from samdkit.release.keys import make_self_signed

    key, cert = make_self_signed("Quality Manager")
    texts = {
        "key_pem": key.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(SECRET.encode())
        ).decode(),
        "cert_pem": cert.public_bytes(Encoding.PEM).decode(),
        "p12_b64": base64.b64encode(p12_file(tmp_path, SECRET.encode()).read_bytes()).decode(),
        "password": SECRET,
    }
    for name in ("key_pem", "cert_pem"):
        (tmp_path / f"{name}.pem").write_text(texts[name])
        texts[f"{name}_path"] = str(tmp_path / f"{name}.pem")
    texts["p12_path"] = str(tmp_path / "signer.p12")
    texts["p12_b64_wrapped"] = "\n".join(re.findall(".{1,76}", texts["p12_b64"]))
    texts["long_b64"] = base64.b64encode(os.urandom(3000)).decode()
    return texts


CASES = {
    # variable holding the wrong kind of text: (env built from key_material, variable, secret kind)
    "key holds PEM": ({"SAMDKIT_SIGNING_KEY": "key_pem", "SAMDKIT_SIGNING_CERT": "cert_pem_path"}, "SAMDKIT_SIGNING_KEY", "key_pem"),
    "key holds base64": ({"SAMDKIT_SIGNING_KEY": "p12_b64", "SAMDKIT_SIGNING_CERT": "cert_pem_path"}, "SAMDKIT_SIGNING_KEY", "p12_b64"),
    "key holds a password": ({"SAMDKIT_SIGNING_KEY": "password", "SAMDKIT_SIGNING_CERT": "cert_pem_path"}, "SAMDKIT_SIGNING_KEY", "password"),
    "key holds a long base64 text": ({"SAMDKIT_SIGNING_KEY": "long_b64", "SAMDKIT_SIGNING_CERT": "cert_pem_path"}, "SAMDKIT_SIGNING_KEY", "long_b64"),
    "cert holds PEM": ({"SAMDKIT_SIGNING_KEY": "key_pem_path", "SAMDKIT_SIGNING_CERT": "cert_pem", "SAMDKIT_SIGNING_PASSWORD": "password"}, "SAMDKIT_SIGNING_CERT", "cert_pem"),
    "cert holds a password": ({"SAMDKIT_SIGNING_KEY": "key_pem_path", "SAMDKIT_SIGNING_CERT": "password"}, "SAMDKIT_SIGNING_CERT", "password"),
    "p12 holds base64": ({"SAMDKIT_SIGNING_P12": "p12_b64", "SAMDKIT_SIGNING_PASSWORD": "password"}, "SAMDKIT_SIGNING_P12", "p12_b64"),
    "p12 holds wrapped base64": ({"SAMDKIT_SIGNING_P12": "p12_b64_wrapped"}, "SAMDKIT_SIGNING_P12", "p12_b64"),
    "p12 holds PEM": ({"SAMDKIT_SIGNING_P12": "key_pem"}, "SAMDKIT_SIGNING_P12", "key_pem"),
    "p12 holds a password": ({"SAMDKIT_SIGNING_P12": "password"}, "SAMDKIT_SIGNING_P12", "password"),
    "p12 base64 holds PEM": ({"SAMDKIT_SIGNING_P12_BASE64": "key_pem"}, "SAMDKIT_SIGNING_P12_BASE64", "key_pem"),
    "p12 base64 holds a password": ({"SAMDKIT_SIGNING_P12_BASE64": "password"}, "SAMDKIT_SIGNING_P12_BASE64", "password"),
    "p12 base64, wrong password": ({"SAMDKIT_SIGNING_P12_BASE64": "p12_b64", "SAMDKIT_SIGNING_PASSWORD": "key_pem"}, "SAMDKIT_SIGNING_P12_BASE64", "key_pem"),
    "key, wrong password": ({"SAMDKIT_SIGNING_KEY": "key_pem_path", "SAMDKIT_SIGNING_CERT": "cert_pem_path", "SAMDKIT_SIGNING_PASSWORD": "p12_b64"}, "SAMDKIT_SIGNING_KEY", "p12_b64"),
    "chain holds PEM": ({"SAMDKIT_SIGNING_P12": "p12_path", "SAMDKIT_SIGNING_PASSWORD": "password", "SAMDKIT_SIGNING_CHAIN": "cert_pem"}, "SAMDKIT_SIGNING_CHAIN", "cert_pem"),
    "chain holds base64": ({"SAMDKIT_SIGNING_P12": "p12_path", "SAMDKIT_SIGNING_PASSWORD": "password", "SAMDKIT_SIGNING_CHAIN": "p12_b64"}, "SAMDKIT_SIGNING_CHAIN", "p12_b64"),
    "chain holds a password": ({"SAMDKIT_SIGNING_P12": "p12_path", "SAMDKIT_SIGNING_PASSWORD": "password", "SAMDKIT_SIGNING_CHAIN": "password"}, "SAMDKIT_SIGNING_CHAIN", "password"),
}  # fmt: skip


def fragments(value: str) -> list[str]:
    """The value and distinctive pieces of it: a body line of PEM, slices of base64 or a password."""
    body = [ln for ln in value.splitlines() if ln and "-----" not in ln]
    pieces = [value, value[:12], value[-12:], *body[1:3]]
    if len(value) > 40:
        pieces += [value[20:36], value[len(value) // 2 : len(value) // 2 + 16]]
    return [p for p in pieces if len(p) >= 8]


@pytest.mark.parametrize("case", sorted(CASES))
def test_key_errors_name_the_variable_never_the_value(proj, tmp_path, case):
    env_spec, variable, secret_kind = CASES[case]
    texts = key_material(tmp_path)
    env = {var: texts[kind] for var, kind in env_spec.items()}
    before = snapshot(proj)
    done = samdkit(proj, "sign", env={**env, "SAMDKIT_DEBUG": "1"})
    one_line_refusal(done, variable)
    output = done.stdout + done.stderr
    for piece in fragments(texts[secret_kind]) + fragments(SECRET):
        assert piece not in output, (case, piece)
    for value in env.values():  # no variable's value either, not even a path
        assert value not in output
    assert snapshot(proj) == before


# ---------------------------------------------------------------- the visible stamp

LONG_NAME = "Dr Maximiliana Evangelista Rodríguez-Montgomery"


@pytest.fixture(scope="module")
def stamped(unsigned, tmp_path_factory) -> dict:
    """Three signatures on each PDF: demo CI, a real key whose typed name differs, a long demo name.
    The bytes after each step are kept, to compare renders."""
    root = tmp_path_factory.mktemp("stamped") / "proj"
    shutil.copytree(unsigned, root)
    keydir = tmp_path_factory.mktemp("key")
    env = {"SAMDKIT_SIGNING_P12": str(p12_file(keydir, SECRET.encode())),
           "SAMDKIT_SIGNING_PASSWORD": SECRET}  # fmt: skip
    steps = [
        (["--demo", "--name", "CI Pipeline"], {}),
        (["--add", "--name", "Dr Q. Manager", "--meaning", "review"], env),
        (["--add", "--demo", "--name", LONG_NAME, "--meaning", "approval"], {}),
    ]
    states = [{pdf: (root / pdf).read_bytes() for pdf in PDFS}]
    for argv, step_env in steps:
        done = samdkit(root, "sign", *argv, env=step_env)
        assert done.returncode == 0, done.stderr
        states.append({pdf: (root / pdf).read_bytes() for pdf in PDFS})
    return {"root": root, "states": states, "tmp": tmp_path_factory.mktemp("renders")}


def signatures(data: bytes) -> list[dict]:
    """Per signature: the stamp rectangle, the certificate's CN and SHA-256, the signing time in UTC."""
    import datetime as dt

    from pyhanko.pdf_utils.reader import PdfFileReader

    out = []
    for sig in PdfFileReader(io.BytesIO(data)).embedded_signatures:
        rect = [float(v) for v in sig.sig_field["/Rect"]]
        cert = sig.signer_cert
        out.append({
            "rect": rect,
            "cn": cert.subject.native["common_name"],
            "sha256": hashlib.sha256(cert.dump()).hexdigest(),
            "time": sig.self_reported_timestamp.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "name": str(sig.sig_object["/Name"]),
            "meaning": str(sig.sig_object["/Reason"]),
        })  # fmt: skip
    return out


def expected_lines(sig: dict) -> list[str]:
    lines = [f"Electronically signed by: {sig['cn']}"]
    if sig["name"] != sig["cn"]:
        lines.append(f"Name as typed by the signer: {sig['name']}")
    lines += [
        f"Meaning of signature: {sig['meaning']}",
        f"Date and time (UTC): {sig['time']}",
        f"Certificate SHA-256: {sig['sha256'][:32]}",
        sig["sha256"][32:],
    ]
    if "DEMO" in sig["cn"]:
        lines.append("DEMO certificate - not a real signature")
    return lines


def mutool_lines(pdf: Path) -> tuple[float, list[tuple[str, tuple[float, ...], float]]]:
    """MuPDF's text of the last page: (page height, [(line text, bbox top-left origin, font size)])."""
    xml = subprocess.run(
        ["mutool", "draw", "-q", "-F", "stext", "-o", "-", str(pdf), "N"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    page = ET.fromstring(xml).find("page")
    lines = []
    for line in page.iter("line"):
        fonts = line.findall("font")
        text = "".join(ch.get("c") for ch in line.iter("char"))
        size = min(float(f.get("size")) for f in fonts)
        lines.append((text, tuple(float(v) for v in line.get("bbox").split()), size))
    return float(page.get("height")), lines


def poppler_lines(pdf: Path) -> tuple[float, list[tuple[str, tuple[float, ...], float]]]:
    """poppler's text of the last page, same shape (font size: the line's height)."""
    pages = int(
        re.search(
            r"Pages:\s+(\d+)",
            subprocess.run(
                ["pdfinfo", str(pdf)], capture_output=True, text=True, check=True
            ).stdout,
        ).group(1)
    )
    xml = subprocess.run(
        ["pdftotext", "-bbox-layout", "-f", str(pages), "-l", str(pages), str(pdf), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    xml = re.sub(r"<!DOCTYPE[^>]*>", "", xml).replace('xmlns="http://www.w3.org/1999/xhtml"', "")
    page = ET.fromstring(xml).find(".//page")
    lines = []
    for line in page.iter("line"):
        text = " ".join(w.text or "" for w in line.iter("word"))
        box = tuple(float(line.get(k)) for k in ("xMin", "yMin", "xMax", "yMax"))
        lines.append((text, box, box[3] - box[1]))
    return float(page.get("height")), lines


@pytest.mark.parametrize("reader", ["mutool", "poppler"])
@pytest.mark.parametrize("pdf", PDFS)
def test_every_stamp_field_is_whole_and_inside_its_box(stamped, pdf, reader):
    path = stamped["root"] / pdf
    height, lines = (mutool_lines if reader == "mutool" else poppler_lines)(path)
    sigs = signatures(path.read_bytes())
    assert len(sigs) == 3
    assert sigs[1]["cn"] == "Quality Manager" and sigs[1]["name"] == "Dr Q. Manager"
    for sig in sigs:
        x1, y1, x2, y2 = sig["rect"]
        top, bottom = height - y2, height - y1  # top-left origin, as the text tools report
        for expected in expected_lines(sig):
            found = [(box, size) for text, box, size in lines if text.strip() == expected]
            assert found, f"{reader}: {expected!r} not found whole on the last page of {pdf}"
            inside = [
                size for box, size in found
                if box[0] >= x1 - 0.5 and box[2] <= x2 + 0.5 and box[1] >= top - 0.5 and box[3] <= bottom + 0.5
            ]  # fmt: skip
            assert inside, (
                f"{reader}: {expected!r} lies outside its stamp box {sig['rect']}: {found}"
            )
            assert max(inside) >= (5 if LONG_NAME in sig["cn"] else 6.5), (expected, inside)


def render(data: bytes, folder: Path, name: str, tool: str, dpi: int = 100):
    """The last page as a grey-scale array, rendered by poppler or MuPDF."""
    import numpy as np
    from PIL import Image

    pdf = folder / f"{name}.pdf"
    pdf.write_bytes(data)
    png = folder / f"{name}-{tool}.png"
    if tool == "poppler":
        pages = int(
            re.search(
                r"Pages:\s+(\d+)",
                subprocess.run(
                    ["pdfinfo", str(pdf)], capture_output=True, text=True, check=True
                ).stdout,
            ).group(1)
        )
        subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", "-singlefile", "-f", str(pages),
                        "-l", str(pages), str(pdf), str(png.with_suffix(""))], check=True)  # fmt: skip
    else:
        subprocess.run(["mutool", "draw", "-q", "-r", str(dpi), "-c", "gray", "-o", str(png),
                        str(pdf), "N"], check=True)  # fmt: skip
    return np.asarray(Image.open(png).convert("L"), dtype=int)


@pytest.mark.parametrize("tool", ["poppler", "mutool"])
@pytest.mark.parametrize("pdf", PDFS)
def test_no_stamp_ink_outside_the_box(stamped, pdf, tool):
    """Each signature changes pixels only inside its own stamp rectangle (the border's half line
    width and antialiasing allowed), and does put ink in it."""
    import numpy as np

    states, dpi = stamped["states"], 100
    scale, slack = dpi / 72, 2
    for step in range(1, len(states)):
        before = render(states[step - 1][pdf], stamped["tmp"], f"{Path(pdf).stem}-{step - 1}", tool)
        after = render(states[step][pdf], stamped["tmp"], f"{Path(pdf).stem}-{step}", tool)
        assert before.shape == after.shape
        changed = np.abs(before - after) > 0
        height = after.shape[0]
        x1, y1, x2, y2 = signatures(states[step][pdf])[step - 1]["rect"]
        left, right = int(x1 * scale) - slack, int(x2 * scale) + slack
        top, bottom = int(height - y2 * scale) - slack, int(height - y1 * scale) + slack
        inside = np.zeros_like(changed)
        inside[max(top, 0) : bottom, max(left, 0) : right] = True
        assert changed[inside].sum() > 500, f"signature {step}: no stamp drawn"
        stray = np.argwhere(changed & ~inside)
        assert len(stray) == 0, f"signature {step} ({tool}): ink outside its box at {stray[:5]}"
        # the text is dark: the stamp really holds text, not an empty frame
        assert (after[top + 4 : bottom - 4, left + 4 : right - 4] < 100).sum() > 500


def test_pdfsig_reports_every_signature_valid_on_the_untouched_release(stamped):
    for pdf in PDFS:
        out = pdfsig(stamped["root"] / pdf)
        assert out.count("Signature Validation: Signature is Valid.") == 3, out
        assert (
            out.count("Total document signed") == 1 and out.count("Not total document signed") == 2
        )


# ---------------------------------------------------------------- truthful status, planned signers

SIGNERS_TOML = """[tool.samdkit.sign]
signers = [
  {role = "Release author (CI)", meaning = "authorship"},
  {role = "Quality approver", meaning = "approval"},
]
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, predictions) -> Path:
    """A real report and model card (samdkit evaluate + report), with two planned signers."""
    from tests.test_report import EPOCH, in_dir, populate

    root = populate(tmp_path_factory.mktemp("rendered"), predictions)
    (root / "pyproject.toml").write_text(SIGNERS_TOML)
    mp = pytest.MonkeyPatch()
    mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
    assert in_dir(root, ["evaluate", "--no-mlflow"]) == 0
    assert in_dir(root, ["report"]) == 0
    mp.undo()
    return root


def page_texts(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    return text.split("\f")[:-1]


def test_no_page_says_unsigned_and_section_15_lists_the_planned_signers(rendered, tmp_path):
    """Issue 12 example: every page said "UNSIGNED DRAFT" and section 15 was empty after signing."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    from samdkit.release.layout import RECORD_STATUS

    root = tmp_path / "proj"
    shutil.copytree(rendered, root)
    status = " ".join(RECORD_STATUS.split())
    for when in ("unsigned", "signed"):
        if when == "signed":
            assert samdkit(root, "sign", "--demo", "--no-manifest").returncode == 0
            done = samdkit(root, "sign", "--add", "--demo", "--name", "Dr Jane Roe")
            assert done.returncode == 0, done.stderr
        for pdf in PDFS:
            pages = page_texts(root / pdf)
            assert len(pages) > 1
            for number, text in enumerate(pages, 1):
                flat = " ".join(text.split())
                assert "unsigned" not in flat.lower(), (when, pdf, number)
                assert status in flat, (when, pdf, number, flat[-300:])
    section = " ".join(page_texts(root / REPORT)[-1].split())  # the signature page
    report = " ".join(" ".join(page_texts(root / REPORT)).split())
    s15 = report.split("15. Approvals and signatures", 1)[1].split("Appendix", 1)[0]
    for expected in ("1 Release author (CI)", "Authorship", "2 Quality approver", "Approval"):
        assert expected in s15, s15
    assert "Signature page" in section and "stamp 2, Quality approver (Approval)" in section
    card = " ".join(page_texts(root / CARD)[-1].split())
    assert "Approvals and signatures" in card and "Quality approver" in card
    # the stamps fulfil the plan: --add without --meaning took the next planned meaning
    for pdf in PDFS:
        sigs = PdfFileReader(io.BytesIO((root / pdf).read_bytes())).embedded_signatures
        assert [str(s.sig_object["/Reason"]) for s in sigs] == ["Authorship", "Approval"]
        assert pdfsig(root / pdf).count("Signature is Valid") == 2


def test_stamp_slots_lie_on_blank_space_of_the_last_page(rendered, tmp_path):
    """The first four stamp slots cover nothing the report or the model card prints."""
    import numpy as np
    from PIL import Image

    from samdkit.release.sign import slot_box

    for pdf in PDFS:
        info = subprocess.run(["pdfinfo", str(rendered / pdf)], capture_output=True, text=True)
        pages = int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1))
        width, height = (
            float(v) for v in re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info.stdout).groups()
        )
        out = tmp_path / Path(pdf).stem
        subprocess.run(["pdftoppm", "-r", "72", "-gray", "-png", "-singlefile", "-f", str(pages),
                        "-l", str(pages), str(rendered / pdf), str(out)], check=True)  # fmt: skip
        image = np.asarray(Image.open(f"{out}.png").convert("L"), dtype=int)
        for slot in range(4):
            x1, y1, x2, y2 = slot_box(width, slot)
            assert x2 <= width - 36, "a stamp leaves the page's right margin"
            area = image[int(height - y2) - 2 : int(height - y1) + 2, int(x1) - 2 : int(x2) + 2]
            assert area.min() > 240, f"{pdf}: slot {slot + 1} covers printed content"
