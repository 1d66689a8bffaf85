"""The `pdf-signature` check of `samdkit verify`: each PAdES signature of one PDF, judged strictly.

A signature passes when it is intact and cryptographically valid (pyHanko), its own revision changed no
more than a new signature field (pyHanko's difference analysis, FORM_FILLING at most, DocMDP respected),
the file obeys the revision policy (samdkit.release.revisions), its signer is authenticated under the auditor's
trust (samdkit.release.trust), and its visible manifestation (21 CFR 11.50) is on the last page, legible in size,
inside the page, over no other stamp and over none of the document's own text.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from samdkit.core.findings import Finding
from samdkit.release import trust as tr
from samdkit.release.revisions import check_revisions

CHECK = "pdf-signature"
MIN_STAMP = (100.0, 30.0)  # width, height in points: smaller cannot show name, meaning and time


def check_pdf(path: Path, rel: str, policy: tr.TrustPolicy, findings: list[Finding]) -> set[str]:
    """Append the findings for one PDF; returns the fingerprints of its intact signers."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    data = path.read_bytes()
    if not data.startswith(b"%PDF-"):
        findings.append(Finding(CHECK, "not a PDF", file=rel, detail={"status": "not-pdf"}))
        return set()
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = list(reader.embedded_signatures)
        revisions = check_revisions(data)
    except Exception as exc:
        findings.append(_modified(rel, f"the PDF cannot be read ({type(exc).__name__})"))
        return set()
    if not signatures:
        findings.append(Finding(CHECK, "not signed", file=rel, detail={"status": "unsigned"}))
        return set()
    for problem in revisions.problems:
        findings.append(_modified(rel, f"changed after signing: {problem}", "revision-policy"))
    try:
        placement = _Placement(reader, data, revisions)
    except Exception as exc:
        findings.append(_modified(rel, f"the page tree cannot be read ({type(exc).__name__})"))
        return set()
    signers: set[str] = set()
    for index, sig in enumerate(signatures, start=1):
        if sig.sig_object_type == "/DocTimeStamp":
            findings.append(_check_document_timestamp(sig, index, rel, policy))
            continue
        finding, fingerprint = _check_signature(sig, index, rel, policy, placement)
        findings.append(finding)
        if fingerprint:
            signers.add(fingerprint)
    if placement.unchecked_text:
        findings.append(
            Finding(
                CHECK,
                "stamps not checked against the last page's own text (poppler-utils not installed)",
                file=rel,
                severity="warning",
            )
        )
    return signers


def _modified(rel: str, why: str, status: str = "modified", **detail: Any) -> Finding:
    return Finding(CHECK, f"modified: {why}", file=rel, detail={"status": status, **detail})


def _check_signature(
    sig: Any, index: int, rel: str, policy: tr.TrustPolicy, placement: _Placement
) -> tuple[Finding, str | None]:
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import validate_pdf_signature

    label = f"signature {index} ({sig.field_name})"
    base = {"signature": index, "field": str(sig.field_name)}
    try:
        status = validate_pdf_signature(sig, policy.validation_context())
    except Exception as exc:  # any failure to validate is a verdict, not a crash
        return _modified(rel, f"{label}: cannot be validated ({type(exc).__name__})", **base), None
    if not (status.intact and status.valid):
        why = "signed bytes changed (digest mismatch)" if not status.intact else "bad signature"
        return _modified(rel, f"{label}: {why}", **base), None
    level = status.modification_level
    if level is None or level > ModificationLevel.FORM_FILLING or not status.docmdp_ok:
        what = level.name if level is not None else "unknown"
        return _modified(
            rel,
            f"{label}: later revisions change more than signatures ({what})",
            modification_level=what,
            **base,
        ), None
    who = tr.identity(status.signing_cert)
    detail = {**base, "signer": who, **_manifestation(sig, status, who)}
    try:
        where = placement.problem(sig)
    except Exception as exc:
        where = f"its visible manifestation cannot be located ({type(exc).__name__})"
    if where:
        return Finding(
            CHECK, f"{label}: {where}", file=rel, detail={**detail, "status": "bad-appearance"}
        ), who["sha256"]
    timestamp = _timestamp_problem(status, policy)
    if timestamp:
        return Finding(
            CHECK, f"{label}: {timestamp}", file=rel, detail={**detail, "status": "bad-timestamp"}
        ), who["sha256"]
    ok, why = tr.authenticate(policy, status)
    text = f"{label}: {_describe(detail)}"
    if not ok:
        return Finding(
            CHECK, f"{text}: {why}", file=rel, detail={**detail, "status": "unauthenticated"}
        ), who["sha256"]
    return Finding(
        CHECK,
        f"{text}: valid, {why}",
        file=rel,
        severity="pass",
        detail={**detail, "status": "valid"},
    ), who["sha256"]


