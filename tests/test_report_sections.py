"""The report as section functions over evidence read once, strictly (issue 18).

Each `section_<n>(bundle, ...)` returns its data and its gaps; the context is plain JSON with the figures
returned as values; samdkit's own evidence files are read through their strict readers, so a hand-edited or
foreign file stops `samdkit report` with one line naming the field (exit 2) and nothing is written.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from samdkit.core.project import load_project
from samdkit.report import artefacts, sections
from samdkit.report.evidence import Gap
from tests.test_report import DATA, EPOCH, in_dir, populate

EVALUATION = Path(__file__).parent / "data" / "evaluation" / "v1-binary.json"
SBOM = str(DATA / "sbom.cdx.json")
OUTPUT = "reports/clinical-validation-report.json"


@pytest.fixture
def project(tmp_path, predictions, monkeypatch):
    """The report test evidence with a valid evaluation (the evaluate reference document), no git."""
    root = populate(tmp_path / "p", predictions)
    shutil.copy(EVALUATION, root / "reports" / "evaluation.json")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    monkeypatch.chdir(root)
    return root


def test_every_section_returns_its_data_and_its_gaps(project):
    bundle = sections.collect(load_project(project))
    lock = sections.section_3(bundle)[0]["lock"]
    made = artefacts.finish(
        artefacts.start(bundle, SBOM, lock), bundle, SBOM, project / "reports" / "sbom.cdx.json"
    )
    bundle.ev["sbom"] = made.sbom
    results = [
        sections.section_0(bundle),
        sections.section_1(bundle),
        sections.section_2(bundle),
        sections.section_3(bundle),
        sections.section_4(bundle, lock),
        *(f(bundle) for f in (sections.section_5, sections.section_6, sections.section_7)),
        *(f(bundle) for f in (sections.section_8, sections.section_9, sections.section_10)),
        sections.section_11(bundle),
        sections.section_12(bundle, made),
        sections.section_13(bundle),
        sections.section_14(bundle, lock),
        sections.section_15(bundle),
    ]
    for data, gaps in results:
        assert isinstance(data, dict) and all(isinstance(g, Gap) for g in gaps)
        json.dumps(data)  # plain JSON: no Future, no path object
    # the lock as its schema defines it, not a guessed key
    assert (
        lock["root_digest"]
        == json.loads((project / "model.lock").read_text())["artifact"]["root_digest"]
    )
    assert lock["identical"] is True and lock["data_version"].startswith("data/prepared md5 ")
    # no git here: section 0 says so, and it is the only section 0 gap (the ids come from device.yaml)
    data, gaps = sections.section_0(bundle)
    assert [g.message for g in gaps] == [
        "no git commit: the report cannot name the source revision"
    ]
    assert data["document"]["id"] == "CVR-BLT-001"
    # the evaluation is present: sections 6-10 raise no "missing" gap
    assert not [g for _, gaps in results for g in gaps if "run samdkit evaluate" in g.message]


def test_a_missing_input_is_a_gap_of_its_own_section(project):
    (project / "reports" / "evaluation.json").unlink()
    (project / "reports" / "data-check.json").unlink()
    bundle = sections.collect(load_project(project))
    for number in ("6", "7", "8", "9", "10"):
        _, gaps = getattr(sections, f"section_{number}")(bundle)
        assert [g.section for g in gaps] == [number] and gaps[0].blocking
    data, gaps = sections.section_5(bundle)
    assert data == {"data_quality": None} and "data quality was not checked" in gaps[0].message
    assert sections.verdict(gaps)["verdict"] == "FAIL"
    assert sections.verdict([Gap("12", "x", blocking=False)])["verdict"] == "PASS"


def test_build_returns_the_figures_as_values_and_a_json_context(project):
    from samdkit.report.assemble import build

    ctx, made = build(
        load_project(project),
        revision=None,
        sbom_arg=SBOM,
        sbom_path=project / "reports" / "sbom.cdx.json",
        load_pdf=False,
    )
    json.dumps(ctx, allow_nan=False)  # the report JSON is the context itself: plain data only
    assert not [k for k in ctx if k.startswith("_")]
    assert set(made.figures) == {"roc", "pr", "calibration"}
    assert all(svg.lstrip().startswith("<") and "</svg>" in svg for svg in made.figures.values())
    assert made.sbom.present and ctx["inputs"]["sbom"]["sha256"] == made.sbom.sha256


def _edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _rename_root_digest(lock: dict) -> None:
    lock["artifact"]["root_sha256"] = lock["artifact"].pop("root_digest")


@pytest.mark.parametrize(
    ("rel", "change", "words"),
    [
        # a lock that names its root digest otherwise is not guessed at
        (
            "model.lock",
            _rename_root_digest,
            "model.lock: malformed lock: 'artifact.root_digest' is missing",
        ),
        (
            "model.lock",
            lambda d: d.update(schema_version=9),
            "model.lock: an unknown lock format version (this samdkit reads 1",
        ),
        (
            "reports/evaluation.json",
            lambda d: d["overall"]["metrics"].pop("sensitivity"),
            "'overall.metrics.sensitivity' is missing",
        ),
        (
            "reports/evaluation.json",
            lambda d: d.update(schema="samdkit/evaluation/v9"),
            "an unknown schema (this samdkit reads samdkit/evaluation/v1",
        ),
        (
            "reports/data-check.json",
            lambda d: d.update(validations={}),
            "reports/data-check.json: malformed data-check result: 'validations' must be a list",
        ),
    ],
    ids=[
        "lock-guessed-root",
        "lock-version",
        "evaluation-field",
        "evaluation-schema",
        "data-check",
    ],
)
def test_a_hand_edited_evidence_file_is_exit_2_naming_the_field(
    project, capsys, rel, change, words
):
    _edit(project / rel, change)
    assert in_dir(project, ["report", "--no-pdf", "--sbom", SBOM]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and words in err, err
    assert rel in err and "Traceback" not in err
    assert not (project / OUTPUT).exists(), "nothing written"


def test_format_json_prints_the_gate_result_envelope(project, capsys):
    assert in_dir(project, ["report", "--no-pdf", "--sbom", SBOM, "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["schema"] == "samdkit/gate-result/v1" and result["gate"] == "report"
    report = json.loads((project / OUTPUT).read_text())
    assert result["verdict"] == report["verdict"] == "FAIL"  # no git: the source is not named
    assert result["detail"]["gaps"] == report["gaps"]
    digest = hashlib.sha256((project / OUTPUT).read_bytes()).hexdigest()
    assert result["detail"]["outputs"]["clinical-validation-report.json"] == digest
