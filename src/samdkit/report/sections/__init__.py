"""The report's sections, one function each: `section_<n>(bundle, ...) -> (data, gaps)`.

`data` is the section's part of the report context (templates and reports/clinical-validation-report.json);
`gaps` are the evidence it found missing or failed. samdkit.report.assemble calls them in order.
"""

from samdkit.report.sections.bundle import Bundle, collect
from samdkit.report.sections.front import (
    section_0,
    section_1,
    section_2,
    section_3,
    section_4,
    section_5,
    verdict,
)
from samdkit.report.sections.release import (
    appendix_a,
    section_12,
    section_13,
    section_14,
    section_15,
)
from samdkit.report.sections.results import (
    section_6,
    section_7,
    section_8,
    section_9,
    section_10,
    section_11,
)

__all__ = [
    "Bundle",
    "appendix_a",
    "collect",
    "section_0",
    "section_1",
    "section_2",
    "section_3",
    "section_4",
    "section_5",
    "section_6",
    "section_7",
    "section_8",
    "section_9",
    "section_10",
    "section_11",
    "section_12",
    "section_13",
    "section_14",
    "section_15",
    "verdict",
]