def _check_document_timestamp(sig: Any, index: int, rel: str, policy: tr.TrustPolicy) -> Finding:
    """A PAdES document timestamp (RFC 3161 over the revision): intact, its TSA trusted if roots
    were given; it signs nothing on anyone's behalf, so no signer pin applies."""
    from pyhanko.sign.validation import validate_pdf_timestamp

    label = f"document timestamp {index} ({sig.field_name})"
    base = {"signature": index, "field": str(sig.field_name)}
    try:
        status = validate_pdf_timestamp(sig, policy.validation_context())
    except Exception as exc:
        return _modified(rel, f"{label}: cannot be validated ({type(exc).__name__})", **base)
    if not (status.intact and status.valid):
        return _modified(rel, f"{label}: the timestamped bytes changed", **base)
    tsa = tr.identity(status.signing_cert)
    if policy.roots and not status.trusted:
        return Finding(
            CHECK,
            f"{label}: authority {tsa['subject']} does not chain to the trust roots",
            file=rel,
            detail={**base, "status": "unauthenticated", "tsa": tsa},
        )
    return Finding(
        CHECK,
        f"{label}: intact, authority {tsa['subject']}",
        file=rel,
        severity="pass",
        detail={**base, "status": "valid", "tsa": tsa},
    )


def _manifestation(sig: Any, status: Any, who: dict[str, str]) -> dict[str, Any]:
    """Name, meaning and UTC time as the signature states them; a typed name is kept apart."""
    obj = sig.sig_object
    typed = str(obj.get("/Name", "") or "")
    when = status.signer_reported_dt
    return {
        "name": who["common_name"],
        "typed_name": typed if typed and typed != who["common_name"] else None,
        "reason": str(obj.get("/Reason", "") or "") or "no meaning given",
        "time": when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if when else "no time",
        "timestamped": status.timestamp_validity is not None,
    }


def _describe(detail: dict[str, Any]) -> str:
    who = detail["signer"]
    typed = f" (typed name '{detail['typed_name']}' differs)" if detail["typed_name"] else ""
    stamp = ", timestamped" if detail["timestamped"] else ""
    return (
        f"signed by {who['subject']}{typed}, certificate sha256 {who['sha256']}, "
        f"{detail['reason']}, {detail['time']}{stamp}"
    )


def _timestamp_problem(status: Any, policy: tr.TrustPolicy) -> str | None:
    ts = status.timestamp_validity
    if ts is None:
        return None
    if not (ts.intact and ts.valid):
        return "the signature timestamp is not valid"
    if policy.roots and not ts.trusted:
        return "the timestamp authority does not chain to the trust roots"
    return None


