"""CycloneDX SBOM of the running Python environment (cyclonedx-bom's `cyclonedx-py environment`).

Generation takes about a second, so `start` launches it in the background and `finish` collects it while
the report renders. `--output-reproducible` keeps the bytes stable (timestamp from SOURCE_DATE_EPOCH).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def start(target: Path) -> subprocess.Popen[bytes] | None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    cmd = [
        sys.executable,
        "-m",
        "cyclonedx_py",
        "environment",
        "--output-reproducible",
        "--no-validate",
        "--of",
        "JSON",
        "-o",
        str(tmp),
        sys.executable,
    ]
    try:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError:
        return None


def finish(process: subprocess.Popen[bytes] | None, target: Path) -> str | None:
    """Wait for the generator; move the SBOM into place. Returns an error line, or None on success."""
    if process is None:
        return "cyclonedx-bom could not be started"
    _, err = process.communicate(timeout=300)
    tmp = target.with_name(f".{target.name}.tmp")
    if process.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        lines = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
        return f"cyclonedx-py failed: {lines[-1] if lines else f'exit {process.returncode}'}"
    tmp.replace(target)
    return None


def components(path: Path) -> list[dict[str, Any]]:
    """Name, version, licence, supplier and purl of each component, sorted by name."""
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = []
    for comp in data.get("components", []):
        licences = []
        for entry in comp.get("licenses", []) or []:
            lic = entry.get("license") or {}
            licences.append(lic.get("id") or lic.get("name") or entry.get("expression") or "")
        if not licences and comp.get("licenses") is None:
            licences = []
        supplier = (
            (comp.get("supplier") or {}).get("name") or comp.get("author") or comp.get("publisher")
        )
        rows.append(
            {
                "name": comp.get("name", "?"),
                "version": comp.get("version", "?"),
                "license": ", ".join(x for x in licences if x) or "not declared",
                "supplier": supplier or "see package metadata",
                "purl": comp.get("purl", ""),
            }
        )
    return sorted(rows, key=lambda r: r["name"].lower())
