# ruff: noqa: RUF001  (the checklist text prints a multiplication sign)
"""Issue 14: string labels with positive_label, and multiclass outcomes, through evaluate → report/card/comment.

Every number is checked against scikit-learn called directly here on the same predictions.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import samdkit_cli

REPORT_DATA = Path(__file__).parent / "data" / "report"
CLASSES = ["alive", "dead", "transferred"]

REQUIREMENTS = """\
version: 1
methods:
  bootstrap_resamples: 200
  bootstrap_seed: 7
subgroups:
  - {column: sex, values: [F, M], min_n: 20}
requirements:
  - id: REQ-MC-001
    metric: sensitivity
    class: dead
    statistic: ci_lower
    comparator: ">="
    threshold: 0.30
    risks: [RISK-001]
  - id: REQ-MC-002
    metric: auroc
    comparator: ">="
    threshold: 0.70
    risks: [RISK-001]
  - id: REQ-MC-003
    metric: specificity
    class: transferred
    comparator: ">="
    threshold: 0.50
    subgroup: sex=*
    risks: [RISK-002]
"""

BINARY_REQUIREMENTS = """\
version: 1
methods:
  bootstrap_resamples: 200
  bootstrap_seed: 7
subgroups:
  - {column: sex, values: [F, M], min_n: 20}
requirements:
  - id: REQ-BIN-001
    metric: sensitivity
    class: dead
    comparator: ">="
    threshold: 0.50
    risks: [RISK-001]
  - id: REQ-BIN-002
    metric: auroc
    statistic: ci_lower
    comparator: ">="
    threshold: 0.60
    risks: [RISK-001]
"""


def multiclass_frame(n: int = 240, seed: int = 3) -> pd.DataFrame:
    """Three classes, softmax probabilities that favour the true class, a sex column."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3))
    logits[np.arange(n), y] += 1.5
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    frame = pd.DataFrame({"row": np.arange(n), "label": np.array(CLASSES)[y]})
    for k, name in enumerate(CLASSES):
        frame[f"score_{name}"] = probs[:, k]
    frame["predicted"] = np.array(CLASSES)[probs.argmax(axis=1)]
    frame["sex"] = rng.choice(["F", "M"], n)
    return frame


def binary_frame(n: int = 200, seed: int = 5) -> pd.DataFrame:
    """String labels dead/alive; `predicted` 1/0 at threshold 0.5 as the contract says."""
    rng = np.random.default_rng(seed)
    dead = rng.random(n) < 0.35
    score = np.clip(rng.normal(0.3 + 0.35 * dead, 0.18), 0, 1)
    return pd.DataFrame(
        {
            "row": np.arange(n),
            "label": np.where(dead, "dead", "alive"),
            "score": score,
            "predicted": (score >= 0.5).astype(int),
            "sex": rng.choice(["F", "M"], n),
        }
    )


def make_project(root: Path, frame: pd.DataFrame, requirements: str, params: str) -> Path:
    (root / "reports").mkdir(parents=True, exist_ok=True)
    (root / "compliance").mkdir(exist_ok=True)
    frame.to_csv(root / "reports" / "predictions.csv", index=False)
    (root / "compliance" / "requirements.yaml").write_text(requirements)
    (root / "params.yaml").write_text(params)
    return root


MC_PARAMS = "data:\n  label_column: outcome\n  subgroup_columns: [sex]\n"
BIN_PARAMS = (
    "data:\n  positive_label: dead\n  subgroup_columns: [sex]\nevaluate:\n  threshold: 0.5\n"
)


def evaluate(root: Path, *extra: str) -> tuple[int, dict | None, subprocess.CompletedProcess]:
    done = samdkit_cli("evaluate", "--no-mlflow", *extra, cwd=root)
    path = root / "reports" / "evaluation.json"
    doc = json.loads(path.read_text()) if path.is_file() else None
    return done.returncode, doc, done


