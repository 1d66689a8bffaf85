# ruff: noqa: RUF001  (typographic dashes are intended: they are printed in the evidence)
"""The regulatory mapping of the report's appendix: checklists as data, the project's justifications, the PCCP.

Each source (TRIPOD+AI, IMDRF GMLP, FDA guidances, EU AI Act Annex IV, Part 11, IEC 62304, STARD, CHAI) is a
versioned checklist in `checklists/*.yaml`, paraphrased in samdkit's own words. An item is *mapped* only when
every evidence check it names holds on the report's own data (see EVIDENCE); otherwise the project must say in
compliance/regulatory.yaml why it does not apply or where else it is addressed. An item with neither is a
blocking gap (section A), so `report --strict` refuses it. See docs/regulatory-mapping.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samdkit.core import bounded
from samdkit.core.errors import UserError
from samdkit.core.project import DEFAULT_PATHS
from samdkit.regulatory import chai

__all__ = [
    "EVIDENCE",
    "Config",
    "chai",
    "item_keys",
    "load_checklists",
    "load_config",
    "mapping",
    "pccp",
]

CHECKLISTS = Path(__file__).parent / "checklists"
EDITIONS = {"1": "IEC 62304:2006+A1:2015, edition 1", "2": "IEC 62304 edition 2"}
CLASSES = {"1": ("A", "B", "C"), "2": ("I", "II")}
CONFIG_KEYS = {"iec62304", "not_applicable", "addressed_elsewhere"}


def _has(value: Any) -> bool:
    return value not in (None, "", [], {})


def _overall(ctx: dict[str, Any]) -> dict[str, Any]:
    return (ctx.get("evaluation") or {}).get("overall") or {}


def _with_ci(ctx: dict[str, Any]) -> bool:
    metrics = _overall(ctx).get("metrics") or {}
    heads = (ctx.get("evaluation") or {}).get("headline_metrics") or []
    return bool(heads) and all(
        (metrics.get(m) or {}).get("value") is not None and _has((metrics.get(m) or {}).get("ci"))
        for m in heads
    )


def _confusion(ctx: dict[str, Any]) -> bool:
    # overall.confusion_matrix, as samdkit.evaluate.document validates it (no other place is read)
    table = _overall(ctx).get("confusion_matrix")
    # binary: the 2x2 table; multiclass (evaluation v2): the KxK matrix of the predicted class
    return isinstance(table, dict) and (
        {"tp", "fp", "fn", "tn"} <= set(table) or {"labels", "matrix"} <= set(table)
    )


def _calibrated(ctx: dict[str, Any]) -> bool:
    """Brier score and calibration slope overall (binary) or for every class (multiclass)."""
    need = {"brier", "calibration_slope"}
    per_class = _overall(ctx).get("per_class")
    if isinstance(per_class, list) and per_class:
        return all(need <= set(item.get("calibration") or {}) for item in per_class)
    return need <= set(_overall(ctx).get("calibration") or {})


def _operating_point(ctx: dict[str, Any]) -> bool:
    """A threshold (binary); a multiclass outcome's decision rule is the predicted class."""
    evaluation = ctx.get("evaluation") or {}
    return evaluation.get("threshold") is not None or evaluation.get("task") == "multiclass"


def _card(ctx: dict[str, Any], *keys: str) -> Any:
    value: Any = ctx.get("_card_source") or {}  # compliance/model-card.yaml, given to mapping()
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


