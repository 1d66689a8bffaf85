"""`samdkit check-data`: Great Expectations suites over files and databases, and the data-check result.

command (the CLI) -> config ([tool.samdkit.data]) -> validation (stage every suite and dataset, then GX through
gx.py), reading (datasets as written) and casting (typed only as the suite says), coverage (every pipeline
dataset checked or exempt) -> result (reports/data-check.json, the one strict reader/writer). drafting: --init
and --upgrade-suite. Other packages use only `result` and `sources` (URL redaction).
"""

__all__ = ["result", "sources"]
