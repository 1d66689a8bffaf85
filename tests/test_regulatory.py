# ruff: noqa: RUF001  (typographic dashes are intended: they are printed in the evidence)
"""Regulatory mapping (appendix A): every checklist item mapped on real report content or justified by the
project, else a blocking gap; the PCCP judged on the current model; the IEC 62304 edition named."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from samdkit.regulatory import EVIDENCE, item_keys, load_checklists
from tests.conftest import BIN
from tests.test_report import DATA, EPOCH, in_dir, populate

REG_DATA = Path(__file__).parent / "data" / "regulatory"
SBOM = str(DATA / "sbom.cdx.json")
PLAN_ITEMS = {"FDA-PCCP/1", "FDA-PCCP/2", "FDA-PCCP/2.3", "FDA-PCCP/3", "AIA-IV/2(f)", "GMLP/10"}


def _git_commit(root: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "evidence"],
        cwd=root,
        check=True,
    )


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, predictions):
    """The test evidence set with a PCCP, evaluated once (each test copies it)."""
    root = populate(tmp_path_factory.mktemp("reg"), predictions)
    shutil.copy(REG_DATA / "pccp.yaml", root / "compliance" / "pccp.yaml")
    # this project declares a plan: its items must be mapped, not excused
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


@pytest.fixture
def project(evaluated, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    return Path(shutil.copytree(evaluated, tmp_path / "p", symlinks=True))


@pytest.fixture(scope="module")
def full_pdf(evaluated, tmp_path_factory):
    """One complete render (PDF included) of the evidence set."""
    root = Path(shutil.copytree(evaluated, tmp_path_factory.mktemp("pdf") / "p", symlinks=True))
    mp = pytest.MonkeyPatch()
    mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
    assert in_dir(root, ["report", "--sbom", SBOM]) == 0
    mp.undo()
    return root


def raw_text(pdf: Path) -> str:
    """The PDF's text in content order (cells of a table row not interleaved), spaces collapsed."""
    out = subprocess.run(
        ["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return re.sub(r"\s+", " ", out)


def report_json(root: Path) -> dict:
    return json.loads((root / "reports/clinical-validation-report.json").read_text())


def items(data: dict) -> dict[str, dict]:
    return {i["key"]: i for s in data["regulatory"] for i in s["items"]}


def edit_yaml(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


# --- the checklists as data ------------------------------------------------------------------------------


def test_checklists_are_complete_and_cite_their_source():
    lists = {c["source"]: c for c in load_checklists()}
    assert set(lists) == {
        "TRIPOD+AI", "GMLP", "FDA-AI-DSF", "FDA-PCCP", "AIA-IV", "Part11", "IEC62304", "STARD", "CHAI"
    }  # fmt: skip
    ids = {name: [i["id"] for i in c["items"]] for name, c in lists.items()}
    assert ids["TRIPOD+AI"] == [str(n) for n in range(1, 28)]
    assert ids["GMLP"] == [str(n) for n in range(1, 11)]
    assert {"1", "2", "3"} <= set(ids["FDA-PCCP"])
    assert {f"11.10({c})" for c in "abcdefghijk"} | {"11.50(a)", "11.50(b)", "11.70"} == set(
        ids["Part11"]
    )
    assert {"1", "2(a)", "2(g)", "2(h)", "3", "4", "5", "6", "7", "8", "9"} <= set(ids["AIA-IV"])
    assert {"5.8.1", "5.8.8", "8.1.2", "7.1.2", "5.3.3"} <= set(ids["IEC62304"])
    assert {"23", "24"} <= set(ids["STARD"])
    assert [i["topic"] for i in lists["CHAI"]["items"]][:6] == [
        "Basic and release information", "Summary", "Uses and directions", "Warnings",
        "Trust ingredients", "Key metrics",
    ]  # fmt: skip
    for c in lists.values():
        assert c["document"] and c["date"] and c["edition"] and c["checklist_version"] >= 1
        for item in c["items"]:
            assert set(item.get("evidence") or []) <= set(EVIDENCE), item
            ask = item["ask"] if isinstance(item["ask"], dict) else {"1": item["ask"]}
            assert all(len(a) < 200 for a in ask.values()), (
                "a short paraphrase, not the source text"
            )
    assert len(item_keys()) == len(set(item_keys())), "item keys are unique"


def test_iec62304_items_have_both_editions_wording():
    iec = next(c for c in load_checklists() if c["source"] == "IEC62304")
    for item in iec["items"]:
        assert set(item["ask"]) == {"1", "2"}, item["id"]
    assert set(iec["document"]) == {"1", "2"}


# --- the appendix ----------------------------------------------------------------------------------------


def test_every_item_of_every_checklist_is_in_the_appendix(full_pdf):
    data = report_json(full_pdf)
    assert data["verdict"] == "PASS", [g for g in data["gaps"] if g["blocking"]]
    assert list(items(data)) == item_keys()
    text = raw_text(full_pdf / "reports/clinical-validation-report.pdf")
    appendix = text.split("Appendix: regulatory mapping", 1)[1]
    html = (full_pdf / "reports/clinical-validation-report.html").read_text()
    md = (full_pdf / "reports/clinical-validation-report.md").read_text().split("## Appendix")[1]
    for key, item in items(data).items():
        source, _, ident = key.partition("/")
        assert f"{source} {ident}" in appendix, key
        assert f"{source} {ident}" in html and f"{source} {ident}" in md, key
        assert item["status"] in ("mapped", "not applicable", "addressed elsewhere"), item
    for c in load_checklists():
        title = c["title"] if isinstance(c["title"], str) else c["title"]["1"]
        assert re.sub(r"\s+", " ", title) in appendix


def test_mapped_items_name_the_section_and_content(full_pdf):
    data = items(report_json(full_pdf))
    assert data["STARD/23"]["status"] == "mapped"
    assert data["STARD/23"]["where"] == "section 7: 2×2 table at the operating point"
    assert data["TRIPOD+AI/23"]["where"].startswith("section 7: headline metrics")
    assert "section 9: per-subgroup metrics" in data["TRIPOD+AI/23"]["where"]
    # the project's reason, printed as given
    reason = "First release; no model updating has taken place."
    assert data["TRIPOD+AI/24"] == {
        **data["TRIPOD+AI/24"],
        "status": "not applicable",
        "reason": reason,
    }
    text = raw_text(full_pdf / "reports/clinical-validation-report.pdf")
    assert reason in text


def test_appendix_status_column_stays_in_its_box(full_pdf):
    """Every status word of the appendix is drawn inside the status column (11 % of the table, after
    item 17 % and paraphrase 38 %), never over the paraphrase or the reason beside it."""
    pdf = full_pdf / "reports/clinical-validation-report.pdf"
    out = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = out.split("<page ")
    first = next(i for i, page in enumerate(pages) if ">Appendix:</word>" in page)
    appendix = "".join(pages[first:])
    pattern = r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">mapped<'
    words = re.findall(pattern, appendix)
    mapped = [i for i in items(report_json(full_pdf)).values() if i["status"] == "mapped"]
    assert len(words) == len(mapped) > 40, "one status word per mapped item"
    left, width = 16 / 25.4 * 72, 595.28 - 2 * 16 / 25.4 * 72  # A4 with 16 mm side margins
    box = (left + 0.55 * width, left + 0.66 * width)
    for x_min, x_max in words:
        assert box[0] < float(x_min) < float(x_max) < box[1], (x_min, x_max, box)


def test_an_unjustified_item_is_a_blocking_gap_and_fails_strict(project):
    reg = project / "compliance/regulatory.yaml"
    edit_yaml(reg, lambda d: d["not_applicable"].pop("TRIPOD+AI/24"))
    before = sorted((project / "reports").iterdir())
    done = subprocess.run(
        [BIN / "samdkit", "report", "--strict", "--no-pdf", "--sbom", SBOM],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "section A" in lines[0] and "TRIPOD+AI/24" in lines[0]
    assert sorted((project / "reports").iterdir()) == before, "nothing written"
    # without --strict: written, FAIL, and the appendix shows the gap
    assert in_dir(project, ["report", "--no-pdf", "--sbom", SBOM]) == 0
    data = report_json(project)
    assert data["verdict"] == "FAIL"
    assert items(data)["TRIPOD+AI/24"]["status"] == "GAP"
    md = (project / "reports/clinical-validation-report.md").read_text()
    assert re.search(r"\| TRIPOD\+AI 24 \(Model updating\) \|.*\| GAP \|", md)


def test_a_section_maps_an_item_only_when_it_carries_the_content(project):
    """Without a data-quality result, items resting on section 5 are not claimed."""
    (project / "reports/data-check.json").unlink()
    assert in_dir(project, ["report", "--no-pdf", "--sbom", SBOM]) == 0
    data = items(report_json(project))
    for key in ("STARD/16", "AIA-IV/2(d)"):
        assert data[key]["status"] == "GAP", data[key]
        assert "data-quality" in data[key]["reason"]
    assert data["STARD/23"]["status"] == "mapped"


def test_the_model_card_claims_a_model_description_only_with_inputs_and_outputs(project):
    assert in_dir(project, ["report", "--no-pdf", "--sbom", SBOM]) == 0
    assert items(report_json(project))["FDA-AI-DSF/MC-1"]["status"] == "mapped"
    edit_yaml(
        project / "compliance/model-card.yaml", lambda d: d["model_parameters"].pop("outputs")
    )
    assert in_dir(project, ["report", "--no-pdf", "--sbom", SBOM]) == 0
    item = items(report_json(project))["FDA-AI-DSF/MC-1"]
    assert item == {
        **item,
        "status": "GAP",
        "reason": "the report lacks: model parameters: inputs and outputs",
    }


def test_a_justification_for_an_unknown_item_is_bad_input(project, capsys):
    edit_yaml(
        project / "compliance/regulatory.yaml",
        lambda d: d["not_applicable"].update({"TRIPOD+AI/99": "no such item"}),
    )
    assert in_dir(project, ["report", "--no-pdf", "--sbom", SBOM]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith(
        "unknown checklist item 'TRIPOD+AI/99' (see docs/regulatory-mapping.md)"
    )


def test_an_empty_reason_is_bad_input(project, capsys):
    edit_yaml(
        project / "compliance/regulatory.yaml",
        lambda d: d["not_applicable"].update({"STARD/15": " "}),
    )
    assert in_dir(project, ["report", "--no-pdf", "--sbom", SBOM]) == 2
    assert "'STARD/15' needs a reason" in capsys.readouterr().err


def test_template_example_reasons_block_strict(project):
    edit_yaml(
        project / "compliance/regulatory.yaml",
        lambda d: d["not_applicable"].update(
            {"STARD/15": "TEMPLATE EXAMPLE: the example's reason"}
        ),
    )
    done = subprocess.run(
        [BIN / "samdkit", "report", "--strict", "--no-pdf", "--sbom", SBOM],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "template example text still in" in done.stderr
    assert "compliance/regulatory.yaml: not_applicable.STARD/15" in done.stderr


# --- IEC 62304 editions ------------------------------------------------------------------------------------


def test_edition_1_names_the_edition_and_skips_class_b_c_items_for_class_a(project):
    edit_yaml(
        project / "compliance/regulatory.yaml", lambda d: d["iec62304"].update(safety_class="A")
    )
    assert in_dir(project, ["report", "--no-pdf", "--sbom", SBOM]) == 0
    data = report_json(project)
    row = dict(data["intended_use"])["IEC 62304 software safety class"]
    assert row == "A (per IEC 62304:2006+A1:2015, edition 1)"
    reg = items(data)
    assert reg["IEC62304/7.1.2"]["status"] == "addressed elsewhere"  # the project's own reason wins
    edit_yaml(
        project / "compliance/regulatory.yaml",
        lambda d: d["addressed_elsewhere"].pop("IEC62304/7.1.2"),
    )
    assert in_dir(project, ["report", "--no-pdf", "--sbom", SBOM]) == 0
    reg = items(report_json(project))
    assert reg["IEC62304/7.1.2"]["status"] == "not applicable"
    assert reg["IEC62304/7.1.2"]["reason"] == (
        "not required for software safety class A (IEC 62304:2006+A1:2015, edition 1)"
    )
    assert (
        reg["IEC62304/7.1.2"]["ask"]
        == "Check SOUP anomaly lists for causes of hazardous situations."
    )
    card = json.loads((project / "reports/model-card.json").read_text())
    assert card["model_details"]["iec_62304_class"] == row


def test_edition_2_uses_rigour_levels_and_its_wording(project):
    edit_yaml(
        project / "compliance/regulatory.yaml",
        lambda d: d.update(iec62304={"edition": 2, "rigour_level": "II"}),
    )
    assert in_dir(project, ["report", "--no-pdf", "--sbom", SBOM]) == 0
    data = report_json(project)
    intended = dict(data["intended_use"])
    assert "IEC 62304 software safety class" not in intended
    assert intended["IEC 62304 process rigour level"] == "II (per IEC 62304 edition 2)"
    iec = next(s for s in data["regulatory"] if s["source"] == "IEC62304")
    assert iec["edition"] == "IEC 62304 edition 2"
    assert iec["document"].startswith("IEC 62304 edition 2, Health software")
    assert items(data)["IEC62304/8.1.2"]["ask"].endswith("title, supplier and unique version.")
    # edition 2: no activity is excused by the level (samdkit does not guess the level's task set)
    edit_yaml(
        project / "compliance/regulatory.yaml",
        lambda d: d["addressed_elsewhere"].pop("IEC62304/7.1.2"),
    )
    assert in_dir(project, ["report", "--no-pdf", "--sbom", SBOM]) == 0
    assert items(report_json(project))["IEC62304/7.1.2"]["status"] == "GAP"
    md = (project / "reports/clinical-validation-report.md").read_text()
    assert "IEC 62304 wording follows IEC 62304 edition 2, process rigour level II" in md
    card = json.loads((project / "reports/model-card.json").read_text())
    assert card["model_details"]["iec_62304_class"] == "II (per IEC 62304 edition 2)"


@pytest.mark.parametrize(
    ("iec", "message"),
    [
        ({"edition": 2, "safety_class": "B"}, "iec62304.safety_class does not exist in edition 2"),
        ({"edition": 2, "rigour_level": "III"}, "iec62304.rigour_level must be one of I, II"),
        ({"edition": 3}, "iec62304.edition must be 1 or 2"),
        ({"edition": 1, "safety_class": "D"}, "iec62304.safety_class must be one of A, B, C"),
    ],
)
def test_bad_edition_settings_are_one_line(project, capsys, iec, message):
    edit_yaml(project / "compliance/regulatory.yaml", lambda d: d.update(iec62304=iec))
    assert in_dir(project, ["report", "--no-pdf", "--sbom", SBOM]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1]


# --- PCCP ------------------------------------------------------------------------------------------------


def retrained_predictions(root: Path, features: int) -> None:
    """A retrained model (only the first `features` features) scores the same test split."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from tests.factories import feature_columns, write_split

    paths = write_split(root / "split")
    train, test = pd.read_csv(paths["train"]), pd.read_csv(paths["test"])
    cols = feature_columns(train)[:features]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=0))
    model.fit(train[cols], train["label"])
    out = test[["sample_id", "label", "size_tertile"]].copy()
    out["score"] = model.predict_proba(test[cols])[:, 1]
    out["predicted"] = (out["score"] >= 0.5).astype(int)
    out[["sample_id", "label", "score", "predicted", "size_tertile"]].to_csv(
        root / "reports/predictions.csv", index=False
    )


def test_pccp_judges_the_current_model_and_the_card_refers_to_it(full_pdf):
    data = report_json(full_pdf)
    plan = data["pccp"]
    assert plan["verdict"] == "PASS"
    assert [c["id"] for c in plan["criteria"]] == ["PCCP-AC-001", "PCCP-AC-002"]
    evaluation = json.loads((full_pdf / "reports/evaluation.json").read_text())
    auroc = evaluation["overall"]["metrics"]["auroc"]["ci"]["lower"]
    assert plan["criteria"][1]["observed"] == auroc
    assert items(data)["FDA-PCCP/2.3"]["status"] == "mapped"
    card = json.loads((full_pdf / "reports/model-card.json").read_text())
    assert card["lifecycle"]["change_control"].startswith(
        "Predetermined change control plan compliance/pccp.yaml (modifications MOD-001)"
    )
    assert card["lifecycle"]["change_control"].endswith("appendix A.2: PASS")
    text = raw_text(full_pdf / "reports/clinical-validation-report.pdf")
    section = text.split("A.2 Predetermined change control plan", 1)[1]
    assert "MOD-001: Retrain the same model type" in section
    assert "PCCP-AC-002" in section and "Plan verdict: PASS" in section
    card_text = raw_text(full_pdf / "reports/model-card.pdf")
    assert "Predetermined change control plan compliance/pccp.yaml" in card_text


def test_pccp_rejects_a_retrained_model_below_the_plans_criteria(project):
    """A model retrained on two features falls below the plan's AUROC bound: the plan says FAIL."""
    retrained_predictions(project, features=2)
    in_dir(
        project, ["evaluate", "--no-mlflow"]
    )  # exit 1 is expected: its own criteria may fail too
    assert in_dir(project, ["report", "--no-pdf", "--sbom", SBOM]) == 0
    data = report_json(project)
    plan = data["pccp"]
    assert plan["verdict"] == "FAIL"
    auroc = next(c for c in plan["criteria"] if c["id"] == "PCCP-AC-002")
    assert auroc["result"] == "FAIL" and auroc["observed"] < 0.95
    assert items(data)["FDA-PCCP/2.3"]["status"] == "GAP"
    assert any(g["section"] == "A" and "FDA-PCCP/2.3" in g["message"] for g in data["gaps"])
    plan_gaps = [g["message"] for g in data["gaps"] if g["section"] == "A" and g["blocking"]]
    assert any(
        m.startswith(
            "compliance/pccp.yaml: this model does not meet the plan's acceptance criteria:"
        )
        and "PCCP-AC-002" in m
        for m in plan_gaps
    ), plan_gaps
    assert data["verdict"] == "FAIL"
    card = json.loads((project / "reports/model-card.json").read_text())
    assert card["lifecycle"]["change_control"].endswith("appendix A.2: FAIL")


def test_pccp_accepts_a_retrained_model_that_meets_the_plan(project):
    retrained_predictions(project, features=30)
    assert in_dir(project, ["evaluate", "--no-mlflow"]) == 0
    assert in_dir(project, ["report", "--no-pdf", "--sbom", SBOM]) == 0
    plan = report_json(project)["pccp"]
    assert plan["verdict"] == "PASS"
    assert all(c["result"] == "PASS" for c in plan["criteria"])


def test_without_a_plan_the_pccp_items_need_a_reason(project):
    (project / "compliance/pccp.yaml").unlink()
    assert in_dir(project, ["report", "--no-pdf", "--sbom", SBOM]) == 0
    data = report_json(
        project
    )  # the evidence set justifies them (tests/data/report/regulatory.yaml)
    assert data["verdict"] == "FAIL"
    assert in_dir(project, ["report", "--no-pdf", "--sbom", SBOM]) == 0
    data = report_json(project)
    assert data["pccp"] is None
    gaps = {k for k, i in items(data).items() if i["status"] == "GAP"}
    assert gaps == {
        "FDA-PCCP/1",
        "FDA-PCCP/2",
        "FDA-PCCP/2.3",
        "FDA-PCCP/3",
        "AIA-IV/2(f)",
        "GMLP/10",
    }
    md = (project / "reports/clinical-validation-report.md").read_text()
    assert "No predetermined change control plan is declared" in md


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("impact_assessment"), "impact_assessment must be a non-empty text"),
        (
            lambda d: d.update(planned_modifications=[]),
            "planned_modifications must be a non-empty list",
        ),
        (
            lambda d: d["modification_protocol"]["performance_evaluation"].pop(
                "acceptance_criteria"
            ),
            "acceptance_criteria must be a non-empty list",
        ),
        (
            lambda d: d["modification_protocol"]["performance_evaluation"]["acceptance_criteria"][
                0
            ].update(metric="happiness"),
            "PCCP-AC-001: unknown metric 'happiness'",
        ),
        (lambda d: d.update(surprise=1), "unknown key 'surprise'"),
        (
            lambda d: d["modification_protocol"].pop("retraining"),
            "modification_protocol.retraining must be",
        ),
    ],
)
def test_a_malformed_plan_is_one_line_and_exit_2(project, change, message):
    edit_yaml(project / "compliance/pccp.yaml", change)
    before = sorted((project / "reports").iterdir())
    done = subprocess.run(
        [BIN / "samdkit", "report", "--no-pdf", "--sbom", SBOM],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "compliance/pccp.yaml:" in lines[0] and message in lines[0], lines[0]
    assert sorted((project / "reports").iterdir()) == before


def test_a_plan_with_an_alias_bomb_is_refused(project):
    """pccp.yaml goes through the bounded YAML reader."""
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    (project / "compliance/pccp.yaml").write_text(bomb)
    done = subprocess.run(
        [BIN / "samdkit", "report", "--no-pdf", "--sbom", SBOM],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "YAML refused" in done.stderr, done.stderr


# --- the template ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "iec"),
    [
        ([], {"edition": 1, "safety_class": "B"}),
        (["iec62304_edition=2", "rigour_level=I"], {"edition": 2, "rigour_level": "I"}),
    ],
)
def test_template_declares_the_edition(tmp_path, settings, iec):
    args = [a for s in settings for a in ("--set", s)]
    done = subprocess.run(
        [BIN / "samdkit", "new", "--no-input", *args, "-o", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    (project,) = tmp_path.iterdir()
    reg = yaml.safe_load((project / "compliance/regulatory.yaml").read_text())
    assert reg["iec62304"] == iec
    justified = set(reg["not_applicable"]) | set(reg["addressed_elsewhere"])
    assert justified <= set(item_keys())
    assert all(
        r.startswith("TEMPLATE EXAMPLE: ")
        for r in {**reg["not_applicable"], **reg["addressed_elsewhere"]}.values()
    )
    pccp = (project / "compliance/pccp.yaml").read_text()
    assert "TEMPLATE EXAMPLE: " in pccp


# --- the default project (slow: bakes the template and runs its pipeline) ----------------------------------


@pytest.mark.slow
def test_default_projects_appendix_lists_every_item(default_project):
    reports = default_project / "reports"
    data = report_json(default_project)
    assert list(items(data)) == item_keys()
    assert all(i["status"] != "GAP" for i in items(data).values()), [
        k for k, i in items(data).items() if i["status"] == "GAP"
    ]
    assert data["pccp"]["verdict"] == "PASS"
    # the template's example reasons and plan are flagged like its other example texts
    assert {"compliance/regulatory.yaml", "compliance/pccp.yaml"} <= set(data["template_examples"])
    appendix = raw_text(reports / "clinical-validation-report.pdf").split(
        "Appendix: regulatory mapping", 1
    )[1]
    for key in item_keys():
        source, _, ident = key.partition("/")
        assert f"{source} {ident}" in appendix, key


@pytest.mark.slow
def test_default_project_passes_strict_once_its_reasons_are_its_own(project_copy):
    from tests.conftest import fill_in_template_examples, run

    fill_in_template_examples(project_copy)
    done = run(["samdkit", "report", "--strict", "--no-pdf"], project_copy, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    data = report_json(project_copy)
    assert data["verdict"] == "PASS" and data["pccp"]["verdict"] == "PASS"
    reg = project_copy / "compliance/regulatory.yaml"
    edit_yaml(reg, lambda d: d["addressed_elsewhere"].pop("Part11/11.10(k)"))
    done = run(["samdkit", "report", "--strict", "--no-pdf"], project_copy, check=False)
    assert done.returncode == 1
    assert "Part11/11.10(k)" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_confusion_item_reads_the_matrix_only_where_the_evaluation_schema_puts_it():
    """overall.confusion_matrix (samdkit.evaluate.document); a table elsewhere is not guessed at."""
    check = EVIDENCE["confusion"][2]
    data = Path(__file__).parent / "data" / "evaluation"
    for name in ("v1-binary.json", "v2-multiclass.json"):
        evaluation = json.loads((data / name).read_text(encoding="utf-8"))
        assert check({"evaluation": evaluation}) is True, name
        matrix = evaluation["overall"].pop("confusion_matrix")
        assert check({"evaluation": evaluation}) is False, name
        evaluation["overall"]["metrics"]["confusion_matrix"] = matrix  # a pre-schema guess
        assert check({"evaluation": evaluation}) is False, name
    assert check({"evaluation": None}) is False
