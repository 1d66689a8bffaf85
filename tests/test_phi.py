"""No patient-level value reaches the evidence: names and record numbers seeded into a project's data are
looked for in every file under reports/ and release/, model.lock, the PDFs' text, the PR comment and the
console output of every command, after the real pipeline (DVC stages, samdkit evaluate/lock/report/comment,
sign --demo) ran on them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import bake_project, commit_all, git, run

# every seeded value matches one of these: MRN0012345-like ids and the invented family name of every patient
SEEDED = re.compile(r"MRN\d{7}|Zorblatt|Quxname\d+")
NAME_AS_SUBGROUP = "Quxname0000 Zorblatt"
MRN_AS_SUBGROUP = "MRN9999999"
PACKAGE = "breast_lesion_triage"


def _seed_patient_data(project: Path) -> None:
    """data/raw/patients.csv: the embedded data with MRNs as ids, a name column and names as subgroup values.

    Rows are placed by the test split the prepare stage already made (split by label order and seed, so the
    same rows land in the test set): two test rows carry a name and an MRN as their size tertile, and one
    test row is the only patient of site 'south' (a subgroup of one).
    """
    import pandas as pd

    test_ids = pd.read_csv(project / "data/prepared/test.csv")["sample_id"]
    positions = [int(i.removeprefix("BC-")) - 1 for i in test_ids]
    code = (
        "import sys; from breast_lesion_triage.example import load_embedded; "
        "load_embedded().to_csv(sys.argv[1], index=False)"
    )
    raw = project / "data/raw/patients.csv"
    raw.parent.mkdir(parents=True, exist_ok=True)
    run(["python", "-c", code, str(raw)], project)
    frame = pd.read_csv(raw)
    frame["sample_id"] = [f"MRN{12345 + i:07d}" for i in range(len(frame))]
    frame.insert(1, "patient_name", [f"Quxname{i:04d} Zorblatt" for i in range(len(frame))])
    frame.loc[positions[0], "size_tertile"] = NAME_AS_SUBGROUP
    frame.loc[positions[1], "size_tertile"] = MRN_AS_SUBGROUP
    frame["site"] = "north"
    frame.loc[positions[2], "site"] = "south"
    frame.to_csv(raw, index=False)

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"].update(
        source="data/raw/patients.csv",
        subgroup_columns=["size_tertile", "site"],
        exclude_columns=["patient_name"],
    )
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # the README's own-data step: samdkit's copies of the data settings follow params.yaml
    run(["python", "-m", f"{PACKAGE}.config", "--sync"], project)
    req = project / "compliance/requirements.yaml"
    text = req.read_text()
    site = "  - column: site\n    values: [north, south]\n    min_n: 30\n"
    req.write_text(text.replace("\n# Published outputs", f"{site}\n# Published outputs", 1))


@pytest.fixture(scope="module")
def phi(tmp_path_factory) -> dict:
    """A project run on seeded patient data; every command's console output is kept."""
    project = bake_project(tmp_path_factory.mktemp("phi"))
    commit_all(project, "scaffold")
    run(["dvc", "repro", "prepare"], project)
    _seed_patient_data(project)
    console: list[str] = []

    def cmd(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
        done = run(list(argv), project, check=check)
        console.append(f"$ {' '.join(argv)}\n{done.stdout}\n{done.stderr}")
        return done

    # the template's expectation suites describe the example data: check-data fails (exit 1) and stops
    # `dvc repro`; each later stage is then run on its own, as a team investigating would
    cmd("dvc", "repro", check=False)
    for stage in ("train", "evaluate", "lock", "report"):
        cmd("dvc", "repro", "-s", stage)
    cmd("samdkit", "check-data", check=False)
    cmd("samdkit", "evaluate", "--no-mlflow")
    verify_lock = cmd("samdkit", "verify-lock", check=False).returncode
    cmd("samdkit", "comment", "--gate", "tests=success")
    cmd("samdkit", "sign", "--demo")
    cmd("samdkit", "verify", check=False)
    texts = {
        pdf.name: subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        for pdf in (project / "reports").glob("*.pdf")
    }
    return {
        "project": project,
        "console": "\n".join(console),
        "pdf_text": texts,
        "verify_lock": verify_lock,
    }


def _leaks(text: str) -> list[str]:
    return sorted(set(SEEDED.findall(text)))


@pytest.mark.slow
def test_no_seeded_value_in_any_output_file(phi):
    project = phi["project"]
    files = [
        p
        for folder in ("reports", "release")
        for p in sorted((project / folder).rglob("*"))
        if p.is_file()
    ] + [project / "model.lock"]
    assert any(p.name == "pr-comment.md" for p in files) and any(
        p.parent.name == "release" for p in files
    )
    leaking = {
        str(p.relative_to(project)): _leaks(p.read_bytes().decode("utf-8", errors="replace"))
        for p in files
    }
    assert not {k: v[:5] for k, v in leaking.items() if v}


@pytest.mark.slow
def test_no_seeded_value_in_the_pdf_text_or_the_console(phi):
    assert set(phi["pdf_text"]) == {"clinical-validation-report.pdf", "model-card.pdf"}
    for name, text in phi["pdf_text"].items():
        assert "Subgroup" in text, name  # the text was extracted
        assert not _leaks(text), name
    assert "samdkit report" in phi["console"]
    assert not _leaks(phi["console"])


@pytest.mark.slow
def test_subgroup_labels_come_only_from_the_expected_values(phi):
    project = phi["project"]
    evaluation = json.loads((project / "reports/evaluation.json").read_text())
    labels = {(g["column"], g["value"]) for g in evaluation["subgroups"]}
    assert labels <= {("size_tertile", v) for v in ("small", "medium", "large")} | {
        ("site", "north"),
        ("site", "south"),
    }
    # the name and the MRN typed into the subgroup column are counted, never echoed
    assert evaluation["subgroup_values_unexpected"] == [{"column": "size_tertile", "rows": 2}]
    assert "2 row(s) with values outside the expected list" in phi["console"]
    predictions = (project / "reports/predictions.csv").read_text()
    assert predictions.splitlines()[0].startswith("row,label,score,predicted")


@pytest.mark.slow
def test_a_subgroup_of_one_patient_is_suppressed_in_published_outputs(phi):
    project = phi["project"]
    evaluation = json.loads((project / "reports/evaluation.json").read_text())
    site = {g["value"]: g for g in evaluation["subgroups"] if g["column"] == "site"}
    assert site["south"]["n"] == 1 and site["south"]["suppressed"]
    # its only partner is suppressed too, or overall minus north would give the patient away
    assert site["north"]["suppressed"]

    card = json.loads((project / "reports/model-card.json").read_text())
    rows = {f["subgroup"]: f for f in card["fairness"]}
    for name in ("site=south", "site=north"):
        assert rows[name] == {"subgroup": name, "suppressed": True, "n": "suppressed"}
    assert not [q for q in card["quantitative_analysis"] if q["slice"].startswith("site=")]
    md = (project / "reports/model-card.md").read_text()
    assert "| site=south | suppressed | suppressed (small cell) |" in md
    assert "site=south" in phi["pdf_text"]["model-card.pdf"]
    sbom = (project / "reports/sbom.cdx.json").read_text()  # published with the release
    assert "site=south" not in sbom and "site=north" not in sbom and "size_tertile=small" in sbom

    # the controlled report keeps the cell with its n, flagged
    report = json.loads((project / "reports/clinical-validation-report.json").read_text())
    south = next(g for g in report["evaluation"]["subgroups"] if g["value"] == "south")
    assert south["n"] == 1 and south["below_min_n"]


@pytest.mark.slow
def test_the_lock_names_golden_rows_by_position(phi):
    assert phi["verify_lock"] == 0, "verify-lock works on a lock without ids"
    lock = json.loads((phi["project"] / "model.lock").read_text())
    rows = lock["determinism"]["row_ids"]
    assert rows == [f"row {i + 1}" for i in range(len(rows))]


@pytest.mark.slow
def test_git_add_all_before_dvc_add_does_not_commit_the_patient_file(phi, tmp_path):
    project = shutil.copytree(phi["project"], tmp_path / "p", symlinks=True)
    git(project, "add", "-A")
    tracked = git(project, "ls-files", "data").stdout.split()
    assert "data/raw/patients.csv" not in tracked
    run(["dvc", "add", "data/raw/patients.csv"], project)
    git(project, "add", "-A")
    # the template's data/raw/.gitignore (which keeps the folder) and DVC's pointer: never the rows
    assert git(project, "ls-files", "data/raw").stdout.split() == [
        "data/raw/.gitignore",
        "data/raw/patients.csv.dvc",
    ]


@pytest.mark.slow
def test_a_failing_stage_prints_no_row(phi, tmp_path):
    """A library error in the evaluate stage (a name in a feature column) is one line without the values."""
    project = shutil.copytree(phi["project"], tmp_path / "p", symlinks=True)
    test_csv = project / "data/prepared/test.csv"
    lines = test_csv.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("mean_radius")] = NAME_AS_SUBGROUP
    lines[1] = ",".join(cells)
    test_csv.write_text("\n".join(lines) + "\n")
    done = run(["python", "-m", f"{PACKAGE}.evaluate"], project, check=False)
    assert done.returncode == 3, done.stderr
    assert "message is withheld" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not _leaks(done.stdout + done.stderr)


