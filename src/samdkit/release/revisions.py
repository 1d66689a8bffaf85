"""What a signed PDF may contain after its first signature: the revision policy of `samdkit verify`.

A PDF grows by incremental updates (revisions, ISO 32000-2 §7.5.6). Once the first signature covers a
revision, every later revision must be one of:

- a **signature revision**: the revision a later signature covers (its /ByteRange ends at the end of that
  revision); pyHanko's difference analysis then judges what it changed (at most a new signature field with
  its widget, `ModificationLevel.FORM_FILLING`);
- a **validation-data revision**: it rewrites only the document catalog, and only its /DSS entry (PAdES
  long-term validation data), besides adding new objects.

The document information dictionary and the XMP metadata stream may change in no revision after the
first signature, except that a signature revision may update the modification date and the producer
(signing tools, pyHanko included, rewrite both): pyHanko's LTA_UPDATES level admits any edit of either,
so they are compared here, property by property. The file must end where its last revision ends: bytes
after the last %%EOF belong to no revision and are refused (pyHanko reports them as no modification).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any

EOF_MARK = re.compile(rb"%%EOF(\r\n|\r|\n)?")
# what a signing tool rewrites when it appends a signature; any other metadata change is an edit
VOLATILE_INFO = {"/ModDate", "/Producer"}
VOLATILE_XMP = {
    "{http://ns.adobe.com/xap/1.0/}ModifyDate",
    "{http://ns.adobe.com/xap/1.0/}MetadataDate",
    "{http://ns.adobe.com/pdf/1.3/}Producer",
    "{adobe:ns:meta/}xmptk",
    "{http://ns.adobe.com/xap/1.0/mm/}InstanceID",
}
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"


@dataclass
class RevisionCheck:
    """Result of the policy for one PDF: `problems` is empty when every revision is allowed.

    `ends[k]` is the byte offset just past revision k's %%EOF (and its end-of-line);
    `signature_revisions` maps a signature field name to the revision its signature covers.
    """

    ends: list[int] = field(default_factory=list)
    signature_revisions: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def revision_ends(data: bytes, reader: Any) -> list[int]:
    """Byte offset after each revision's %%EOF marker (with its end-of-line), oldest first."""
    ends: list[int] = []
    for revision in range(reader.xrefs.total_revisions):
        info = reader.xrefs.get_xref_container_info(revision)
        start = max(info.declared_startxref, info.end_location)
        match = EOF_MARK.search(data, start)
        ends.append(match.end() if match else len(data))
    return ends


def _ref_key(ref: Any) -> tuple[int, int]:
    return (ref.idnum, ref.generation)


def _metadata_refs(resolver: Any) -> dict[str, Any]:
    """The /Info and XMP /Metadata references of one revision (absent ones left out)."""
    refs: dict[str, Any] = {}
    trailer = resolver.trailer_view
    if "/Info" in trailer and hasattr(trailer.raw_get("/Info"), "idnum"):
        refs["info"] = trailer.raw_get("/Info")
    catalog = resolver(trailer.raw_get("/Root"))
    if "/Metadata" in catalog and hasattr(catalog.raw_get("/Metadata"), "idnum"):
        refs["xmp"] = catalog.raw_get("/Metadata")
    return refs


def _info_properties(obj: Any) -> set[tuple[str, str]]:
    return {(str(k), str(v)) for k, v in obj.items() if k not in VOLATILE_INFO}


def _xmp_properties(obj: Any) -> set[tuple[str, str]]:
    """XMP as a set of (property, value) pairs, whatever its RDF layout; volatile ones left out."""
    from defusedxml import ElementTree

    try:
        tree = ElementTree.fromstring(obj.data)
    except Exception:
        return {("unparseable XMP", obj.data.hex())}
    found: set[tuple[str, str]] = set()

    def walk(element: Any, prop: str) -> None:
        if not element.tag.startswith(RDF) and element.tag != "{adobe:ns:meta/}xmpmeta":
            prop = element.tag
        for name, value in element.attrib.items():
            if not name.startswith(RDF) and name not in VOLATILE_XMP:
                found.add((name, value))
        text = (element.text or "").strip()
        if text and prop not in VOLATILE_XMP:
            found.add((prop, text))
        for child in element:
            walk(child, prop)

    walk(tree, "")
    return found


def _metadata_changes(reader: Any, before: int, after: int, lenient: bool) -> list[str]:
    """Which metadata revision `after` changed against revision `before` (allowed volatile keys aside)."""
    old, new = reader.get_historical_resolver(before), reader.get_historical_resolver(after)
    old_refs, new_refs = _metadata_refs(old), _metadata_refs(new)
    readers = {"info": _info_properties, "xmp": _xmp_properties}
    names = {"info": "the document information dictionary (/Info)", "xmp": "the XMP metadata"}
    changed = []
    for kind, props in readers.items():
        if (kind in old_refs) != (kind in new_refs):
            changed.append(names[kind])
            continue
        if kind not in old_refs:
            continue
        a, b = old(old_refs[kind]), new(new_refs[kind])
        if a is b or (props(a) == props(b) and (lenient or _same_raw(a, b))):
            continue
        changed.append(names[kind])
    return changed


