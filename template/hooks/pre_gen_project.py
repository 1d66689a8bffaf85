"""Reject template variables that cannot work, before any file is written (one clear line, exit 1)."""

import keyword
import re
import sys

VALUES = {
    "project_name": {{ cookiecutter.project_name | tojson }},
    "project_slug": {{ cookiecutter.project_slug | tojson }},
    "package_name": {{ cookiecutter.package_name | tojson }},
    "organisation": {{ cookiecutter.organisation | tojson }},
    "contact": {{ cookiecutter.contact | tojson }},
    "intended_use": {{ cookiecutter.intended_use | tojson }},
    "samdkit_source": {{ cookiecutter.samdkit_source | tojson }},
    "safety_class": {{ cookiecutter.safety_class | tojson }},
    "iec62304_edition": {{ cookiecutter.iec62304_edition | tojson }},
    "rigour_level": {{ cookiecutter.rigour_level | tojson }},
}
# IEC 62304 edition 1 names a software safety class, edition 2 a process rigour level
IEC62304 = {"1": ("safety_class", ("A", "B", "C")), "2": ("rigour_level", ("I", "II"))}


def problems(values: dict) -> list:
    found = []
    for name in ("project_slug", "package_name"):
        value = values[name]
        if not value.isascii():
            # a package name must be ASCII to build and install everywhere (PEP 508 names)
            found.append(f"{name} {value!r} is not ASCII (use a-z, digits and _)")
        elif not value.isidentifier() or keyword.iskeyword(value):
            found.append(f"{name} {value!r} is not a valid Python identifier (use letters, digits, _)")
        elif not value.islower():
            found.append(f"{name} {value!r} must be lower case")
    for name in ("project_name", "organisation", "intended_use"):
        if not values[name].strip():
            found.append(f"{name} must not be empty")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", values["contact"].strip()):
        found.append(f"contact {values['contact']!r} is not an email address")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+@[\w./-]+", values["samdkit_source"]):
        found.append(f"samdkit_source {values['samdkit_source']!r} must look like OWNER/REPO@REF")
    edition = values["iec62304_edition"]
    if edition not in IEC62304:
        found.append(f"iec62304_edition {edition!r} must be 1 or 2")
    else:
        key, allowed = IEC62304[edition]
        if values[key] not in allowed:
            found.append(
                f"{key} {values[key]!r} must be one of {', '.join(allowed)} in IEC 62304 edition {edition}"
            )
    return found


if __name__ == "__main__":
    errors = problems(VALUES)
    for line in errors:
        print(f"ERROR: {line}", file=sys.stderr)
    sys.exit(1 if errors else 0)
