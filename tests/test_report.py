# ruff: noqa: RUF001  (typographic dashes and signs are intended: they are printed in the evidence)
"""samdkit report: the clinical validation report and the model card, read back with poppler's tools."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from samdkit.cli import main
from samdkit.release import report_digests
from samdkit.report.command import SECTIONS

DATA = Path(__file__).parent / "data" / "report"
EPOCH = "1767225600"
ARTIFACTS = Path(
    os.environ.get(
        "SAMDKIT_TEST_ARTIFACTS",
        Path(__file__).resolve().parent.parent / "build" / "test-artifacts",
    )
)


def pdftotext(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def embedded(pdf: Path) -> list[str]:
    out = subprocess.run(
        ["pdfdetach", "-list", str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    return [line.split(": ", 1)[1] for line in out.splitlines()[1:]]


def streams(pdf: Path) -> list[bytes]:
    """Every stream of the PDF, inflated when Flate-compressed (to read the XMP metadata without pypdf)."""
    import zlib

    out = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf.read_bytes(), re.S):
        body = match.group(1)
        try:
            out.append(zlib.decompress(body))
        except zlib.error:
            out.append(body)
    return out


def populate(
    root: Path,
    predictions: Path,
    *,
    data_check: str | None = "data-check-pass.json",
    lock: bool = True,
) -> Path:
    (root / "reports").mkdir(parents=True, exist_ok=True)
    (root / "compliance").mkdir(exist_ok=True)
    shutil.copy(predictions, root / "reports" / "predictions.csv")
    for name in ("requirements.yaml", "risks.yaml", "device.yaml", "model-card.yaml"):
        shutil.copy(DATA / name, root / "compliance" / name)
    # every checklist item the report cannot carry, justified (else each is a blocking gap, appendix A)
    shutil.copy(DATA / "regulatory.yaml", root / "compliance" / "regulatory.yaml")
    shutil.copy(DATA / "emissions.csv", root / "reports" / "emissions.csv")
    if data_check:
        shutil.copy(DATA / data_check, root / "reports" / "data-check.json")
    if lock:
        shutil.copy(DATA / "model.lock", root / "model.lock")
    # the device the SBOM describes (its SOUP: the runtime closure of these dependencies)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "blt-device"\nversion = "1.0.0"\ndependencies = ["scikit-learn"]\n'
    )
    (root / "params.yaml").write_text(
        "data:\n  source: sklearn.datasets.load_breast_cancer\n  subgroup_columns: [size_tertile]\n"
        "  test_size: 0.3\n  seed: 42\nevaluate:\n  threshold: 0.5\n"
    )
    return root


def in_dir(root: Path, argv: list[str]) -> int:
    old = Path.cwd()
    os.chdir(root)
    try:
        return main(argv)
    finally:
        os.chdir(old)


@pytest.fixture(scope="module")
def full(tmp_path_factory, predictions):
    """A complete evidence set, evaluated and reported once (SBOM generated from this environment)."""
    root = populate(tmp_path_factory.mktemp("full"), predictions)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "evidence"],
        cwd=root,
        check=True,
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
    assert in_dir(root, ["evaluate", "--no-mlflow"]) == 0
    assert in_dir(root, ["report"]) == 0
    mp.undo()
    reports = root / "reports"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # first pages as PNG, for a person to look at (test artefact folder)
    for name, last_page in (("clinical-validation-report", 4), ("model-card", 2)):
        subprocess.run(
            ["pdftoppm", "-r", "70", "-png", "-f", "1", "-l", str(last_page),
             str(reports / f"{name}.pdf"), str(ARTIFACTS / name)],
            check=True,
        )  # fmt: skip
    return root


def test_all_outputs_written(full):
    names = {p.name for p in (full / "reports").iterdir()}
    for name in (
        "clinical-validation-report.pdf",
        "clinical-validation-report.html",
        "clinical-validation-report.md",
        "clinical-validation-report.json",
        "model-card.pdf",
        "model-card.json",
        "model-card.md",
        "sbom.cdx.json",
    ):
        assert name in names


def test_sections_present_in_order(full):
    text = pdftotext(full / "reports" / "clinical-validation-report.pdf")
    position = 0
    for number, title in SECTIONS:
        heading = f"{number}. {title}" if number != "A" else title
        found = text.find(heading, position)
        assert found >= 0, f"section heading {heading!r} missing or out of order"
        position = found
    assert re.search(r"Page 1 of \d+", text)
    assert "CVR-BLT-001" in text.split("\n", 3)[0]  # document id in the running header


def test_pdf_numbers_match_the_evaluation_json(full):
    text = pdftotext(full / "reports" / "clinical-validation-report.pdf")
    doc = json.loads((full / "reports" / "evaluation.json").read_text())
    cm = doc["overall"]["confusion_matrix"]
    for key in ("tp", "fp", "fn", "tn"):
        assert f"{key.upper()} {cm[key]}" in text
    for name in doc["headline_metrics"]:
        m = doc["overall"]["metrics"][name]
        assert f"{m['value']:.3f}" in text, name
        assert f"{m['ci']['lower']:.3f} – {m['ci']['upper']:.3f}" in text, name
    assert "Wilson score interval" in text
    assert "PASS" in text.split("1. Verdict", 1)[1][:200]


def test_pdf_is_pdfa3b_with_embedded_evidence(full):
    pdf = full / "reports" / "clinical-validation-report.pdf"
    assert set(embedded(pdf)) == {
        "clinical-validation-report.json",
        "evidence-digests.json",
        "evaluation.json",
        "data-check.json",
        "model.lock",
        "sbom.cdx.json",
    }
    xmp = b"".join(s for s in streams(pdf) if b"pdfaid" in s)  # the XMP metadata stream
    assert re.search(rb"pdfaid:part[^0-9]{1,3}3", xmp), xmp[:400]
    assert re.search(rb"pdfaid:conformance[^A-Z]{1,3}B", xmp)
    extract = full / "extracted"
    extract.mkdir(exist_ok=True)
    subprocess.run(["pdfdetach", "-saveall", "-o", str(extract), str(pdf)], check=True)
    assert (extract / "evaluation.json").read_bytes() == (
        full / "reports" / "evaluation.json"
    ).read_bytes()
    report_data = json.loads((full / "reports" / "clinical-validation-report.json").read_text())
    attached = (extract / "evidence-digests.json").read_bytes()
    assert json.loads(attached)["schema"] == report_digests.SCHEMA
    listed = report_digests.parse(attached, "evidence-digests.json")  # what samdkit verify reads
    printed = {d["path"]: d["sha256"] for d in report_data["digests"] if d["path"]}
    assert listed == printed, "the attachment holds exactly the printed file digests"
    assert "dvc.lock" not in listed, "DVC rewrites dvc.lock after the report"


def test_every_digest_is_printed_and_machine_readable(full):
    text = pdftotext(full / "reports" / "clinical-validation-report.pdf")
    data = json.loads((full / "reports" / "clinical-validation-report.json").read_text())
    paths = {d["path"] for d in data["digests"]}
    assert {
        "reports/evaluation.json",
        "model.lock",
        "reports/sbom.cdx.json",
        "reports/data-check.json",
    } <= paths
    for d in data["digests"]:
        assert d["sha256"] in text, d
        if d["path"]:
            import hashlib

            assert hashlib.sha256((full / d["path"]).read_bytes()).hexdigest() == d["sha256"]
    assert (
        "3f5a0c4e1d2b6a7980c1e2f3a4b5c6d7e8f90123456789abcdef0123456789ab" in text
    )  # model root digest
    assert data["verdict"] == "PASS", data["gaps"]


def test_traceability_and_approvals(full):
    text = pdftotext(full / "reports" / "clinical-validation-report.pdf")
    trace = text.split("11. Traceability matrix", 1)[1].split("12. Environment", 1)[0]
    for item in ("UN-01", "REQ-PERF-001", "RISK-001", "RISK-004", "samdkit verify-lock"):
        assert item in trace
    approvals = text.split("15. Approvals and signatures", 1)[1]
    assert "Florence Nightingale" in approvals and "Approval" in approvals
    # a signed copy must not call itself unsigned (issue 12): the status says what to check
    assert "unsigned" not in approvals.lower() and "Electronic record" in approvals
    sbom = json.loads((full / "reports" / "sbom.cdx.json").read_text())
    # the renderer verified the device; it is a tool used for verification, not SOUP
    assert any(c["name"] == "weasyprint" for c in sbom["metadata"]["tools"]["components"])
    assert not any(c["name"] == "weasyprint" for c in sbom["components"])
    assert "weasyprint" in text.split("Tools used for verification", 1)[1]


def test_model_card_exports(full):
    card = json.loads((full / "reports" / "model-card.json").read_text())
    doc = json.loads((full / "reports" / "evaluation.json").read_text())
    for key in (
        "model_details",
        "intended_use",
        "model_parameters",
        "datasets",
        "quantitative_analysis",
        "fairness",
        "considerations",
        "lifecycle",
        "environmental_impact",
        "provenance",
    ):
        assert card[key] not in (None, {}, []), key
    assert card["model_details"]["locked"] is True
    sens = next(
        q
        for q in card["quantitative_analysis"]
        if q["metric"] == "sensitivity" and q["slice"] == "overall"
    )
    assert sens["value"] == doc["overall"]["metrics"]["sensitivity"]["value"]
    assert sens["pass"] is True and sens["ci"]["method"] == "Wilson score interval"
    import hashlib

    pdf_sha = hashlib.sha256(
        (full / "reports" / "clinical-validation-report.pdf").read_bytes()
    ).hexdigest()
    assert card["provenance"]["report_pdf_sha256"] == pdf_sha
    md = (full / "reports" / "model-card.md").read_text()
    assert md.startswith("---\n")
    front = yaml.safe_load(md.split("---\n", 2)[1])
    metrics = front["model-index"][0]["results"][0]["metrics"]
    auroc = next(m for m in metrics if m["type"] == "auroc")
    assert auroc["value"] == pytest.approx(doc["overall"]["metrics"]["auroc"]["value"], abs=1e-4)
    assert "## Quantitative analysis" in md
    card_text = pdftotext(full / "reports" / "model-card.pdf")
    assert "Model card — Breast Lesion Triage" in card_text and "Fairness" in card_text
    assert sorted(embedded(full / "reports" / "model-card.pdf")) == [
        "evidence-digests.json",
        "model-card.json",
    ]


def test_missing_evidence_degrades_to_fail(tmp_path, predictions, monkeypatch, capsys):
    root = populate(tmp_path, predictions, data_check="data-check-fail.json", lock=False)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    # no evaluation.json, no model.lock, a failed data check, no git
    assert in_dir(root, ["report", "--sbom", str(DATA / "sbom.cdx.json")]) == 0
    out = capsys.readouterr().out
    assert "verdict FAIL" in out
    text = pdftotext(root / "reports" / "clinical-validation-report.pdf")
    verdict = text.split("1. Verdict", 1)[1].split("2. Intended use", 1)[0]
    assert "FAIL" in verdict
    locked = text.split("3. Locked model", 1)[1].split("4. Datasets", 1)[0]
    assert "EVIDENCE MISSING OR FAILED" in locked and "model.lock is missing" in locked
    quality = text.split("5. Data quality", 1)[1].split("6. Statistical methods", 1)[0]
    assert (
        "data-quality check failed" in quality and "expect_column_values_to_be_between" in quality
    )
    assert "mean_radius" in quality, "the failing column is named"
    results = text.split("7. Results", 1)[1].split("8. Calibration", 1)[0]
    assert "evaluation.json is missing" in results
    assert set(embedded(root / "reports" / "clinical-validation-report.pdf")) == {
        "clinical-validation-report.json",
        "evidence-digests.json",
        "data-check.json",
        "sbom.cdx.json",
    }
    card = json.loads((root / "reports" / "model-card.json").read_text())
    assert card["verdict"] == "FAIL" and card["model_details"]["locked"] is False


def test_unreadable_input_exits_2(tmp_path, predictions, capsys):
    root = populate(tmp_path, predictions)
    (root / "reports" / "evaluation.json").write_text("{not json")
    assert in_dir(root, ["report", "--no-pdf", "--sbom", str(DATA / "sbom.cdx.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "reports/evaluation.json: unreadable JSON" in err


def test_project_template_override(tmp_path, predictions):
    root = populate(tmp_path, predictions)
    (root / "compliance" / "templates").mkdir()
    (root / "compliance" / "templates" / "report.md.j2").write_text(
        "custom {{ document.id }} {{ verdict }}\n"
    )
    assert in_dir(root, ["report", "--no-pdf", "--sbom", str(DATA / "sbom.cdx.json")]) == 0
    assert (
        root / "reports" / "clinical-validation-report.md"
    ).read_text() == "custom CVR-BLT-001 FAIL\n"


def test_two_renders_are_byte_identical(full, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert (
            in_dir(
                full, ["report", "--output-dir", str(out), "--sbom", str(DATA / "sbom.cdx.json")]
            )
            == 0
        )
        outputs.append(out)
    for name in (
        "clinical-validation-report.pdf",
        "model-card.pdf",
        "clinical-validation-report.json",
        "model-card.md",
    ):
        assert (outputs[0] / name).read_bytes() == (outputs[1] / name).read_bytes(), name


def test_plots_drawn_in_a_worker_process_are_the_ones_drawn_in_process(full):
    """`samdkit report` draws its plots in a forked worker; the SVGs must not depend on where they are drawn."""
    import sys

    overall = json.loads((full / "reports" / "evaluation.json").read_text())["overall"]
    code = (
        "import json, sys; from samdkit.core import parallel; from samdkit.report import plots; overall = json.load(sys.stdin); "
        "print(json.dumps([parallel.submit(plots.figures, overall).result(), plots.figures(overall)]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(overall), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    worker, here = json.loads(done.stdout)
    assert set(worker) == {"roc", "pr", "calibration"}
    assert worker == here
    html = (full / "reports" / "clinical-validation-report.html").read_text()
    for name, svg in worker.items():
        assert (full / "reports" / "figures" / f"{name}.svg").read_text() == svg
        assert base64.b64encode(svg.encode()).decode() in html, name


def test_soup_list_names_every_sbom_component(full):
    sbom = json.loads((full / "reports" / "sbom.cdx.json").read_text())
    names = {c["name"] for c in sbom["components"] if c["type"] == "library"}
    text = pdftotext(full / "reports" / "clinical-validation-report.pdf")
    soup = text[text.index("SOUP of the device") : text.index("Tools used for verification")]
    assert "scikit-learn" in names and "numpy" in names
    assert not [n for n in names if n not in soup]
