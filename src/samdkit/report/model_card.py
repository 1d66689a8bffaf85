# ruff: noqa: RUF001  (typographic dashes and signs are intended: they are printed in the evidence)
"""The model card: one JSON source (fields of docs/regulatory-evidence: Mitchell et al., Hugging Face, MCT),
laid out in the CHAI applied model card's sections (samdkit.regulatory.chai), plus its Hugging Face metadata."""

from __future__ import annotations

from typing import Any

from samdkit.report.sections.results import attributes_statement

SCHEMA = "samdkit/model-card/v1"
SUBGROUP_METRICS = ("sensitivity", "specificity", "auroc")


def published_subgroups(evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    """Subgroups as a published output may show them: small cells (and their partner) without numbers."""
    out = []
    for g in evaluation.get("subgroups", []):
        if g.get("suppressed", g.get("n", 0) < 11):
            out.append({"column": g["column"], "value": g["value"], "suppressed": True})
        else:
            out.append({**g, "suppressed": False})
    return out


class _Quantitative:
    """The card's quantitative analysis: one row per metric and slice, with its acceptance criterion."""

    def __init__(self, evaluation: dict[str, Any]) -> None:
        self.evaluation = evaluation
        self.multiclass = bool(evaluation.get("classes"))
        self.rows: list[dict[str, Any]] = []
        self.criteria: dict[tuple[str, str | None, str | None], dict[str, Any]] = {}
        for c in evaluation.get("criteria", []):
            self.criteria.setdefault((c["metric"], c.get("subgroup"), c.get("class")), c)

    def add(
        self, metric: str, entry: dict[str, Any], slice_name: str, n: int, cls: str | None = None
    ) -> None:
        where = None if slice_name == "overall" else slice_name
        crit = self.criteria.get((metric, where, cls))
        if crit is None and cls is not None and cls == self.evaluation.get("positive_label"):
            crit = self.criteria.get((metric, where, None))
        row = {
            "metric": metric,
            "value": entry.get("value"),
            "ci": entry.get("ci"),
            "slice": slice_name,
            "n": n,
            "acceptance_criterion": crit.get("criterion") if crit else None,
            "pass": (crit.get("result") == "PASS") if crit else None,
        }
        if self.multiclass:  # one-vs-rest metric of a class; None = the outcome as a whole
            row["class"] = cls
        self.rows.append(row)

    def add_classes(self, entry: dict[str, Any], slice_name: str, names: tuple[str, ...]) -> None:
        for item in entry.get("per_class") or []:
            for name in names:
                metric = (item.get("metrics") or {}).get(name)
                if metric is None:
                    metric = (item.get("calibration") or {}).get(name, {})
                self.add(name, metric, slice_name, item.get("n", 0), item.get("class"))

    def overall(self) -> None:
        evaluation = self.evaluation
        overall = evaluation.get("overall", {})
        for name in evaluation.get("headline_metrics", []):
            self.add(name, overall.get("metrics", {}).get(name, {}), "overall", overall.get("n", 0))
        for name in ("brier", "ece", "calibration_slope", "calibration_intercept"):
            if name in overall.get("calibration", {}):
                self.add(name, overall["calibration"][name], "overall", overall.get("n", 0))
        self.add_classes(
            overall, "overall", (*(evaluation.get("class_metrics") or ()), "brier", "ece")
        )

    def subgroups(self) -> list[dict[str, Any]]:
        """The subgroup rows, and the fairness table (small cells suppressed)."""
        fairness = []
        for g in published_subgroups(self.evaluation):
            slice_name = f"{g['column']}={g['value']}"
            if g["suppressed"]:  # a published card never describes one or a few patients
                fairness.append({"subgroup": slice_name, "suppressed": True, "n": "suppressed"})
                continue
            for name in SUBGROUP_METRICS:
                if name in g.get("metrics", {}):
                    self.add(name, g["metrics"][name], slice_name, g["n"])
            self.add_classes(g, slice_name, SUBGROUP_METRICS)
            fairness.append(
                {
                    "subgroup": slice_name,
                    "n": g["n"],
                    "below_min_n": g["below_min_n"],
                    "suppressed": False,
                    "gaps": {k: g["gap_to_overall"].get(k) for k in SUBGROUP_METRICS},
                }
            )
        return fairness


def reg_row_label(ctx: dict[str, Any]) -> str:
    """The section-2 label of the IEC 62304 class (edition 1) or rigour level (edition 2)."""
    edition = (ctx.get("iec62304") or {}).get("edition", "1")
    return f"IEC 62304 {'software safety class' if edition == '1' else 'process rigour level'}"


def _lifecycle(ctx: dict[str, Any], card_src: dict[str, Any]) -> dict[str, Any]:
    """The card's lifecycle; a declared PCCP (judged in appendix A.2) is its change-control plan."""
    from samdkit.regulatory import pccp

    lifecycle = dict(card_src.get("lifecycle") or {})
    plan = pccp.change_control(ctx.get("pccp"), ctx["document"]["id"])
    if plan:
        own = lifecycle.pop("change_control", None)
        lifecycle["change_control"] = plan
        if own:
            lifecycle["change_control_notes"] = own
    return lifecycle


def _details(ctx: dict[str, Any], details_src: dict[str, Any]) -> dict[str, Any]:
    lock = ctx.get("lock") or {}
    manufacturer = ctx.get("manufacturer")
    if isinstance(manufacturer, dict):
        manufacturer = manufacturer.get("name")
    return {
        "name": ctx["device_name"],
        "version": details_src.get("version") or ctx["document"]["revision"],
        "date": ctx["document"]["generated_utc"],
        "date_basis": ctx["document"].get("time_basis"),
        "manufacturer": manufacturer,
        "contact": details_src.get("contact"),
        "license": details_src.get("license"),
        "regulatory_status": dict(ctx["intended_use"]).get("Regulatory status"),
        "iec_62304_class": dict(ctx["intended_use"]).get(reg_row_label(ctx)),
        "model_sha256": lock.get("root_digest"),
        "git_commit": ctx["git"].get("commit"),
        "locked": bool(lock.get("root_digest")) and lock.get("identical") is True,
        # the rebuild verdict as the report states it: whose claim, when, how an auditor confirms it
        "rebuild": lock.get("rebuild"),
        "change_log": details_src.get("change_log") or [],
        "document_id": ctx["document"]["model_card_id"],
    }


def _intended_use(ctx: dict[str, Any]) -> dict[str, Any]:
    intended = dict(ctx["intended_use"])
    return {
        "statement": intended.get("Intended use statement") or intended.get("Indication"),
        "population": intended.get("Target population"),
        "users": intended.get("Intended users"),
        "setting": intended.get("Use setting"),
        "out_of_scope": intended.get("Out-of-scope use"),
        "human_oversight": intended.get("Human oversight"),
    }


def _considerations(ctx: dict[str, Any], card_src: dict[str, Any]) -> dict[str, Any]:
    own = card_src.get("considerations")
    own = own if isinstance(own, dict) else {}
    return {
        "limitations": own.get("limitations") or [],
        "risks": [
            {"id": str(r.get("id")), "hazard": r.get("hazard"), "control": r.get("control")}
            for r in ctx["risks"]
        ],
        "tradeoffs": own.get("tradeoffs") or own.get("trade_offs") or [],
        "ethical_considerations": own.get("ethical_considerations") or own.get("ethics") or [],
    }


def _data(
    ctx: dict[str, Any], card_src: dict[str, Any], details_src: dict[str, Any]
) -> dict[str, Any]:
    """Model parameters and the test dataset."""
    evaluation = ctx.get("evaluation") or {}
    overall = evaluation.get("overall", {})
    architecture = (
        {"architecture": details_src["architecture"]} if details_src.get("architecture") else {}
    )
    return {
        "model_parameters": {
            **architecture,
            **(card_src.get("model_parameters") or {}),
            "threshold": evaluation.get("threshold", (ctx.get("lock") or {}).get("threshold")),
        },
        "datasets": [
            {
                "role": "test (held-out)",
                "source": ctx["datasets"]["source"],
                "version": ctx["datasets"]["data_version"],
                "n": overall.get("n"),
                "prevalence": (overall.get("metrics", {}).get("prevalence") or {}).get("value"),
            }
        ],
    }


def model_card(
    ctx: dict[str, Any], card_src: dict[str, Any], report_pdf_sha: str | None
) -> dict[str, Any]:
    """The one JSON source of the model card, from the report context and compliance/model-card.yaml."""
    from samdkit.regulatory import chai

    details_src = card_src.get("model_details", {})
    details_src = details_src if isinstance(details_src, dict) else {}
    evaluation = ctx.get("evaluation") or {}
    min_cell = (evaluation.get("publication") or {}).get("min_cell_size", 11)
    quantitative = _Quantitative(evaluation)
    quantitative.overall()
    fairness = quantitative.subgroups()
    return {
        "schema": SCHEMA,
        "model_details": _details(ctx, details_src),
        "intended_use": _intended_use(ctx),
        **_data(ctx, card_src, details_src),
        "quantitative_analysis": quantitative.rows,
        "fairness": fairness,
        "fairness_attributes": ctx.get("attributes") or attributes_statement(ctx.get("evaluation")),
        "publication": {
            "min_cell_size": min_cell,
            "note": f"subgroups with fewer than {min_cell} cases (and one partner cell when needed) "
            "are suppressed in this published card; the controlled report keeps them with their n",
        },
        "template_examples": ctx.get("template_examples") or {},
        "considerations": _considerations(ctx, card_src),
        "lifecycle": _lifecycle(ctx, card_src),
        # the card's layout: the CHAI applied model card's sections, each field from the evidence or a gap
        "chai": chai.justify(chai.sections(ctx, card_src), ctx.get("regulatory") or []),
        "environmental_impact": ctx.get("emissions"),
        "provenance": {
            "report_id": ctx["document"]["id"],
            "report_revision": ctx["document"]["revision"],
            "report_pdf_sha256": report_pdf_sha,
            "sbom_sha256": ctx["inputs"]["sbom"]["sha256"],
            "evaluation_sha256": ctx["inputs"]["evaluation"]["sha256"],
        },
        "verdict": ctx["verdict"],
    }


def hf_front_matter(card: dict[str, Any]) -> str:
    """YAML front matter of a Hugging Face model card (model-index holds the test-set results)."""
    from samdkit.core import escape

    details = card["model_details"]
    dataset = card["datasets"][0]
    metrics = []
    multiclass = any("class" in q for q in card["quantitative_analysis"])
    for q in card["quantitative_analysis"]:
        if q["slice"] != "overall" or q["value"] is None:
            continue
        ci = q.get("ci") or {}
        label = q["metric"]
        if q.get("class") is not None:  # one-vs-rest metric of one class
            label += f" of class {q['class']}"
        elif multiclass and q["metric"] == "auroc":
            label += " (macro, one-vs-rest)"
        if ci.get("lower") is not None:
            label += f" (95% CI {ci['lower']:.3f}–{ci['upper']:.3f}, {ci['method']})"
        row = {"type": q["metric"], "value": round(q["value"], 4), "name": label, "verified": False}
        if q.get("class") is not None:
            row["args"] = {"class": q["class"]}
        metrics.append(row)
    task = "Multiclass classification" if multiclass else "Binary classification"
    front = {
        "license": details.get("license") or "other",
        "library_name": "sklearn",
        "tags": ["medical", "samd", "tabular-classification", "samdkit"],
        "model-index": [
            {
                "name": details["name"],
                "results": [
                    {
                        "task": {"type": "tabular-classification", "name": task},
                        "dataset": {
                            "type": str(dataset.get("source") or "private"),
                            "name": str(dataset.get("source") or "held-out test set"),
                            "split": "test",
                            "revision": str(dataset.get("version") or "unknown"),
                        },
                        "metrics": metrics,
                    }
                ],
            }
        ],
    }
    return escape.yaml_front_matter(front)