# check id → (section, the content it points at, the check on the report's own data)
EVIDENCE: dict[str, tuple[str, str, Callable[[dict[str, Any]], bool]]] = {
    "control": (
        "0",
        "document id, revision, git commit, UTC time",
        lambda c: _has(c["git"].get("commit")) and _has(c["document"].get("id")),
    ),
    "intended_use": (
        "2",
        "indication, population, users, setting, human oversight, out-of-scope use",
        lambda c: all(
            _has(dict(c["intended_use"]).get(k))
            for k in (
                "Indication",
                "Target population",
                "Intended users",
                "Use setting",
                "Human oversight",
                "Out-of-scope use",
            )
        ),
    ),
    "lock": (
        "3",
        "model root digest and an identical-output determinism check",
        lambda c: (
            _has((c.get("lock") or {}).get("root_digest"))
            and (c.get("lock") or {}).get("identical") is True
        ),
    ),
    "data_version": (
        "4",
        "data source and pinned data version",
        lambda c: _has(c["datasets"].get("source")) and _has(c["datasets"].get("data_version")),
    ),
    "test_independence": (
        "4",
        "how the test split is kept apart from training, with the pinned data version",
        lambda c: (
            _has(c["datasets"].get("independence")) and _has(c["datasets"].get("data_version"))
        ),
    ),
    "missing_data": (
        "5",
        "missing-data statement (section 4) and the data-quality result",
        lambda c: _has(c.get("data_quality")) and c["datasets"].get("missing_data") is not None,
    ),
    "data_quality": (
        "5",
        "data-quality suites, passed/total expectations",
        lambda c: _has(c.get("data_quality")) and bool((c["data_quality"] or {}).get("total")),
    ),
    "methods": (
        "6",
        "metrics and confidence-interval methods",
        lambda c: _has((c.get("evaluation") or {}).get("methods")),
    ),
    "threshold": (
        "6",
        "decision threshold of the operating point",
        _operating_point,
    ),
    "metrics_ci": ("7", "headline metrics with 95 % confidence intervals", _with_ci),
    "confusion": ("7", "2×2 table at the operating point", _confusion),
    "calibration": (
        "8",
        "Brier score, calibration slope and intercept",
        _calibrated,
    ),
    "subgroups": (
        "9",
        "per-subgroup metrics with CIs and n",
        lambda c: _has((c.get("evaluation") or {}).get("subgroups")),
    ),
    "criteria": (
        "10",
        "predetermined acceptance criteria with observed values",
        lambda c: _has((c.get("evaluation") or {}).get("criteria")),
    ),
    "traceability": (
        "11",
        "need → requirement → risk control → check → result",
        lambda c: _has(c.get("traceability")) and _has(c.get("risks")),
    ),
    "soup": ("12", "SOUP components with versions (SBOM)", lambda c: _has(c.get("soup"))),
    "anomalies": ("13", "residual anomalies and deviations", lambda c: True),
    "provenance": (
        "14",
        "digests of every input and the commands to reproduce",
        lambda c: _has(c.get("digests")) and _has(c.get("reproduce")),
    ),
    "signatures": (
        "15",
        "planned signers with meaning; signature stamps on the last page",
        lambda c: (
            _has(c.get("approvals"))
            and all(_has(a.get("meaning")) for a in c.get("approvals") or [])
        ),
    ),
    "limitations": (
        "model card",
        "considerations: limitations",
        lambda c: _has(_card(c, "considerations", "limitations")),
    ),
    "monitoring": (
        "model card",
        "lifecycle: monitoring",
        lambda c: _has(_card(c, "lifecycle", "monitoring")),
    ),
    "model_card": (
        "model card",
        "published from the same evidence (PDF, JSON, Markdown)",
        lambda c: _has(c.get("_card_source")),
    ),
    "model_io": (
        "model card",
        "model parameters: inputs and outputs",
        lambda c: (
            _has(_card(c, "model_parameters", "inputs"))
            and _has(_card(c, "model_parameters", "outputs"))
        ),
    ),
    "pccp": (
        "appendix A.2",
        "predetermined change control plan (compliance/pccp.yaml)",
        lambda c: _has(c.get("pccp")),
    ),
    "pccp_criteria": (
        "appendix A.2",
        "the plan's acceptance criteria, judged on this model and met",
        lambda c: (
            _has((c.get("pccp") or {}).get("criteria"))
            and (c.get("pccp") or {}).get("verdict") == "PASS"
        ),
    ),
}
# one check per CHAI applied model card section: every required field of the card's section has a value
for _key, (_item, _title) in chai.SECTIONS.items():
    EVIDENCE[f"chai_{_key}"] = (
        "model card",
        f"CHAI section {_item}, {_title.lower()}, every field filled from the evidence",
        lambda c, k=_key: not chai.missing(c["_chai"], k),
    )


@dataclass
class Config:
    """compliance/regulatory.yaml: the IEC 62304 edition and the project's justifications."""

    edition: str = "1"
    level: str | None = None  # safety class (edition 1) or process rigour level (edition 2)
    not_applicable: dict[str, str] = field(default_factory=dict)
    elsewhere: dict[str, str] = field(default_factory=dict)
    rel: str = DEFAULT_PATHS["regulatory"]
    raw: Any = None  # the file as read, for the template-example check

    @property
    def edition_name(self) -> str:
        return EDITIONS[self.edition]

    def iec62304_row(self) -> tuple[str, str | None]:
        """The section-2 row: the edition is named with the class or level it defines."""
        what = "software safety class" if self.edition == "1" else "process rigour level"
        return (
            f"IEC 62304 {what}",
            f"{self.level} (per {self.edition_name})" if self.level else None,
        )


def load_checklists() -> list[dict[str, Any]]:
    """Every bundled checklist, in file-name order (read through the bounded YAML reader)."""
    return [bounded.read_yaml(p) for p in sorted(CHECKLISTS.glob("*.yaml"))]


def item_keys(checklists: list[dict[str, Any]] | None = None) -> list[str]:
    return [f"{c['source']}/{i['id']}" for c in checklists or load_checklists() for i in c["items"]]


def _reasons(path: str, raw: Any, key: str, known: set[str]) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise UserError(f"{path}: {key} must be a mapping of item (e.g. TRIPOD+AI/5) to reason")
    for item, reason in raw.items():
        if str(item) not in known:
            raise UserError(
                f"{path}: {key}: unknown checklist item '{item}' (see docs/regulatory-mapping.md)"
            )
        if not isinstance(reason, str) or not reason.strip():
            raise UserError(f"{path}: {key}: '{item}' needs a reason (a non-empty text)")
    return {str(k): v.strip() for k, v in raw.items()}


