"""CycloneDX 1.6 SBOM of the device: what it incorporates (its SOUP), not the process that ran `report`.

IEC 62304 §8.1.2 asks for the SOUP the device incorporates: title, manufacturer, version. The SBOM's subject
(metadata.component) is the project (name and version of its pyproject.toml); its components are the
runtime dependency closure of the project's own `[project] dependencies`, resolved against the installed
distributions (importlib.metadata, markers and extras followed with `packaging`), and the locked model as a
`machine-learning-model` component whose modelCard carries the metrics with their intervals and slices.
samdkit and the tools it drove to produce the evidence are listed under metadata.tools ("tools used for
verification"): they verify the device, they are not part of it. The document is validated against the
CycloneDX 1.6 JSON schema (cyclonedx-python-lib's strict validator) before it is used.
"""

from __future__ import annotations

import json
import sys
import tomllib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from samdkit.core import bounded
from samdkit.core.errors import UserError

# what samdkit drives to produce the evidence, when installed (their own dependencies are not listed)
TOOLS = (
    "samdkit",
    "great-expectations",
    "dvc",
    "mlflow",
    "scikit-learn",
    "scipy",
    "statsmodels",
    "pandas",
    "matplotlib",
    "weasyprint",
    "pyhanko",
    "cyclonedx-python-lib",
    "codecarbon",
    "ruff",
    "jinja2",
)


class NoDevice(UserError):
    """The project names no device (no pyproject.toml [project] name): a gap of the report, not a crash."""


@dataclass
class Closure:
    """The project's runtime distributions (name -> dist) and requirements that are not installed."""

    dists: dict[str, metadata.Distribution] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


def _key(name: str) -> str:
    from packaging.utils import canonicalize_name

    return canonicalize_name(name)


def _installed(name: str) -> metadata.Distribution | None:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


def runtime_closure(requirements: list[str]) -> Closure:
    """Installed distributions the requirements need at run time, with extras and markers followed."""
    from packaging.requirements import InvalidRequirement, Requirement

    closure = Closure()
    seen: set[tuple[str, frozenset[str]]] = set()
    todo: list[tuple[str, frozenset[str]]] = []

    def want(text: str, extras: frozenset[str]) -> None:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            closure.missing.append(f"{text} (not a valid requirement)")
            return
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in extras | {""}):
            return
        todo.append((req.name, frozenset(req.extras)))

    for text in requirements:
        want(text, frozenset())
    while todo:
        name, extras = todo.pop()
        if (_key(name), extras) in seen:
            continue
        seen.add((_key(name), extras))
        dist = _installed(name)
        if dist is None:
            closure.missing.append(name)
            continue
        closure.dists[_key(dist.metadata["Name"])] = dist
        for text in dist.requires or []:
            want(text, extras)
    return closure


def _who(meta: Any) -> str | None:
    """The manufacturer as the package names it: author, else maintainer (name part of the e-mail field)."""
    for key in ("Author", "Maintainer", "Author-email", "Maintainer-email"):
        value = (meta.get(key) or "").split("<")[0].strip().strip('"').strip()
        if value and value.upper() != "UNKNOWN":
            return value.split(",")[0].strip()[:80]
    return None