class _Placement:
    """Where each signature's widget sits, against the last page and its original text."""

    def __init__(self, reader: Any, data: bytes, revisions: Any) -> None:
        self.pages = _pages(reader.root["/Pages"])
        self.rects: dict[str, tuple[float, ...]] = {}
        for sig in reader.embedded_signatures:
            rect = _widget(sig)[1]
            if rect:
                self.rects[str(sig.field_name)] = rect
        first = min(revisions.signature_revisions.values(), default=0)
        self.original = data[: revisions.ends[first - 1]] if first > 0 else None
        self._words: list[tuple[float, ...]] | None = None
        self.unchecked_text = False

    def problem(self, sig: Any) -> str | None:
        widget, rect = _widget(sig)
        if widget is None or rect is None:
            return "no visible signature manifestation (no widget with a rectangle)"
        index = next(
            (i for i, (_, ref) in enumerate(self.pages) if _has_annot(self.pages[i][0], widget)),
            None,
        )
        if index is None:
            return "its visible manifestation is on no page"
        if index != len(self.pages) - 1:
            return f"its visible manifestation is on page {index + 1}, not on the last page"
        page = self.pages[index][0]
        box = [float(v) for v in page.get("/MediaBox", [0, 0, 595, 842])]
        x1, y1, x2, y2 = rect
        if x2 - x1 < MIN_STAMP[0] or y2 - y1 < MIN_STAMP[1]:
            return f"its visible manifestation is too small to read ({x2 - x1:.0f} by {y2 - y1:.0f} pt)"
        if x1 < box[0] or y1 < box[1] or x2 > box[2] or y2 > box[3]:
            return "its visible manifestation lies partly outside the page"
        for name, other in self.rects.items():
            if name != str(sig.field_name) and _overlap(rect, other):
                return f"its visible manifestation overlaps signature {name}"
        words = self.words(box)
        if words is None:
            self.unchecked_text = True
            return None
        if any(_overlap(rect, word) for word in words):
            return "its visible manifestation covers the document's own text on the last page"
        return None

    def words(self, box: list[float]) -> list[tuple[float, ...]] | None:
        """Word boxes (PDF user space) of the last page as it was before the first signature."""
        if self._words is None and self.original is not None:
            self._words = _last_page_words(self.original, len(self.pages), box)
        return self._words


def _pages(node: Any) -> list[tuple[Any, Any]]:
    """(page dictionary, None) in document order."""
    node = node.get_object()
    if node.get("/Type") == "/Page":
        return [(node, None)]
    found: list[tuple[Any, Any]] = []
    for kid in node.get("/Kids", []):
        found.extend(_pages(kid))
    return found


def _widget(sig: Any) -> tuple[Any, tuple[float, ...] | None]:
    field = sig.sig_field
    widget = field if "/Rect" in field else None
    if widget is None:
        kids = field.get("/Kids", [])
        widget = kids[0].get_object() if kids else None
    if widget is None or "/Rect" not in widget:
        return widget, None
    x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
    return widget, (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def _has_annot(page: Any, widget: Any) -> bool:
    return any(
        annot.get_object() is widget or annot.get_object() == widget
        for annot in page.get("/Annots", []) or []
    )


def _overlap(a: tuple[float, ...], b: tuple[float, ...], slack: float = 0.5) -> bool:
    return (
        a[0] < b[2] - slack and b[0] < a[2] - slack and a[1] < b[3] - slack and b[1] < a[3] - slack
    )


def _last_page_words(pdf: bytes, page: int, box: list[float]) -> list[tuple[float, ...]] | None:
    """Word boxes from poppler's pdftotext -bbox (top-left origin) turned into PDF user space."""
    import re

    tool = shutil.which("pdftotext")
    if not tool:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "original.pdf"
        source.write_bytes(pdf)
        done = subprocess.run(
            [tool, "-q", "-bbox", "-f", str(page), "-l", str(page), str(source), "-"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    if done.returncode != 0:
        return None
    height = box[3] - box[1]
    words = []
    pattern = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)"'
    for x1, top, x2, bottom in re.findall(pattern, done.stdout):
        words.append(
            (
                box[0] + float(x1),
                box[1] + height - float(bottom),
                box[0] + float(x2),
                box[1] + height - float(top),
            )
        )
    return words