@pytest.mark.slow
def test_lock_and_verify_lock_never_print_golden_rows(phi, tmp_path):
    """MLflow's schema error prints the whole input frame; samdkit says which column, not what is in it."""
    project = shutil.copytree(phi["project"], tmp_path / "p", symlinks=True)
    golden = project / "data/prepared/golden.csv"
    lines = golden.read_text().splitlines()
    header, cells = lines[0].split(","), lines[1].split(",")
    cells[header.index("mean_radius")] = NAME_AS_SUBGROUP
    lines[1] = ",".join(cells)
    golden.write_text("\n".join(lines) + "\n")
    verify = run(["samdkit", "verify-lock"], project, check=False)
    assert verify.returncode == 1
    assert "[model-load]" in verify.stdout and "non-numeric column(s): mean_radius" in verify.stdout
    lock = run(["samdkit", "lock"], project, check=False)
    assert lock.returncode == 2 and len(lock.stderr.strip().splitlines()) == 1, lock.stderr
    for done in (verify, lock):
        assert not _leaks(done.stdout + done.stderr)
        assert "rows x" not in done.stdout + done.stderr  # no printed data frame


# ------------------------------------------------------------------- fast: the rules on small inputs

REQUIREMENTS = """\
methods:
  bootstrap_resamples: 50
subgroups:
  - column: sex
    values: [female, male]
    min_n: 5
requirements:
  - id: R1
    metric: specificity
    comparator: ">="
    threshold: 0.5
    subgroup: sex=*
"""