@pytest.fixture(scope="module")
def mc(tmp_path_factory):
    """A three-class project, evaluated once."""
    frame = multiclass_frame()
    root = make_project(tmp_path_factory.mktemp("mc"), frame, REQUIREMENTS, MC_PARAMS)
    code, doc, done = evaluate(root)
    assert code in (0, 1), done.stderr
    return root, frame, doc, done


# ------------------------------------------------------------------------------------------ evaluation


def test_multiclass_metrics_agree_with_sklearn(mc):
    from sklearn.metrics import confusion_matrix, roc_auc_score
    from statsmodels.stats.proportion import proportion_confint

    _, frame, doc, done = mc
    assert doc["schema"] == "samdkit/evaluation/v2"
    assert (doc["task"], doc["classes"]) == ("multiclass", CLASSES)
    overall = doc["overall"]
    matrix = confusion_matrix(frame["label"], frame["predicted"], labels=CLASSES)
    assert overall["confusion_matrix"]["matrix"] == matrix.tolist()
    assert overall["confusion_matrix"]["labels"] == CLASSES
    scores = frame[[f"score_{c}" for c in CLASSES]].to_numpy()
    macro = roc_auc_score(
        frame["label"], scores, multi_class="ovr", average="macro", labels=CLASSES
    )
    auroc = overall["metrics"]["auroc"]
    assert auroc["value"] == pytest.approx(macro)
    assert auroc["ci"]["lower"] < macro < auroc["ci"]["upper"]
    assert "bootstrap" in auroc["ci"]["method"]
    assert overall["metrics"]["accuracy"]["value"] == pytest.approx(
        (frame["label"] == frame["predicted"]).mean()
    )
    for k, name in enumerate(CLASSES):
        entry = next(e for e in overall["per_class"] if e["class"] == name)
        truth, pred = frame["label"] == name, frame["predicted"] == name
        tp, fn = int((truth & pred).sum()), int((truth & ~pred).sum())
        fp, tn = int((~truth & pred).sum()), int((~truth & ~pred).sum())
        assert entry["confusion_matrix"] == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
        m = entry["metrics"]
        for metric, (k_, n_) in {
            "sensitivity": (tp, tp + fn),
            "specificity": (tn, tn + fp),
            "ppv": (tp, tp + fp),
            "npv": (tn, tn + fn),
        }.items():
            lower, upper = proportion_confint(k_, n_, alpha=0.05, method="wilson")
            assert m[metric]["value"] == pytest.approx(k_ / n_), (name, metric)
            assert (m[metric]["ci"]["lower"], m[metric]["ci"]["upper"]) == pytest.approx(
                (lower, upper)
            )
        assert m["auroc"]["value"] == pytest.approx(roc_auc_score(truth, scores[:, k]))
        assert m["auroc"]["ci"]["lower"] < m["auroc"]["value"] < m["auroc"]["ci"]["upper"]
        assert entry["calibration"]["bins"] and entry["calibration"]["brier"]["value"] > 0
    # subgroups carry per-class entries too, with gaps to the class's overall value
    group = next(g for g in doc["subgroups"] if g["value"] == "F")
    part = frame[frame["sex"] == "F"]
    dead = next(e for e in group["per_class"] if e["class"] == "dead")
    sens = ((part["label"] == "dead") & (part["predicted"] == "dead")).sum() / (
        part["label"] == "dead"
    ).sum()
    assert dead["metrics"]["sensitivity"]["value"] == pytest.approx(sens)
    overall_dead = next(e for e in overall["per_class"] if e["class"] == "dead")
    assert dead["gap_to_overall"]["sensitivity"] == pytest.approx(
        sens - overall_dead["metrics"]["sensitivity"]["value"]
    )
    assert "class dead (one-vs-rest)" in done.stdout