def load_config(path: Path, rel: str, device: dict[str, Any]) -> Config:
    """Read and check compliance/regulatory.yaml (optional); the safety class defaults to the device's."""
    data = bounded.read_yaml(path, rel) if path.is_file() else {}
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise UserError(f"{rel}: the top level must be a mapping")
    unknown = sorted(set(data) - CONFIG_KEYS)
    if unknown:
        raise UserError(
            f"{rel}: unknown key '{unknown[0]}' (allowed: {', '.join(sorted(CONFIG_KEYS))})"
        )
    iec = data.get("iec62304") or {}
    if not isinstance(iec, dict):
        raise UserError(
            f"{rel}: iec62304 must be a mapping {{edition, safety_class | rigour_level}}"
        )
    edition = str(iec.get("edition", 1))
    if edition not in EDITIONS:
        raise UserError(f"{rel}: iec62304.edition must be 1 or 2, got {iec.get('edition')!r}")
    key = "safety_class" if edition == "1" else "rigour_level"
    other = "rigour_level" if edition == "1" else "safety_class"
    if other in iec:
        raise UserError(f"{rel}: iec62304.{other} does not exist in edition {edition}; use {key}")
    level = iec.get(key, device.get("safety_class") if edition == "1" else None)
    level = None if level in (None, "") else str(level)
    if level is not None and level not in CLASSES[edition]:
        raise UserError(
            f"{rel}: iec62304.{key} must be one of {', '.join(CLASSES[edition])}, got {level!r}"
        )
    known = set(item_keys())
    return Config(
        edition=edition,
        level=level,
        not_applicable=_reasons(rel, data.get("not_applicable"), "not_applicable", known),
        elsewhere=_reasons(rel, data.get("addressed_elsewhere"), "addressed_elsewhere", known),
        rel=rel,
        raw=data,
    )


def _text(value: Any, edition: str) -> Any:
    """A checklist field that may hold one text per IEC 62304 edition."""
    return value.get(edition, value.get("1")) if isinstance(value, dict) else value


def mapping(
    ctx: dict[str, Any], config: Config, card_source: Any = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every item of every checklist → mapped / not applicable / elsewhere / GAP, and the gap messages."""
    view = {**ctx, "_card_source": card_source if isinstance(card_source, dict) else {}}
    view["_chai"] = chai.sections(view, view["_card_source"])
    results = {name: check(view) for name, (_, _, check) in EVIDENCE.items()}
    sources, gaps = [], []
    for checklist in load_checklists():
        src, rows = checklist["source"], []
        for item in checklist["items"]:
            key = f"{src}/{item['id']}"
            ask = _text(item["ask"], config.edition)
            needed = item.get("evidence") or []
            # classes that need the activity: edition 1 only (no guess for edition 2's rigour levels)
            classes = (item.get("classes") or {}).get(config.edition)
            row = {"key": key, "id": item["id"], "topic": item["topic"], "ask": ask}
            if needed and all(results[n] for n in needed):
                row.update(status="mapped", where=_where(needed))
            elif key in config.not_applicable:
                row.update(status="not applicable", reason=config.not_applicable[key])
            elif key in config.elsewhere:
                row.update(status="addressed elsewhere", reason=config.elsewhere[key])
            elif src == "IEC62304" and classes and config.level and config.level not in classes:
                row.update(
                    status="not applicable",
                    reason=f"not required for software safety class {config.level} "
                    f"({config.edition_name})",
                )
            else:
                missing = [_lacks(view, n) for n in needed if not results[n]]
                why = (
                    "the report lacks: " + "; ".join(missing)
                    if missing
                    else "the report does not carry this"
                )
                row.update(status="GAP", reason=why)
                gaps.append(
                    f"{key} ({item['topic']}) is neither mapped nor justified: {why}; "
                    f"map it or justify it in {config.rel}"
                )
            rows.append(row)
        sources.append(
            {
                "source": src,
                "title": checklist["title"],
                "document": _text(checklist["document"], config.edition),
                "date": _text(checklist["date"], config.edition),
                "edition": config.edition_name if src == "IEC62304" else checklist["edition"],
                "checklist_version": checklist["checklist_version"],
                "items": rows,
            }
        )
    return sources, gaps


def _lacks(view: dict[str, Any], check: str) -> str:
    """What the report lacks for one failed check; for a CHAI section, the fields by name."""
    if check.startswith("chai_"):
        key = check.removeprefix("chai_")
        item, title = chai.SECTIONS[key]
        return f"model card, CHAI section {item} ({title.lower()}): " + ", ".join(
            chai.missing(view["_chai"], key)
        )
    return EVIDENCE[check][1]


def _where(checks: list[str]) -> str:
    """'section 7: headline metrics …; model card: limitations', in section order."""
    parts = sorted((EVIDENCE[n][0], EVIDENCE[n][1]) for n in checks)
    parts.sort(key=lambda p: (int(p[0]), "") if p[0].isdigit() else (99, p[0]))
    return "; ".join(f"{'section ' if s[0].isdigit() else ''}{s}: {what}" for s, what in parts)
