# ruff: noqa: RUF001, RUF002  (typographic dashes and signs are intended: they are printed in the evidence)
"""ROC, precision–recall and reliability plots as reproducible SVG (matplotlib, Agg backend).

The plots are drawn from reports/evaluation.json (curves and calibration bins), so the report needs no
predictions. SVG ids are salted with a constant and the date metadata is dropped: same input, same bytes.
`samdkit report` draws them with `figures` in a second process (samdkit.parallel: matplotlib's import and
drawing take ~0.6 s) while it imports weasyprint and gathers the rest of the evidence on the other core.
"""

from __future__ import annotations

import io
from typing import Any


def figures(overall: dict[str, Any]) -> dict[str, str]:
    """The SVG of every plot the evaluation's overall section has data for, by name."""
    if overall.get("per_class"):
        return class_figures(overall["per_class"])
    curves = overall.get("curves", {})
    metrics = overall.get("metrics", {})
    out = {}
    if curves.get("roc"):
        out["roc"] = roc(curves["roc"], (metrics.get("auroc") or {}).get("value"))
    if curves.get("pr"):
        out["pr"] = pr(
            curves["pr"],
            (metrics.get("auprc") or {}).get("value"),
            (metrics.get("prevalence") or {}).get("value"),
        )
    bins = overall.get("calibration", {}).get("bins")
    if bins:
        out["calibration"] = reliability(bins)
    return out


def class_figures(per_class: list[dict[str, Any]]) -> dict[str, str]:
    """A multiclass outcome: one-vs-rest ROC curves and reliability lines, one line per class."""
    out = {}
    lines = [c for c in per_class if (c.get("curves") or {}).get("roc")]
    if lines:
        fig, ax = _figure()
        ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=0.8, label="chance")
        for item in lines:
            auroc = ((item.get("metrics") or {}).get("auroc") or {}).get("value")
            label = str(item["class"]) + ("" if auroc is None else f" (AUROC {auroc:.3f})")
            curve = item["curves"]["roc"]
            ax.plot(curve["fpr"], curve["tpr"], linewidth=1.2, label=label)
        ax.set_xlabel("1 − specificity (false positive rate)")
        ax.set_ylabel("Sensitivity (true positive rate)")
        ax.set_title("ROC curves, each class vs the rest")
        ax.legend(loc="lower right", fontsize=6)
        out["roc"] = _svg(fig)
    binned = [c for c in per_class if (c.get("calibration") or {}).get("bins")]
    if binned:
        fig, ax = _figure()
        ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=0.8, label="perfect")
        for item in binned:
            bins = item["calibration"]["bins"]
            ax.plot(
                [b["mean_score"] for b in bins],
                [b["observed_fraction"] for b in bins],
                marker="o",
                markersize=3,
                linewidth=1.0,
                label=str(item["class"]),
            )
        ax.set_xlabel("Mean predicted probability of the class")
        ax.set_ylabel("Observed fraction of the class")
        ax.set_title("Reliability, each class vs the rest")
        ax.legend(loc="upper left", fontsize=6)
        out["calibration"] = _svg(fig)
    return out


def _figure():
    """A bare Figure on the SVG canvas: pyplot (and its 2-3 s of GUI set-up) is never imported."""
    import matplotlib
    from matplotlib.figure import Figure

    matplotlib.rcParams.update({"svg.hashsalt": "samdkit", "svg.fonttype": "none", "font.size": 8})
    fig = Figure(figsize=(3.1, 3.0), dpi=100)
    ax = fig.subplots()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(True, linewidth=0.4, alpha=0.5)
    ax.set_aspect("equal")
    return fig, ax


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.tight_layout()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return buffer.getvalue()


def roc(curve: dict[str, Any], auroc: float | None) -> str:
    fig, ax = _figure()
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=0.8, label="chance")
    label = "model" if auroc is None else f"model (AUROC {auroc:.3f})"
    ax.plot(curve["fpr"], curve["tpr"], color="#1f4e79", linewidth=1.5, label=label)
    ax.set_xlabel("1 − specificity (false positive rate)")
    ax.set_ylabel("Sensitivity (true positive rate)")
    ax.set_title("ROC curve")
    ax.legend(loc="lower right", fontsize=7)
    return _svg(fig)


def pr(curve: dict[str, Any], auprc: float | None, prevalence: float | None) -> str:
    fig, ax = _figure()
    if prevalence is not None:
        ax.axhline(prevalence, linestyle="--", color="0.6", linewidth=0.8, label="prevalence")
    label = "model" if auprc is None else f"model (AUPRC {auprc:.3f})"
    ax.step(
        curve["recall"],
        curve["precision"],
        where="post",
        color="#1f4e79",
        linewidth=1.5,
        label=label,
    )
    ax.set_xlabel("Sensitivity (recall)")
    ax.set_ylabel("Positive predictive value (precision)")
    ax.set_title("Precision–recall curve")
    ax.legend(loc="lower left", fontsize=7)
    return _svg(fig)


def reliability(bins: list[dict[str, Any]]) -> str:
    fig, ax = _figure()
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=0.8, label="perfect calibration")
    ax.plot(
        [b["mean_score"] for b in bins],
        [b["observed_fraction"] for b in bins],
        marker="o",
        markersize=3,
        color="#1f4e79",
        linewidth=1.2,
        label="model",
    )
    for b in bins:
        ax.annotate(
            str(b["n"]),
            (b["mean_score"], b["observed_fraction"]),
            fontsize=6,
            xytext=(3, -8),
            textcoords="offset points",
            color="0.3",
        )
    ax.set_xlabel("Mean predicted probability")
    ax.set_ylabel("Observed fraction positive")
    ax.set_title("Reliability (n per bin)")
    ax.legend(loc="upper left", fontsize=7)
    return _svg(fig)