def _frame(sexes: list[str | None]):
    import pandas as pd

    n = len(sexes)
    return pd.DataFrame(
        {
            "sample_id": [f"MRN{i:07d}" for i in range(n)],
            "label": [i % 2 for i in range(n)],
            "score": [0.9 if i % 2 else 0.1 for i in range(n)],
            "predicted": [i % 2 for i in range(n)],
            "sex": sexes,
        }
    )


def _compute(tmp_path: Path, sexes: list[str | None], text: str = REQUIREMENTS) -> dict:
    from samdkit.evaluate import criteria
    from samdkit.evaluate.compute import compute

    path = tmp_path / "requirements.yaml"
    path.write_text(text)
    req = criteria.load(path)
    return compute(_frame(sexes), req, 0.5, ["sex"])


def test_unexpected_subgroup_values_are_counted_never_echoed(tmp_path):
    sexes = ["female"] * 20 + ["male"] * 20 + ["Zelda Zorblatt", "MRN0012345", None]
    doc = _compute(tmp_path, sexes)
    assert {g["value"] for g in doc["subgroups"]} == {"female", "male"}
    assert doc["subgroup_values_unexpected"] == [{"column": "sex", "rows": 3}]
    assert not _leaks(json.dumps(doc))


def test_a_cell_of_one_and_its_partner_are_suppressed(tmp_path):
    doc = _compute(tmp_path, ["female"] * 40 + ["male"])
    cells = {g["value"]: g for g in doc["subgroups"]}
    assert cells["male"]["n"] == 1 and cells["male"]["suppressed"]
    assert cells["female"]["suppressed"]  # else overall minus female gives the male patient away
    big = _compute(tmp_path, ["female"] * 40 + ["male"] * 12)
    assert not any(g["suppressed"] for g in big["subgroups"])
    sized = REQUIREMENTS + "publication:\n  min_cell_size: 13\n"
    assert _compute(tmp_path, ["female"] * 40 + ["male"] * 12, sized)["publication"] == {
        "min_cell_size": 13
    }


def test_a_subgroup_column_without_expected_values_is_refused(tmp_path):
    from samdkit.core.errors import UserError

    text = REQUIREMENTS.replace("    values: [female, male]\n", "")
    with pytest.raises(UserError, match="subgroup column 'sex' has no list of expected values"):
        _compute(tmp_path, ["female"] * 10, text)
    bad = REQUIREMENTS.replace("subgroup: sex=*", "subgroup: sex=Zelda")
    with pytest.raises(UserError, match=r"requirements.yaml:\d+: R1: subgroup value is not"):
        _compute(tmp_path, ["female"] * 10, bad)


def test_the_comment_never_shows_a_suppressed_subgroup_value(tmp_path):
    from samdkit.ci import comment

    doc = _compute(tmp_path, ["female"] * 40 + ["male"])
    lines = "\n".join(comment._criteria(doc, None))
    male = next(line for line in lines.splitlines() if "sex=male" in line)
    assert "suppressed (n" in male and "1.000" not in male and "0.000" not in male


def test_coded_subgroups_match_their_expected_codes_despite_empty_cells(tmp_path):
    text = REQUIREMENTS.replace("values: [female, male]", "values: [0, 1]").replace(
        "subgroup: sex=*", "subgroup: sex=1"
    )
    doc = _compute(tmp_path, [0] * 20 + [1] * 20 + [None], text)
    assert {g["value"]: g["n"] for g in doc["subgroups"]} == {"0": 20, "1": 20}
    assert doc["subgroup_values_unexpected"] == [{"column": "sex", "rows": 1}]