def test_criterion_naming_a_class_is_checked_against_that_class(mc):
    _, _, doc, _ = mc
    rows = {(c["id"], c["subgroup"]): c for c in doc["criteria"]}
    dead = next(e for e in doc["overall"]["per_class"] if e["class"] == "dead")
    row = rows[("REQ-MC-001", None)]
    assert row["class"] == "dead"
    assert row["observed"] == pytest.approx(dead["metrics"]["sensitivity"]["ci"]["lower"])
    assert row["criterion"] == "lower 95% CI bound of sensitivity of class dead >= 0.3"
    assert row["result"] == "PASS"
    assert rows[("REQ-MC-002", None)]["observed"] == doc["overall"]["metrics"]["auroc"]["value"]
    assert {k[1] for k in rows if k[0] == "REQ-MC-003"} == {"sex=F", "sex=M"}
    assert doc["verdict"] == "PASS"


@pytest.mark.slow  # several evaluate runs in fresh processes
def test_criterion_naming_a_class_fails_when_that_class_misses(tmp_path, mc):
    _, frame, doc, _ = mc
    dead = next(e for e in doc["overall"]["per_class"] if e["class"] == "dead")
    lower = dead["metrics"]["sensitivity"]["ci"]["lower"]
    text = REQUIREMENTS.replace("threshold: 0.30", f"threshold: {lower + 0.01:.4f}")
    root = make_project(tmp_path, frame, text, MC_PARAMS)
    code, doc2, done = evaluate(root, "--format", "github")
    assert code == 1, done.stderr
    failed = [c["id"] for c in doc2["criteria"] if c["result"] == "FAIL"]
    assert failed == ["REQ-MC-001"]
    assert "title=REQ-MC-001::" in done.stdout and "of class dead" in done.stdout


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda f, r: (f, r.replace("class: dead", "class: deceased")), "class 'deceased' is not a class"),
        (lambda f, r: (f, r.replace("    class: dead\n", "")), "sensitivity of a multiclass outcome is one-vs-rest"),
        (lambda f, r: (f.drop(columns=["score_dead"]), r), "have a label that is not among the classes (alive, transferred)"),
        (lambda f, r: (f.assign(label=f["label"].replace("dead", "Dead")), r), "row(s) have a label that is not among the classes (alive, dead, transferred)"),
        (lambda f, r: (f.assign(score_dead=f["score_dead"] * 0.5), r), "do not sum to 1"),
        (lambda f, r: (f.assign(score=0.5), r), "both 'score' and score_<class> columns"),
    ],
)  # fmt: skip
def test_bad_multiclass_input_is_one_line_exit_2(tmp_path, change, words):
    frame, text = change(multiclass_frame(), REQUIREMENTS)
    root = make_project(tmp_path, frame, text, MC_PARAMS)
    code, doc, done = evaluate(root)
    assert code == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert words in done.stderr
    assert "Traceback" not in done.stderr and doc is None  # nothing written
    assert "Dead" not in done.stderr  # a label value of the data is never echoed


@pytest.mark.slow  # several evaluate runs in fresh processes
def test_classes_from_params_are_the_contract(tmp_path):
    frame = multiclass_frame()
    params = MC_PARAMS + "  classes: [alive, dead, transferred, unknown]\n"
    root = make_project(tmp_path, frame, REQUIREMENTS, params)
    code, _, done = evaluate(root)
    assert code == 2 and "missing column(s) score_unknown" in done.stderr
    params = MC_PARAMS + "  classes: [alive, dead, transferred]\n"
    root = make_project(tmp_path, frame.drop(columns=["predicted"]), REQUIREMENTS, params)
    code, doc, done = evaluate(root)
    assert code == 0, done.stderr
    # without `predicted`, the most probable class is the prediction
    expected = frame[[f"score_{c}" for c in CLASSES]].to_numpy().argmax(axis=1)
    assert np.trace(doc["overall"]["confusion_matrix"]["matrix"]) == int(
        (np.array(CLASSES)[expected] == frame["label"]).sum()
    )