def _same_raw(a: Any, b: Any) -> bool:
    """Outside signature revisions even the volatile keys must stay (nothing may be rewritten)."""
    data_a, data_b = getattr(a, "data", None), getattr(b, "data", None)
    if data_a is not None or data_b is not None:
        return data_a == data_b
    return dict(a) == dict(b)


def _describe(ref: Any) -> str:
    """A reader's name for an object an unexpected revision rewrote."""
    try:
        obj = ref.get_object()
        kind = obj.get("/Type") if hasattr(obj, "get") else None
    except Exception:
        kind = None
    return f"object {ref.idnum} {ref.generation} R" + (f" ({kind})" if kind else "")


def _reused_or_freed(reader: Any, revision: int, earlier: dict[int, int]) -> list[str]:
    """Objects a revision frees, or redefines under another generation number (a "new" object that
    is an old one in disguise: it would replace a page's content while looking like an addition).
    `earlier` maps each object number defined before `revision` to its generation."""
    problems = []
    for ref in sorted(reader.xrefs.refs_freed_in_revision(revision), key=_ref_key):
        problems.append(f"frees object {ref.idnum}")
    for ref in sorted(reader.xrefs.explicit_refs_in_revision(revision), key=_ref_key):
        if ref.idnum in earlier and earlier[ref.idnum] != ref.generation:
            problems.append(f"redefines object {ref.idnum} under generation {ref.generation}")
    return problems


def _validation_data_only(
    reader: Any, revision: int, metadata: set[tuple[int, int]], earlier: dict[int, int]
) -> list[str]:
    """What a revision without a signature changed beyond adding validation data (empty if nothing).

    Allowed: the catalog rewritten with a new or changed /DSS entry and nothing else changed in it,
    plus new objects (reachable only through what the revision rewrote). The metadata objects
    (`metadata`) are judged by `_metadata_changes`, not here.
    """
    root_ref = reader.trailer_view.raw_get("/Root")
    changed: list[str] = []
    dss_changed = False
    for ref in reader.xrefs.explicit_refs_in_revision(revision):
        if ref.idnum not in earlier or _ref_key(ref) in metadata:
            continue  # a new object number, or metadata (judged by _metadata_changes)
        if _ref_key(ref) != _ref_key(root_ref):
            changed.append(_describe(ref))
            continue
        before = reader.get_historical_resolver(revision - 1)(root_ref)
        after = reader.get_historical_resolver(revision)(root_ref)
        keys = set(before) | set(after)
        same = {
            k for k in keys if k in before and k in after and before.raw_get(k) == after.raw_get(k)
        }
        if keys - same - {"/DSS"}:
            changed.append("the document catalog beyond /DSS")
        dss_changed = dss_changed or "/DSS" in keys - same
    if not changed and not dss_changed:
        changed.append("no validation data (/DSS) either")
    return changed


def check_revisions(data: bytes) -> RevisionCheck:
    """Apply the policy to a PDF's bytes. Raises ValueError when the file cannot be parsed."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        ends = revision_ends(data, reader)
        signatures = list(reader.embedded_signatures)
    except Exception as exc:
        raise ValueError(f"the PDF cannot be parsed ({type(exc).__name__})") from None
    result = RevisionCheck(ends=ends)
    for sig in signatures:
        result.signature_revisions[str(sig.field_name)] = sig.signed_revision
        covered = sig.byte_range[2] + sig.byte_range[3]
        if covered != ends[sig.signed_revision]:
            result.problems.append(
                f"signature {sig.field_name} covers {covered} bytes, but its revision ends at "
                f"byte {ends[sig.signed_revision]}"
            )
    if not signatures:
        return result
    tail = len(data) - ends[-1]
    if tail > 0:
        result.problems.append(
            f"{tail} bytes after the last %%EOF belong to no revision (appended after signing)"
        )
    first = min(result.signature_revisions.values())
    signed = set(result.signature_revisions.values())
    earlier: dict[int, int] = {}
    for revision in range(reader.xrefs.total_revisions):
        if revision > first:
            try:
                result.problems.extend(_revision_problems(reader, revision, signed, earlier))
            except Exception as exc:  # a hostile revision is a verdict, never a crash
                result.problems.append(
                    f"revision {revision + 1} cannot be analysed ({type(exc).__name__})"
                )
        for ref in reader.xrefs.explicit_refs_in_revision(revision):
            earlier.setdefault(ref.idnum, ref.generation)
    return result


def _revision_problems(
    reader: Any, revision: int, signed: set[int], earlier: dict[int, int]
) -> list[str]:
    """What one revision after the first signature does that the policy does not allow."""
    label = f"revision {revision + 1}"
    problems = [f"{label} {what}" for what in _reused_or_freed(reader, revision, earlier)]
    changed = []
    if revision not in signed:
        metadata = _metadata_refs(reader.get_historical_resolver(revision - 1)).values()
        changed = _validation_data_only(reader, revision, {_ref_key(r) for r in metadata}, earlier)
    if changed:
        problems.append(f"{label} adds no signature; it changes {', '.join(changed)}")
    # signature and validation-data revisions may update the modification date and producer
    lenient = not changed and not problems
    problems += [
        f"{label} changes {what}"
        for what in _metadata_changes(reader, revision - 1, revision, lenient=lenient)
    ]
    return problems
