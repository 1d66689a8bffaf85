"""What changed between two model.lock files: the material a reviewer approves when a model changes."""

from __future__ import annotations

from typing import Any

from samdkit.core.findings import Finding, github_annotation
from samdkit.lock.provenance import flatten

# Changes to these mean a different model (or a different proof of it), not just new metadata.
MODEL_FIELDS = ("artifact.", "determinism.output_sha256", "determinism.golden.sha256", "data.")


def _change(field: str, old: Any, new: Any) -> dict[str, Any]:
    kind = "added" if old is None else "removed" if new is None else "changed"
    return {"field": field, "kind": kind, "old": old, "new": new}


def _mapping_changes(prefix: str, old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    changes = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            change = _change(f"{prefix}{key}", old.get(key), new.get(key))
            a, b = old.get(key), new.get(key)
            if (
                isinstance(a, int | float)
                and isinstance(b, int | float)
                and not isinstance(a, bool)
            ):
                change["delta"] = b - a
            changes.append(change)
    return changes


def _prediction_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    """Largest difference between the two locks' stored golden predictions, when they are comparable."""
    same_rows = (old.get("golden") or {}).get("sha256") == (new.get("golden") or {}).get("sha256")
    if old.get("row_ids") != new.get("row_ids") or not same_rows:  # rows are positions: same file?
        return None
    try:
        pairs = zip(_leaves(old["predictions"]), _leaves(new["predictions"]), strict=True)
        largest = max((abs(a - b) for a, b in pairs), default=0.0)
    except (ValueError, TypeError, KeyError):
        return None
    return {"field": "determinism.predictions", "kind": "compared", "max_abs_diff": largest}


def _leaves(value: Any) -> list[float]:
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [float(value)]


def diff_locks(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Every difference that matters to a reviewer, in a fixed order."""
    changes: list[dict[str, Any]] = []
    oa, na = old["artifact"], new["artifact"]
    if oa["root_digest"] != na["root_digest"]:
        changes.append(_change("artifact.root_digest", oa["root_digest"], na["root_digest"]))
    old_files = {f["path"]: f for f in oa["files"]}
    new_files = {f["path"]: f for f in na["files"]}
    for path in sorted(set(old_files) | set(new_files)):
        a, b = old_files.get(path), new_files.get(path)
        if a is None or b is None or a["sha256"] != b["sha256"]:
            change = _change(f"artifact.files[{path}]", a and a["sha256"], b and b["sha256"])
            change["size"] = [a and a["size"], b and b["size"]]
            changes.append(change)
    od, nd = old["determinism"], new["determinism"]
    for key in ("output_sha256", "tolerance", "runs"):
        if od.get(key) != nd.get(key):
            changes.append(_change(f"determinism.{key}", od.get(key), nd.get(key)))
    og, ng = od.get("golden") or {}, nd.get("golden") or {}
    if og.get("sha256") != ng.get("sha256"):
        changes.append(_change("determinism.golden.sha256", og.get("sha256"), ng.get("sha256")))
    if od.get("output_sha256") != nd.get("output_sha256"):
        compared = _prediction_diff(od, nd)
        if compared:
            changes.append(compared)
    changes += _mapping_changes("data.", _outs(old["data"]), _outs(new["data"]))
    if old.get("threshold") != new.get("threshold"):
        changes.append(_change("threshold", old.get("threshold"), new.get("threshold")))
    changes += _mapping_changes("params.", flatten(old["params"]), flatten(new["params"]))
    changes += _mapping_changes("metrics.", old.get("metrics") or {}, new.get("metrics") or {})
    changes += _mapping_changes("mlflow.", old["mlflow"], new["mlflow"])
    changes += _mapping_changes("git.", old["git"], new["git"])
    env_old = {k: v for k, v in old["environment"].items() if k != "packages"}
    env_new = {k: v for k, v in new["environment"].items() if k != "packages"}
    changes += _mapping_changes("environment.", env_old, env_new)
    changes += _mapping_changes(
        "environment.packages.",
        old["environment"].get("packages") or {},
        new["environment"].get("packages") or {},
    )
    for key in ("schema_version", "samdkit_version"):
        if old.get(key) != new.get(key):
            changes.append(_change(key, old.get(key), new.get(key)))
    return changes


def _outs(data: dict[str, Any]) -> dict[str, Any]:
    return {str(o.get("path")): o.get("md5") for o in data.get("outs") or [] if isinstance(o, dict)}


def model_changed(changes: list[dict[str, Any]]) -> bool:
    return any(c["field"].startswith(MODEL_FIELDS) for c in changes)


def _line(change: dict[str, Any]) -> str:
    if change["kind"] == "compared":
        return f"{change['field']}: largest difference {change['max_abs_diff']:.3g}"
    text = f"{change['field']}: {change['old']} -> {change['new']}"
    if "delta" in change:
        text += f" ({change['delta']:+.4g})"
    return text


def render(changes: list[dict[str, Any]], fmt: str, *, base: str, current: str) -> str:
    """Text, JSON or GitHub notices (followed by the text) for a lock diff."""
    changed = model_changed(changes)
    verdict = "the model changed" if changed else "same model"
    if fmt == "json":
        from samdkit.core.findings import GateResult, render_result

        result = GateResult(
            gate="verify-lock",
            verdict=verdict,
            summary={"differences": len(changes), "model_changed": changed},
            detail={"base": base, "current": current, "model_changed": changed, "changes": changes},
        )
        return render_result(result, "json")
    lines = []
    if fmt == "github":
        for change in changes:
            notice = Finding(f"model.lock {change['kind']}", _line(change), severity="notice")
            lines.append(github_annotation(notice))
    lines.append(f"model.lock: {base} -> {current}")
    lines.extend(f"  {c['kind'].upper():<8} {_line(c)}" for c in changes)
    lines.append(f"{len(changes)} difference(s); {verdict}")
    return "\n".join(lines)