@pytest.mark.slow  # several evaluate runs in fresh processes
def test_string_binary_labels_honour_positive_label(tmp_path):
    from sklearn.metrics import confusion_matrix, roc_auc_score

    frame = binary_frame()
    root = make_project(tmp_path, frame, BINARY_REQUIREMENTS, BIN_PARAMS)
    code, doc, done = evaluate(root)
    assert code == 0, done.stdout + done.stderr
    assert doc["schema"] == "samdkit/evaluation/v1" and doc["positive_label"] == "dead"
    y = (frame["label"] == "dead").astype(int)
    tn, fp, fn, tp = confusion_matrix(y, frame["predicted"]).ravel()
    assert doc["overall"]["confusion_matrix"] == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
    assert doc["overall"]["metrics"]["auroc"]["value"] == pytest.approx(
        roc_auc_score(y, frame["score"])
    )
    assert doc["criteria"][0]["class"] == "dead"
    # predicted as label names instead of 1/0 gives the same evaluation
    named = frame.assign(predicted=np.where(frame["predicted"] == 1, "dead", "alive"))
    root2 = make_project(tmp_path / "named", named, BINARY_REQUIREMENTS, BIN_PARAMS)
    code2, doc2, _ = evaluate(root2)
    assert code2 == 0
    assert doc2["overall"]["confusion_matrix"] == doc["overall"]["confusion_matrix"]
    # the other label as the positive one flips the table
    root3 = make_project(
        tmp_path / "flip",
        frame.assign(score=1 - frame["score"], predicted=1 - frame["predicted"]),
        BINARY_REQUIREMENTS.replace("class: dead", "class: alive"),
        BIN_PARAMS.replace("dead", "alive"),
    )
    _, doc3, done3 = evaluate(root3)
    assert doc3["overall"]["confusion_matrix"] == {"tp": tn, "fp": fn, "fn": fp, "tn": tp}, done3
    # a typo in positive_label: two labels, neither positive → one line, exit 2
    root4 = make_project(
        tmp_path / "typo", frame, BINARY_REQUIREMENTS, BIN_PARAMS.replace("dead", "Dead")
    )
    code4, _, done4 = evaluate(root4)
    assert code4 == 2 and len(done4.stderr.strip().splitlines()) == 1
    assert "positive_label 'Dead' and one other value" in done4.stderr
    # a class of a binary criterion other than the positive label is refused
    root5 = make_project(
        tmp_path / "cls",
        frame,
        BINARY_REQUIREMENTS.replace("class: dead", "class: alive"),
        BIN_PARAMS,
    )
    code5, _, done5 = evaluate(root5)
    assert code5 == 2 and "must be the positive_label 'dead'" in done5.stderr


# ----------------------------------------------------------------------------- report, card, comment


def words_of(pdf: Path) -> list[tuple[int, float, float, float, float, str]]:
    """Every word of the PDF with its page and box (poppler's pdftotext -bbox)."""
    import html
    import re

    out = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    found = []
    for page, body in enumerate(out.split("<page ")[1:], start=1):
        for m in re.finditer(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<', body
        ):
            x0, y0, x1, y1 = (float(v) for v in m.groups()[:4])
            found.append((page, x0, y0, x1, y1, html.unescape(m.group(5))))
    return found


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """The multiclass project with the full evidence set of tests/test_report.py: evaluate, report, comment."""
    from tests.test_report import populate

    root = tmp_path_factory.mktemp("mcreport")
    csv = root.parent / f"{root.name}-predictions.csv"
    multiclass_frame().to_csv(csv, index=False)
    populate(root, csv)
    (root / "compliance" / "requirements.yaml").write_text(REQUIREMENTS)
    (root / "params.yaml").write_text(MC_PARAMS + "  source: synthetic three-class outcome\n")
    env = {**__import__("os").environ, "SOURCE_DATE_EPOCH": "1767225600"}
    for argv in (
        ["evaluate", "--no-mlflow"],
        ["report"],
        ["comment", "--output", "comment.md", "--gate", "lint=success"],
    ):
        done = samdkit_cli(*argv, cwd=root, env=env)
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
    return root


