# ruff: noqa: RUF001  (typographic dashes are intended: they are printed in the evidence)
"""The model card laid out in the CHAI applied model card's sections, each field filled from evidence.

Every field names where its value comes from (device.yaml, model-card.yaml, the evaluation, the lock, the
SBOM, the PCCP…). A required field without a value is a named gap: the card prints it, and the CHAI item
of the appendix stays unmapped (a blocking gap in section A, so `report --strict` refuses it). Section
names follow the CHAI applied model card (draft for public comment, schema v0.2); see
docs/regulatory-mapping.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# section key → (CHAI checklist item id, title)
SECTIONS = {
    "basic": ("1", "Basic and release information"),
    "summary": ("2", "Summary"),
    "uses": ("3", "Uses and directions"),
    "warnings": ("4", "Warnings"),
    "trust": ("5", "Trust ingredients"),
    "metrics": ("6", "Key metrics"),
    "resources": ("7", "Resources"),
}


def _has(value: Any) -> bool:
    return value not in (None, "", [], {})


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _texts(*values: Any) -> list[str]:
    """Every non-empty text among the values (lists flattened), in order."""
    out: list[str] = []
    for value in values:
        for v in value if isinstance(value, list) else [value]:
            if _has(v):
                out.append(str(v))
    return out


def _method_text(name: str, method: Any) -> str:
    """One evaluation method in words: its description (or its settings), library and resamples."""
    if not isinstance(method, dict):
        return f"{name.replace('_', ' ')}: {method}"
    words = method.get("description") or ", ".join(
        f"{k}: {v}"
        for k, v in method.items()
        if isinstance(v, str | int | float) and k != "library"
    )
    extra = [f"{method['resamples']} resamples"] if method.get("resamples") else []
    extra += [str(method["library"])] if method.get("library") else []
    return f"{name.replace('_', ' ')}: {words}" + (f" ({', '.join(extra)})" if extra else "")


def _methods_text(methods: Any) -> str | None:
    """evaluation.json `methods` as sentences an auditor reads, not a dump of the JSON."""
    if not isinstance(methods, dict):
        return methods
    level = methods.get("confidence_level")
    parts = [f"{float(level) * 100:g} % confidence intervals"] if level else []
    parts += [_method_text(k, m) for k, m in methods.items() if k != "confidence_level"]
    return "; ".join(parts)


def _joined(*values: Any, sep: str = " ") -> str | None:
    """The texts joined; after a text that ends its own sentence, a space instead of `sep`."""
    out = ""
    for text in _texts(*values):
        out += (" " if out.rstrip().endswith((".", ";", ":", "!", "?")) else sep) if out else ""
        out += text.strip()
    return out or None


def _calibration(cal: dict[str, Any]) -> str:
    return ", ".join(
        f"{k.replace('_', ' ')} {cal[k]['value']:.3f}"
        for k in ("brier", "calibration_slope", "calibration_intercept")
        if isinstance((cal.get(k) or {}).get("value"), int | float)
    )


class _View:
    """The report's context and compliance/model-card.yaml, read the way the card's fields need them."""

    def __init__(self, ctx: dict[str, Any], card_src: dict[str, Any]) -> None:
        self.ctx, self.src = ctx, card_src if isinstance(card_src, dict) else {}
        self.iu = dict(ctx.get("intended_use") or [])
        self.ev = ctx.get("evaluation") or {}
        self.overall = self.ev.get("overall") or {}
        self.lock = ctx.get("lock") or {}
        self.iec = ctx.get("iec62304") or {}

    def card(self, *keys: str) -> Any:
        return _get(self.src, *keys)

    def manufacturer(self) -> Any:
        m = self.ctx.get("manufacturer") or self.card("model_details", "manufacturer")
        return m.get("name") if isinstance(m, dict) else m

    def iec62304(self) -> str | None:
        if not self.iec.get("level"):
            return None
        what = "software safety class" if self.iec.get("edition") == "1" else "process rigour level"
        return f"{what} {self.iec['level']} ({self.iec.get('name')})"

    def model(self) -> str | None:
        digest = self.lock.get("root_digest")
        if not digest:
            return None
        same = self.lock.get("identical") is True
        return f"root digest {digest}; " + (
            "locked (identical outputs on re-run)" if same else "determinism check not passed"
        )

    def test_data(self) -> str | None:
        if not self.overall.get("n"):
            return None
        prev = _get(self.overall, "metrics", "prevalence", "value")
        dq = self.ctx.get("data_quality") or {}
        parts = [f"held-out test split, n = {self.overall['n']}"]
        if isinstance(prev, int | float):
            parts.append(f"prevalence {prev:.3f}")
        if self.ctx["datasets"].get("data_version"):
            parts.append(f"data version {self.ctx['datasets']['data_version']}")
        if dq.get("total"):
            parts.append(f"data-quality expectations {dq.get('passed')}/{dq.get('total')} passed")
        return "; ".join(parts)

    def headline(self) -> str | None:
        metrics = self.overall.get("metrics") or {}
        rows = []
        for name in self.ev.get("headline_metrics") or []:
            m = metrics.get(name) or {}
            ci = m.get("ci") or {}
            if not all(
                isinstance(x, int | float)
                for x in (m.get("value"), ci.get("lower"), ci.get("upper"))
            ):
                return None  # a key metric without its uncertainty is not reported
            rows.append(f"{name} {m['value']:.3f} (95 % CI {ci['lower']:.3f}–{ci['upper']:.3f})")
        return "; ".join(rows) or None

    def safety(self) -> str | None:
        """Calibration overall (binary) or of every class (multiclass), and the criteria met."""
        need = {"brier", "calibration_slope"}
        cal = self.overall.get("calibration") or {}
        per_class = self.overall.get("per_class") or []
        if need <= set(cal):
            parts = [_calibration(cal)]
        elif per_class and all(need <= set(c.get("calibration") or {}) for c in per_class):
            parts = [f"class {c.get('class')}: {_calibration(c['calibration'])}" for c in per_class]
        else:
            return None
        crit = self.ev.get("criteria") or []
        if crit:
            ok = sum(1 for c in crit if c.get("result") == "PASS")
            parts.append(f"acceptance criteria met: {ok}/{len(crit)}")
        return "; ".join(p for p in parts if p)

    def fairness(self) -> str | None:
        return self.ctx.get("attributes") if self.ev.get("subgroups") else None

    def maintenance(self) -> str | None:
        from samdkit.regulatory import pccp

        plan = pccp.change_control(self.ctx.get("pccp"), self.ctx["document"]["id"])
        return _joined(
            self.card("lifecycle", "monitoring"),
            plan or self.card("lifecycle", "change_control"),
            sep="; ",
        )

    def security(self) -> str | None:
        sbom = (self.ctx.get("inputs") or {}).get("sbom") or {}
        if not sbom.get("present"):
            return None
        return (
            f"SOUP listed in the CycloneDX SBOM {sbom.get('path')} "
            f"({len(self.ctx.get('soup') or [])} components, sha256 {sbom.get('sha256')}); "
            "the report and this card are PAdES-signed records (21 CFR 11.50)"
        )


Getter = Callable[[_View], Any]
# section → [(label, where the value comes from, getter, required)]
FIELDS: dict[str, list[tuple[str, str, Getter, bool]]] = {
    "basic": [
        ("Model name", "device.yaml: name", lambda v: v.ctx.get("device_name"), True),
        ("Developer", "device.yaml: manufacturer", lambda v: v.manufacturer(), True),
        (
            "Developer contact",
            "model-card.yaml: model_details.contact",
            lambda v: v.card("model_details", "contact"),
            True,
        ),
        (
            "Release version",
            "model-card.yaml: model_details.version (else the report revision)",
            lambda v: v.card("model_details", "version") or v.ctx["document"]["revision"],
            True,
        ),
        (
            "Release date",
            "the report's generation time",
            lambda v: _joined(
                v.ctx["document"]["generated_utc"],
                f"({v.ctx['document']['time_basis']})"
                if v.ctx["document"].get("time_basis")
                else None,
            ),
            True,
        ),
        (
            "Release stage and regulatory status",
            "device.yaml: regulatory_status",
            lambda v: v.iu.get("Regulatory status"),
            True,
        ),
        ("Device class", "device.yaml: device_class", lambda v: v.iu.get("Device class"), True),
        ("IEC 62304", "compliance/regulatory.yaml: iec62304", lambda v: v.iec62304(), True),
        ("Locked model", "model.lock (samdkit lock)", lambda v: v.model(), True),
        ("Source revision", "git commit", lambda v: v.ctx["git"].get("commit"), True),
    ],
    "summary": [
        (
            "Summary",
            "device.yaml: intended_use.statement (or indication); model-card.yaml: model_parameters.outputs",
            lambda v: (
                _joined(
                    v.iu.get("Intended use statement") or v.iu.get("Indication"),
                    _joined("Output:", v.card("model_parameters", "outputs")),
                )
                if (v.iu.get("Intended use statement") or v.iu.get("Indication"))
                else None
            ),
            True,
        ),
    ],
    "uses": [
        (
            "Intended use and workflow",
            "device.yaml: intended_use.indication, setting",
            lambda v: (
                _joined(v.iu.get("Indication"), v.iu.get("Use setting"), sep="; ")
                if v.iu.get("Indication") and v.iu.get("Use setting")
                else None
            ),
            True,
        ),
        (
            "Primary intended users",
            "device.yaml: intended_use.users",
            lambda v: v.iu.get("Intended users"),
            True,
        ),
        (
            "How to use",
            "device.yaml: intended_use.human_oversight; the decision threshold",
            lambda v: (
                _joined(
                    v.iu.get("Human oversight"),
                    f"Decision threshold {v.ev['threshold']}." if v.ev.get("threshold") else None,
                )
                if v.iu.get("Human oversight")
                else None
            ),
            True,
        ),
        (
            "Targeted patient population",
            "device.yaml: intended_use.population",
            lambda v: v.iu.get("Target population"),
            True,
        ),
        (
            "Cautioned out-of-scope settings",
            "device.yaml: intended_use.out_of_scope",
            lambda v: _texts(v.iu.get("Out-of-scope use")),
            True,
        ),
    ],
    "warnings": [
        (
            "Known risks and limitations",
            "model-card.yaml: considerations.limitations; risks.yaml",
            lambda v: (
                _texts(
                    v.card("considerations", "limitations"),
                    [
                        f"{r.get('id')}: {r.get('hazard') or ''} — control: {r.get('control') or '—'}"
                        for r in v.ctx.get("risks") or []
                    ],
                )
                if _has(v.card("considerations", "limitations"))
                else None
            ),
            True,
        ),
        (
            "Known biases or ethical considerations",
            "model-card.yaml: considerations.ethical_considerations; the attributes analysed",
            lambda v: (
                _texts(
                    v.card("considerations", "ethical_considerations")
                    or v.card("considerations", "ethics"),
                    v.ctx.get("attributes"),
                )
                if _has(
                    v.card("considerations", "ethical_considerations")
                    or v.card("considerations", "ethics")
                )
                else None
            ),
            True,
        ),
        (
            "Trade-offs",
            "model-card.yaml: considerations.tradeoffs",
            lambda v: _texts(
                v.card("considerations", "tradeoffs") or v.card("considerations", "trade_offs")
            ),
            False,
        ),
        (
            "Clinical risk level",
            "device.yaml: device_class; compliance/regulatory.yaml: iec62304",
            lambda v: (
                _joined(v.iu.get("Device class"), v.iec62304(), sep="; ")
                if v.iu.get("Device class") and v.iec62304()
                else None
            ),
            True,
        ),
    ],
    "trust": [
        (
            "Outcomes and outputs",
            "model-card.yaml: model_parameters.outputs",
            lambda v: v.card("model_parameters", "outputs"),
            True,
        ),
        (
            "Model type",
            "model-card.yaml: model_details.architecture (or model_parameters.architecture)",
            lambda v: (
                v.card("model_details", "architecture")
                or v.card("model_parameters", "architecture")
            ),
            True,
        ),
        (
            "Input data source",
            "params.yaml: data source; the pinned data version",
            lambda v: (
                _joined(
                    v.ctx["datasets"].get("source"),
                    f"(version {v.ctx['datasets']['data_version']})"
                    if v.ctx["datasets"].get("data_version")
                    else None,
                )
                if v.ctx["datasets"].get("source")
                else None
            ),
            True,
        ),
        (
            "Input and output data types",
            "model-card.yaml: model_parameters.inputs, outputs",
            lambda v: (
                f"Inputs: {v.card('model_parameters', 'inputs')}. Outputs: "
                f"{v.card('model_parameters', 'outputs')}."
                if v.card("model_parameters", "inputs") and v.card("model_parameters", "outputs")
                else None
            ),
            True,
        ),
        (
            "Development data characterization",
            "evaluation; data-quality result; data version",
            lambda v: v.test_data(),
            True,
        ),
        (
            "Bias mitigation approaches",
            "evaluation: subgroup analysis",
            lambda v: v.fairness(),
            True,
        ),
        (
            "Ongoing maintenance",
            "model-card.yaml: lifecycle.monitoring; pccp.yaml (or lifecycle.change_control)",
            lambda v: v.maintenance() if v.card("lifecycle", "monitoring") else None,
            True,
        ),
        ("Security", "the SBOM (CycloneDX)", lambda v: v.security(), True),
        (
            "Transparency",
            "the clinical validation report",
            lambda v: (
                f"Clinical validation report {v.ctx['document']['id']} revision "
                f"{v.ctx['document']['revision']}: every section, its evidence digests and the "
                "regulatory mapping (appendix A)"
            ),
            True,
        ),
        (
            "Funding source",
            "model-card.yaml: transparency.funding_source",
            lambda v: v.card("transparency", "funding_source"),
            True,
        ),
        (
            "Stakeholders consulted",
            "model-card.yaml: transparency.stakeholders_consulted",
            lambda v: _texts(v.card("transparency", "stakeholders_consulted")),
            True,
        ),
    ],
    "metrics": [
        (
            "Usefulness, usability and efficacy",
            "evaluation: headline metrics with 95 % CIs",
            lambda v: v.headline(),
            True,
        ),
        (
            "Fairness and equity",
            "evaluation: per-subgroup metrics",
            lambda v: v.fairness(),
            True,
        ),
        (
            "Safety and reliability",
            "evaluation: calibration; acceptance criteria",
            lambda v: v.safety(),
            True,
        ),
        (
            "Testing data",
            "evaluation; data version",
            lambda v: v.test_data(),
            True,
        ),
        (
            "Validation process",
            "evaluation: methods; the test split's independence",
            lambda v: (
                _joined(
                    v.ctx["datasets"].get("independence"),
                    _methods_text(v.ev.get("methods")),
                    sep=". ",
                )
                if v.ev.get("methods")
                else None
            ),
            True,
        ),
    ],
    "resources": [
        (
            "Evaluation references",
            "the clinical validation report",
            lambda v: f"{v.ctx['document']['id']} revision {v.ctx['document']['revision']}",
            True,
        ),
        (
            "Peer-reviewed publications",
            "model-card.yaml: resources.publications",
            lambda v: _texts(v.card("resources", "publications")),
            False,
        ),
        (
            "Patient consent or disclosure",
            "model-card.yaml: resources.patient_disclosure",
            lambda v: v.card("resources", "patient_disclosure"),
            False,
        ),
    ],
}


def sections(ctx: dict[str, Any], card_src: Any) -> list[dict[str, Any]]:
    """The card's CHAI sections: each field with its value and source, or marked as a gap."""
    view = _View(ctx, card_src)
    out = []
    for key, (item, title) in SECTIONS.items():
        fields = []
        for label, source, getter, required in FIELDS[key]:
            value = getter(view)
            value = value if _has(value) else None
            fields.append(
                {
                    "label": label,
                    "value": value,
                    "source": source,
                    "gap": required and value is None,
                    "required": required,
                }
            )
        out.append(
            {
                "key": key,
                "item": f"CHAI/{item}",
                "title": title,
                "fields": fields,
                "missing": [f"{f['label']} ({f['source']})" for f in fields if f["gap"]],
                "justified": None,  # the project's reason when it justifies the item (justify)
            }
        )
    return out


def justify(chai: list[dict[str, Any]], regulatory: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sections whose CHAI item the project justified (regulatory.yaml) carry the reason, not a gap."""
    rows = {r["key"]: r for s in regulatory or [] for r in s["items"]}
    for section in chai:
        row = rows.get(section["item"]) or {}
        if section["missing"] and row.get("status") in ("not applicable", "addressed elsewhere"):
            section["justified"] = f"{row['status']}: {row['reason']}"
            section["missing"] = []
            for f in section["fields"]:
                f["gap"] = False
    return chai


def missing(chai: list[dict[str, Any]], key: str) -> list[str]:
    """The required fields of one section that have no value."""
    return next(s["missing"] for s in chai if s["key"] == key)
