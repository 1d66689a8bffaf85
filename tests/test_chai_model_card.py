"""The model card in the CHAI applied model card's sections: each field from the evidence or a named gap
that blocks `report --strict`; the IEC 62304 edition named wherever the report and the card cite it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.test_regulatory import PLAN_ITEMS, REG_DATA, SBOM, _git_commit, edit_yaml, raw_text
from tests.test_report import EPOCH, in_dir, populate

CHAI_TITLES = [
    "Basic and release information",
    "Summary",
    "Uses and directions",
    "Warnings",
    "Trust ingredients",
    "Key metrics",
    "Resources",
]


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, predictions):
    """The regulatory test evidence set (with a PCCP, as tests/test_regulatory.py), evaluated once."""
    root = populate(tmp_path_factory.mktemp("chai-ev"), predictions)
    shutil.copy(REG_DATA / "pccp.yaml", root / "compliance" / "pccp.yaml")
    edit_yaml(
        root / "compliance/regulatory.yaml",
        lambda d: [d["not_applicable"].pop(k) for k in PLAN_ITEMS],
    )
    _git_commit(root)
    mp = pytest.MonkeyPatch()
    mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
    assert in_dir(root, ["evaluate", "--no-mlflow"]) == 0
    mp.undo()
    return root


@pytest.fixture(scope="module")
def rendered(evaluated, tmp_path_factory):
    """The regulatory evidence set (with a PCCP) rendered once, PDFs included."""
    root = Path(shutil.copytree(evaluated, tmp_path_factory.mktemp("chai") / "p", symlinks=True))
    mp = pytest.MonkeyPatch()
    mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
    assert in_dir(root, ["report", "--sbom", SBOM]) == 0
    mp.undo()
    return root


@pytest.fixture
def project(evaluated, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    return Path(shutil.copytree(evaluated, tmp_path / "p", symlinks=True))


def card_json(root: Path) -> dict:
    return json.loads((root / "reports/model-card.json").read_text())


def words(pdf: Path) -> list[tuple[int, float, float, float, float, str]]:
    """Every word of the PDF with its page and box (poppler's pdftotext -bbox)."""
    out = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    rows, page = [], 0
    for line in out.splitlines():
        if "<page " in line:
            page += 1
        m = re.search(
            r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*)</word>', line
        )
        if m:
            rows.append((page, *map(float, m.groups()[:4]), m.group(5)))
    return rows


def test_the_card_has_chai_sections_each_field_sourced(rendered):
    card = card_json(rendered)
    assert [s["title"] for s in card["chai"]] == CHAI_TITLES
    for s in card["chai"]:
        assert s["missing"] == [], s
        for f in s["fields"]:
            assert f["source"], f
            assert f["value"] is not None or not f["required"], f
    fields = {f["label"]: f["value"] for s in card["chai"] for f in s["fields"]}
    device = yaml.safe_load((rendered / "compliance/device.yaml").read_text())
    evaluation = json.loads((rendered / "reports/evaluation.json").read_text())
    lock = json.loads((rendered / "reports/clinical-validation-report.json").read_text())["lock"]
    assert fields["Model name"] == card["model_details"]["name"]
    assert fields["Release stage and regulatory status"] == (
        device.get("regulatory_status") or device["device"]["regulatory_status"]
    )
    assert lock["root_digest"] in fields["Locked model"]
    sens = evaluation["overall"]["metrics"]["sensitivity"]
    assert (
        f"sensitivity {sens['value']:.3f} (95 % CI {sens['ci']['lower']:.3f}"
        in (fields["Usefulness, usability and efficacy"])
    )
    assert (
        "PCCP" in fields["Ongoing maintenance"]
        or "change control plan" in (fields["Ongoing maintenance"])
    )
    assert "CycloneDX SBOM" in fields["Security"]
    assert fields["Funding source"].startswith("Internal research budget")
    assert fields["IEC 62304"] == "software safety class B (IEC 62304:2006+A1:2015, edition 1)"
    # methods are sentences an auditor reads, not a dump of evaluation.json
    process = fields["Validation process"]
    assert "95 % confidence intervals" in process and "Wilson score interval" in process
    assert "{" not in process and "'" not in process, process


def test_the_pdf_card_prints_the_sections_in_order_on_the_page(rendered):
    pdf = rendered / "reports/model-card.pdf"
    text = raw_text(pdf)
    positions = [text.find(f"{n}. {t}") for n, t in enumerate(CHAI_TITLES, 1)]
    assert -1 not in positions and positions == sorted(positions), positions
    assert "GAP: not stated" not in text
    # every section heading starts at the left margin, inside the page
    heads = [w for w in words(pdf) if re.fullmatch(r"[1-7]\.", w[5])]
    assert len(heads) >= 7
    first_x = min(w[1] for w in heads)
    page_width = 595.0  # A4 in points
    for _page, x0, _y0, x1, y1, _ in heads:
        assert abs(x0 - first_x) < 2 and x1 < page_width and y1 < 842


def test_the_markdown_card_is_a_valid_hugging_face_card_in_chai_sections(rendered):
    md = (rendered / "reports/model-card.md").read_text()
    assert md.startswith("---\n")
    front = yaml.safe_load(md.split("---\n", 2)[1])
    assert set(front) == {"license", "library_name", "tags", "model-index"}
    assert front["model-index"][0]["results"][0]["metrics"]
    heads = re.findall(r"^## (.+)$", md, re.M)
    assert heads[:7] == [f"{n}. {t}" for n, t in enumerate(CHAI_TITLES, 1)]
    assert "| Funding source | Internal research budget" in md
    assert "### Quantitative analysis" in md and "GAP: not stated" not in md