@pytest.mark.slow
def test_report_pdf_lays_out_the_confusion_matrix_and_per_class_rows(reported):
    doc = json.loads((reported / "reports" / "evaluation.json").read_text())
    # one vertical coordinate through the document: page * 1000 + y (an A4 page is 842 pt high)
    words = [
        (x0, page * 1000 + y0, x1, page * 1000 + y1, text)
        for page, x0, y0, x1, y1, text in words_of(
            reported / "reports" / "clinical-validation-report.pdf"
        )
    ]
    matrix = doc["overall"]["confusion_matrix"]["matrix"]

    def below(text: str, after: float) -> tuple:
        return min((w for w in words if w[4] == text and w[1] > after), key=lambda w: w[1])

    def row_of(label: str, after: float) -> list[str]:
        """The words of the first line below `after` whose first word is label, left to right."""
        for start in sorted(
            (w for w in words if w[4] == label and w[1] > after), key=lambda w: w[1]
        ):
            line = sorted((w for w in words if abs(w[1] - start[1]) < 2), key=lambda w: w[0])
            if line[0][4] == label:
                return [w[4] for w in line]
        raise AssertionError(f"no line starts with {label}")

    top = below("Confusion", 2000)[1]  # section 7, after the first page
    for label, counts in zip(CLASSES, matrix, strict=True):
        assert row_of(label, top) == [label, *map(str, counts), str(sum(counts))]
    # the per-class table: one row per class, its sensitivity under the Sensitivity column head
    title = below("Per", top)
    header = below("Sensitivity", title[1])
    for item in doc["overall"]["per_class"]:
        cells = row_of(item["class"], header[1])
        sens = f"{item['metrics']['sensitivity']['value']:.3f}"
        assert cells[:3] == [item["class"], str(item["n_positive"]), sens]
        box = below(sens, header[1])
        assert header[0] - 40 < box[0] and box[2] < header[2] + 40, (box, header)
    text = subprocess.run(
        ["pdftotext", "-raw", str(reported / "reports" / "clinical-validation-report.pdf"), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "lower 95% CI bound of sensitivity of class dead >=" in text
    assert "Classes (test)" in text and "multiclass outcome" in text


@pytest.mark.slow
def test_model_card_and_hugging_face_metadata_hold_per_class_metrics(reported):
    import yaml

    doc = json.loads((reported / "reports" / "evaluation.json").read_text())
    card = json.loads((reported / "reports" / "model-card.json").read_text())
    dead = next(e for e in doc["overall"]["per_class"] if e["class"] == "dead")
    rows = [
        q
        for q in card["quantitative_analysis"]
        if q.get("class") == "dead" and q["slice"] == "overall"
    ]
    sens = next(q for q in rows if q["metric"] == "sensitivity")
    assert sens["value"] == dead["metrics"]["sensitivity"]["value"]
    assert sens["pass"] is True and "of class dead" in sens["acceptance_criterion"]
    md = (reported / "reports" / "model-card.md").read_text()
    front = yaml.safe_load(md.split("---")[1])
    result = front["model-index"][0]["results"][0]
    assert result["task"]["name"] == "Multiclass classification"
    by_name = {(m["type"], (m.get("args") or {}).get("class")): m for m in result["metrics"]}
    for item in doc["overall"]["per_class"]:
        for metric in ("sensitivity", "specificity", "ppv", "npv", "auroc"):
            entry = by_name[(metric, item["class"])]
            assert entry["value"] == round(item["metrics"][metric]["value"], 4)
            assert f"of class {item['class']}" in entry["name"]
    assert by_name[("auroc", None)]["value"] == round(
        doc["overall"]["metrics"]["auroc"]["value"], 4
    )
    assert f"| sensitivity (class dead) | overall | {doc['overall']['n']} |" in md
    pdf_words = [w[5] for w in words_of(reported / "reports" / "model-card.pdf")]
    assert sum(1 for a, b in itertools.pairwise(pdf_words) if (a, b) == ("class", "dead")) >= 5


@pytest.mark.slow
def test_pr_comment_shows_per_class_metrics(reported):
    doc = json.loads((reported / "reports" / "evaluation.json").read_text())
    md = (reported / "comment.md").read_text()
    dead = next(e for e in doc["overall"]["per_class"] if e["class"] == "dead")
    value = f"{dead['metrics']['sensitivity']['value']:.3f}"
    assert f"| sensitivity of class dead | — | {value} | — |" in md
    macro = f"{doc['overall']['metrics']['auroc']['value']:.3f}"
    assert f"| auroc (macro) | — | {macro} | — |" in md
    assert "lower 95% CI bound of sensitivity of class dead >= 0.3" in md
    # the patient-level rows never reach the comment: no row number of the predictions appears
    assert "score_dead" not in md


@pytest.mark.slow
def test_readers_refuse_an_evaluation_schema_they_do_not_know(reported, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(reported, root)
    path = root / "reports" / "evaluation.json"
    doc = json.loads(path.read_text())
    doc["schema"] = "samdkit/evaluation/v9"
    path.write_text(json.dumps(doc))
    before = (root / "reports" / "clinical-validation-report.pdf").read_bytes()
    done = samdkit_cli("report", "--no-pdf", cwd=root)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    # the unknown schema is named as unknown, never quoted (a hand-edited value is data)
    assert "an unknown schema" in done.stderr and "v9" not in done.stderr
    assert (root / "reports" / "clinical-validation-report.pdf").read_bytes() == before
    done = samdkit_cli("comment", "--output", "c.md", cwd=root)  # strict too: exit 2, one line
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "an unknown schema" in done.stderr and "v9" not in done.stderr


@pytest.mark.slow
def test_checklists_find_the_multiclass_evidence(reported):
    """STARD/TRIPOD/FDA items on the 2x2 table, threshold and calibration read the multiclass evidence."""
    data = json.loads((reported / "reports" / "clinical-validation-report.json").read_text())
    messages = " ".join(g["message"] for g in data["gaps"])
    for lacking in (
        "2×2 table at the operating point",
        "decision threshold of the operating point",
        "Brier score, calibration slope and intercept",
    ):
        assert lacking not in messages, lacking


@pytest.mark.slow
def test_report_draws_one_roc_and_reliability_line_per_class(reported):
    """The figures the pipeline declares as an output exist for a multiclass outcome too."""
    doc = json.loads((reported / "reports" / "evaluation.json").read_text())
    figures = reported / "reports" / "figures"
    assert sorted(p.name for p in figures.iterdir()) == ["calibration.svg", "roc.svg"]
    roc = (figures / "roc.svg").read_text()
    for item in doc["overall"]["per_class"]:
        auroc = item["metrics"]["auroc"]["value"]
        assert f"{item['class']} (AUROC {auroc:.3f})" in roc
        assert item["curves"]["roc"]["fpr"][0] == 0
    assert all(c in (figures / "calibration.svg").read_text() for c in CLASSES)
    html = (reported / "reports" / "clinical-validation-report.html").read_text()
    assert 'alt="ROC curve"' in html and 'alt="Reliability diagram"' in html
    markdown = (reported / "reports" / "clinical-validation-report.md").read_text()
    assert "](figures/roc.svg)" in markdown


def test_two_hundred_classes_give_a_short_error_line(tmp_path):
    """A message listing classes names the first few and counts the rest: one readable line."""
    rng = np.random.default_rng(7)
    names = [f"c{k:03d}" for k in range(200)]
    probs = rng.dirichlet(np.ones(200), size=400)
    frame = pd.DataFrame({"row": np.arange(400), "label": rng.choice(names, 400)})
    frame = pd.concat([frame, pd.DataFrame(probs, columns=[f"score_{n}" for n in names])], axis=1)
    frame.loc[0, "label"] = "unknown"
    frame["sex"] = rng.choice(["F", "M"], 400)
    root = make_project(
        tmp_path, frame, REQUIREMENTS.replace("class: dead", "class: c000"), MC_PARAMS
    )
    code, doc, done = evaluate(root)
    assert code == 2 and doc is None, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "c000, c001" in line and "and 192 more" in line and len(line) < 400, line