def _licence(meta: Any) -> str | None:
    expression = meta.get("License-Expression")
    if expression:
        return expression
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) < 80 and text.upper() != "UNKNOWN":
        return text
    classifiers = [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    return classifiers[0].rsplit(" :: ", 1)[-1] if classifiers else None


def _component(dist: metadata.Distribution, kind: Any) -> Any:
    from cyclonedx.model.component import Component
    from cyclonedx.model.contact import OrganizationalEntity
    from cyclonedx.model.license import DisjunctiveLicense
    from packageurl import PackageURL

    meta = dist.metadata
    name, version = meta["Name"], dist.version
    licence = _licence(meta)
    who = _who(meta)
    return Component(
        type=kind,
        name=name,
        version=version,
        bom_ref=f"pkg:pypi/{_key(name)}@{version}",
        purl=PackageURL("pypi", _key(name), version),
        supplier=OrganizationalEntity(name=who) if who else None,
        licenses=[DisjunctiveLicense(name=licence)] if licence else None,
    )


def model_card(evaluation: dict[str, Any] | None) -> dict[str, Any]:
    """CycloneDX modelCard: performance metrics with their 95 % intervals, overall and per subgroup."""
    metrics: list[dict[str, Any]] = []

    def add(name: str, entry: Any, slice_name: str) -> None:
        if not isinstance(entry, dict) or entry.get("value") is None:
            return
        row: dict[str, Any] = {"type": name, "value": f"{entry['value']:.4g}", "slice": slice_name}
        ci = entry.get("ci") or {}
        if ci.get("lower") is not None and ci.get("upper") is not None:
            row["confidenceInterval"] = {
                "lowerBound": f"{ci['lower']:.4g}",
                "upperBound": f"{ci['upper']:.4g}",
            }
        metrics.append(row)

    evaluation = evaluation or {}
    overall = evaluation.get("overall") or {}
    for name in evaluation.get("headline_metrics") or []:
        add(name, (overall.get("metrics") or {}).get(name), "overall")
    for name, entry in (overall.get("calibration") or {}).items():
        add(name, entry, "overall")
    class_metrics = evaluation.get("class_metrics") or []
    for item in overall.get("per_class") or []:
        for name in class_metrics:
            add(name, (item.get("metrics") or {}).get(name), f"class={item.get('class')}")
    for group in evaluation.get("subgroups") or []:
        # a small cell: published files never describe one or a few patients
        if group.get("suppressed"):
            continue
        for name, entry in (group.get("metrics") or {}).items():
            add(name, entry, f"{group.get('column')}={group.get('value')}")
    multiclass = evaluation.get("task") == "multiclass"
    task = "multiclass classification" if multiclass else "binary classification"
    card: dict[str, Any] = {
        "modelParameters": {"task": task},
        "quantitativeAnalysis": {"performanceMetrics": metrics},
    }
    return card


@dataclass
class Device:
    """What the SBOM describes: the project, its manufacturer and its locked model."""

    root: Path
    manufacturer: str | None = None
    model_digest: str | None = None
    evaluation: dict[str, Any] | None = None
    commit: str | None = None
    timestamp: datetime | None = None


def _project_metadata(root: Path) -> dict[str, Any]:
    path = root / "pyproject.toml"
    if not path.is_file():
        raise NoDevice(
            "pyproject.toml not found: the device (its name, version, dependencies) is unknown"
        )
    try:
        data = tomllib.loads(bounded.read_text(path, bounded.MAX_YAML_BYTES))
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: malformed TOML: {exc}") from None
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    if not project.get("name"):
        raise NoDevice("pyproject.toml has no [project] name: the SBOM has no device to describe")
    return project


def build(device: Device) -> tuple[str, list[str]]:
    """(the SBOM as CycloneDX 1.6 JSON text, requirements of the device that are not installed)."""
    from cyclonedx.model import HashAlgorithm, HashType
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.contact import OrganizationalEntity
    from cyclonedx.output.json import JsonV1Dot6

    project = _project_metadata(device.root)
    name, version = str(project["name"]), str(project.get("version") or "0")
    closure = runtime_closure([str(r) for r in project.get("dependencies") or []])
    maker = OrganizationalEntity(name=device.manufacturer) if device.manufacturer else None
    subject = Component(
        type=ComponentType.APPLICATION,
        name=name,
        version=version,
        bom_ref="device",
        supplier=maker,
        description=project.get("description"),
    )
    bom = Bom(serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"samdkit:{name}:{device.commit}"))
    bom.metadata.component = subject
    bom.metadata.timestamp = device.timestamp
    bom.metadata.manufacturer = maker
    libraries = [_component(d, ComponentType.LIBRARY) for d in closure.dists.values()]
    model = Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=f"{name} model",
        version=version,
        bom_ref="model",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=device.model_digest)]
        if device.model_digest
        else None,
    )
    for component in [*libraries, model]:
        bom.components.add(component)
    bom.register_dependency(subject, [*libraries, model])
    for tool in TOOLS:
        dist = _installed(tool)
        if dist is not None and _key(tool) not in closure.dists:
            bom.metadata.tools.components.add(_component(dist, ComponentType.APPLICATION))
    data = json.loads(JsonV1Dot6(bom).output_as_string(indent=None))
    for component in data.get("components", []):
        if component.get("bom-ref") == "model":
            component["modelCard"] = model_card(device.evaluation)
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    error = validate(text)
    if error:
        raise UserError(f"SBOM does not validate against CycloneDX 1.6: {error}", exit_code=3)
    return text, closure.missing


def validate(text: str) -> str | None:
    """None when `text` is valid CycloneDX 1.6 JSON, else the validator's first error."""
    # jsonschema's IRI format checker (rfc3987-syntax) builds a grammar for 2 s at import; the SBOM's
    # IRIs are purls and the validator still checks every structure, type and enumeration without it
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is None:
        return None
    # the validator's own message quotes the offending value, which came from an input file (a
    # hand-edited model.lock can put anything there): name where and which rule, never the value
    detail = getattr(error, "data", None)
    where = getattr(detail, "json_path", None) or "$"
    rule = getattr(detail, "validator", None) or "schema"
    return (
        f"{where} breaks the schema's '{rule}' rule (value withheld: it comes from an input file)"
    )


def components(data: dict[str, Any]) -> dict[str, Any]:
    """The report's view of an SBOM: subject, SOUP rows (title, manufacturer, version, licence), tools."""

    def row(comp: dict[str, Any]) -> dict[str, Any]:
        licences = []
        for entry in comp.get("licenses") or []:
            lic = entry.get("license") or {}
            licences.append(lic.get("id") or lic.get("name") or entry.get("expression") or "")
        supplier = (
            (comp.get("supplier") or {}).get("name") or comp.get("author") or comp.get("publisher")
        )
        return {
            "name": comp.get("name", "?"),
            "version": comp.get("version", "?"),
            "license": ", ".join(x for x in licences if x) or "not declared",
            "supplier": supplier or "not declared",
            "purl": comp.get("purl", ""),
            "type": comp.get("type", "library"),
        }

    meta = data.get("metadata") or {}
    tools = meta.get("tools") if isinstance(meta.get("tools"), dict) else {}
    comps = [row(c) for c in data.get("components") or [] if isinstance(c, dict)]
    return {
        "subject": row(meta["component"]) if isinstance(meta.get("component"), dict) else None,
        "soup": sorted(
            (c for c in comps if c["type"] != "machine-learning-model"),
            key=lambda r: r["name"].lower(),
        ),
        "models": [c for c in comps if c["type"] == "machine-learning-model"],
        "tools": sorted(
            (row(c) for c in tools.get("components") or [] if isinstance(c, dict)),
            key=lambda r: r["name"].lower(),
        ),
    }


__all__ = ["Device", "build", "components", "runtime_closure", "validate"]