def test_a_missing_field_is_named_in_the_card_and_fails_strict(project):
    edit_yaml(project / "compliance/model-card.yaml", lambda d: d.pop("transparency"))
    assert in_dir(project, ["report", "--strict", "--no-pdf"]) == 1
    assert not (project / "reports/model-card.json").exists(), "strict writes nothing"
    assert in_dir(project, ["report", "--no-pdf"]) == 0
    card = card_json(project)
    trust = next(s for s in card["chai"] if s["title"] == "Trust ingredients")
    assert trust["missing"] == [
        "Funding source (model-card.yaml: transparency.funding_source)",
        "Stakeholders consulted (model-card.yaml: transparency.stakeholders_consulted)",
    ]
    md = (project / "reports/model-card.md").read_text()
    assert "| Funding source | **GAP: not stated** |" in md
    assert "MODEL CARD FIELDS MISSING:** 2 required field(s)" in md
    report = json.loads((project / "reports/clinical-validation-report.json").read_text())
    gaps = [g for g in report["gaps"] if g["blocking"] and "CHAI/5" in g["message"]]
    assert len(gaps) == 1 and "Funding source" in gaps[0]["message"]
    assert report["verdict"] == "FAIL"


def test_each_section_checks_its_own_evidence(project):
    """No monitoring text: only trust ingredients lacks it; no limitations: warnings."""

    def drop(d):
        d["lifecycle"].pop("monitoring")
        d["considerations"].pop("limitations")

    edit_yaml(project / "compliance/model-card.yaml", drop)
    assert in_dir(project, ["report", "--no-pdf"]) == 0
    missing = {s["title"]: s["missing"] for s in card_json(project)["chai"]}
    assert missing["Trust ingredients"] == [
        "Ongoing maintenance (model-card.yaml: lifecycle.monitoring; pccp.yaml (or "
        "lifecycle.change_control))"
    ]
    assert missing["Warnings"] == [
        "Known risks and limitations (model-card.yaml: considerations.limitations; risks.yaml)"
    ]
    assert not missing["Basic and release information"] and not missing["Key metrics"]


def test_a_missing_field_is_visible_in_the_pdf_card(project):
    edit_yaml(project / "compliance/model-card.yaml", lambda d: d.pop("transparency"))
    assert in_dir(project, ["report", "--sbom", SBOM]) == 0
    pdf = project / "reports/model-card.pdf"
    text = raw_text(pdf)
    assert "MODEL CARD FIELDS MISSING: 2 required field(s)" in text
    assert text.count("GAP: not stated") == 2
    # the GAP marks stand in the value column, right of the field names
    ws = words(pdf)
    rows = [
        (label, gap)
        for label in ws
        if label[5] == "Funding"
        for gap in ws
        if gap[5] == "GAP:" and gap[0] == label[0] and abs(gap[2] - label[2]) < 2
    ]
    assert len(rows) == 1, "one GAP mark on the funding-source row"
    label, gap = rows[0]
    assert gap[1] > label[3] + 20, "in the value column, right of the label"


def test_the_edition_is_named_wherever_the_report_cites_iec62304(rendered):
    text = raw_text(rendered / "reports/clinical-validation-report.pdf")
    edition = "IEC 62304:2006+A1:2015, edition 1"
    cites = [m.start() for m in re.finditer(r"IEC 62304", text)]
    assert cites
    for start in cites:
        window = text[max(0, start - 200) : start + 200]
        assert "edition" in window, window
    assert f"12. Environment and SOUP ({edition}, software safety class B)" in text
    md = (rendered / "reports/clinical-validation-report.md").read_text()
    assert f"## 12. Environment and SOUP ({edition}, software safety class B)" in md
    card = raw_text(rendered / "reports/model-card.pdf")
    assert f"software safety class B ({edition})" in card


def test_edition_2_is_named_in_section_12_and_the_card(project):
    edit_yaml(
        project / "compliance/regulatory.yaml",
        lambda d: d.update(iec62304={"edition": 2, "rigour_level": "II"}),
    )
    assert in_dir(project, ["report", "--no-pdf"]) == 0
    md = (project / "reports/clinical-validation-report.md").read_text()
    assert "## 12. Environment and SOUP (IEC 62304 edition 2, process rigour level II)" in md
    assert "2006" not in md.split("## 12.", 1)[1].split("## 13.", 1)[0]
    fields = {f["label"]: f["value"] for s in card_json(project)["chai"] for f in s["fields"]}
    assert fields["IEC 62304"] == "process rigour level II (IEC 62304 edition 2)"


def test_a_justified_section_prints_the_reason_not_a_gap(project):
    edit_yaml(project / "compliance/model-card.yaml", lambda d: d.pop("transparency"))
    reason = "Funding and stakeholders are stated in the technical file, section TF-7."
    edit_yaml(
        project / "compliance/regulatory.yaml",
        lambda d: d.setdefault("addressed_elsewhere", {}).update({"CHAI/5": reason}),
    )
    assert in_dir(project, ["report", "--strict", "--no-pdf"]) == 0
    trust = next(s for s in card_json(project)["chai"] if s["item"] == "CHAI/5")
    assert trust["missing"] == [] and trust["justified"] == f"addressed elsewhere: {reason}"
    md = (project / "reports/model-card.md").read_text()
    assert f"Fields without a value: addressed elsewhere: {reason}" in md
    assert "GAP: not stated" not in md and "MODEL CARD FIELDS MISSING" not in md
    assert "| Funding source | none stated |" in md
