"""`samdkit sign` / `samdkit verify`: the signed release and the auditor's offline check of it.

sign (PAdES signatures with a visible stamp, the manifest, the pending record of an interrupted run) ->
manifest (release/manifest.json and its CMS signature: the one strict reader) and model_signature (the
OpenSSF model signature) -> verify (every check; pades and revisions judge the PDF signatures and what
follows them; trust authenticates signers from the auditor's roots and pins). layout says which files make
a release and how a release names them; report_digests is the evidence-digests attachment the report and
the model card carry (its one writer and reader); keys loads signing material from the environment.
Other packages use only `manifest`, `report_digests` and `layout`.
"""

__all__ = ["layout", "manifest", "report_digests"]
