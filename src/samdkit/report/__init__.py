"""`samdkit report`: the clinical validation report and model card from the release evidence.

command (orchestration), evidence (reads the inputs once, strictly), sections (one function per section),
assemble (the sections in order), model_card, render (jinja, PDF/A, attachments), plots, sbom, glyphs.
"""

__all__ = ["assemble", "command", "evidence", "model_card", "render", "sections"]
