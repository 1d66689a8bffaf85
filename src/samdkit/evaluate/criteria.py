"""The grammar of compliance/requirements.yaml: predetermined methods, subgroups and acceptance criteria.

See docs/requirements-grammar.md. Parsing keeps the line of every mapping, so a malformed criterion is
reported as `compliance/requirements.yaml:12: ...` (exit 2), never as a traceback.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from samdkit.core.bounded import BoundedSafeLoader
from samdkit.core.errors import UserError
from samdkit.evaluate.metrics import METRICS, PROPORTION_METHODS, Methods

COMPARATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
STATISTICS = ("value", "ci_lower", "ci_upper")
CRITERION_KEYS = {
    "id",
    "need",
    "text",
    "metric",
    "statistic",
    "comparator",
    "threshold",
    "subgroup",
    "risks",
    "min_n",
    "class",
}
TOP_KEYS = {"version", "needs", "user_needs", "methods", "subgroups", "requirements", "publication"}
DEFAULT_MIN_N = 30
# published outputs (model card, PR comment) suppress subgroup cells smaller than this: a common
# small-cell rule of health statistics, so that no published number describes one or a few patients
DEFAULT_MIN_CELL = 11


class _LineDict(dict):
    """A mapping that remembers the line it started on and the line of each key."""

    line: int = 0
    key_lines: dict[str, int]


class LineLoader(BoundedSafeLoader):
    pass


def _construct_map(loader: LineLoader, node: yaml.MappingNode):
    data = _LineDict()
    data.line = node.start_mark.line + 1
    data.key_lines = {
        str(k.value): v.start_mark.line + 1 for k, v in node.value if isinstance(k, yaml.ScalarNode)
    }
    yield data
    data.update(loader.construct_mapping(node))


LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)


@dataclass(frozen=True)
class Subgroup:
    """A predetermined subgroup column: its minimum n and the only labels evidence may print."""

    column: str
    min_n: int
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Criterion:
    id: str
    metric: str
    statistic: str
    comparator: str
    threshold: float
    line: int
    need: str | None = None
    text: str | None = None
    subgroup_column: str | None = None
    subgroup_value: str | None = None  # None with a column = every level of the column
    risks: tuple[str, ...] = ()
    min_n: int | None = None  # minimum n of the subgroup, as an alternative to `subgroups:`
    class_name: str | None = None  # a class of the outcome: its one-vs-rest metric

    def describe(self, level: float = 0.95) -> str:
        pct = f"{100 * level:g}%"
        stat = {
            "value": "",
            "ci_lower": f"lower {pct} CI bound of ",
            "ci_upper": f"upper {pct} CI bound of ",
        }
        where = "" if self.class_name is None else f" of class {self.class_name}"
        if self.subgroup_column:
            where += f" in {self.subgroup_column}={self.subgroup_value or 'each level'}"
        return f"{stat[self.statistic]}{self.metric}{where} {self.comparator} {self.threshold:g}"

    def check(self, observed: float | None) -> bool:
        return observed is not None and COMPARATORS[self.comparator](observed, self.threshold)


@dataclass
class Requirements:
    path: Path
    methods: Methods = field(default_factory=Methods)
    needs: dict[str, str] = field(default_factory=dict)
    subgroups: list[Subgroup] = field(default_factory=list)
    criteria: list[Criterion] = field(default_factory=list)
    min_cell: int = DEFAULT_MIN_CELL

    def min_n(self, column: str) -> int:
        for group in self.subgroups:
            if group.column == column:
                return group.min_n
        return DEFAULT_MIN_N

    def expected_values(self, column: str) -> tuple[str, ...]:
        """The configured labels of a subgroup column; a column without a list is a UserError.

        Labels come only from this list, never from the data: a value typed into the data (a name,
        a record number) is counted, never echoed into the evidence.
        """
        for group in self.subgroups:
            if group.column == column and group.values:
                return group.values
        raise UserError(
            f"{self.path}: subgroup column '{column}' has no list of expected values: add "
            f"`- {{column: {column}, values: [...]}}` under subgroups: (only listed values are reported)"
        )


def error_at(path: Path | str, line: int | None, message: str) -> UserError:
    """A one-line error at `path:line` (the line omitted when unknown)."""
    where = f"{path}:{line}" if line else str(path)
    return UserError(f"{where}: {message}")


def refuse_unknown(
    path: Path | str, mapping: Any, allowed: set[str], what: str = "unknown key", where: str = ""
) -> None:
    """The first key of `mapping` outside `allowed` is bad input at its line: "<what> '<key>'<where> (allowed: ...)"."""
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise error_at(
            path,
            line_of(mapping, unknown[0]),
            f"{what} '{unknown[0]}'{where} (allowed: {', '.join(sorted(allowed))})",
        )


def _require_map(path: Path, value: Any, what: str, line: int | None) -> _LineDict:
    if not isinstance(value, dict):
        raise error_at(path, line, f"{what} must be a mapping")
    return value  # type: ignore[return-value]


def line_of(mapping: Any, key: str | None = None) -> int | None:
    if isinstance(mapping, _LineDict):
        return mapping.key_lines.get(key, mapping.line) if key else mapping.line
    return None


def _parse_methods(path: Path, raw: Any) -> Methods:
    if raw is None:
        return Methods()
    raw = _require_map(path, raw, "methods", None)
    defaults = Methods()
    known = set(defaults.__dataclass_fields__)
    for key in raw:
        if key not in known:
            allowed = ", ".join(sorted(known))
            raise error_at(
                path, line_of(raw, key), f"unknown method setting '{key}' (allowed: {allowed})"
            )
    values = {**defaults.__dict__, **raw}
    if values["proportion_ci"] not in PROPORTION_METHODS:
        raise error_at(
            path,
            line_of(raw, "proportion_ci"),
            f"proportion_ci must be one of {', '.join(PROPORTION_METHODS)}",
        )
    level = values["confidence_level"]
    if not isinstance(level, float) or not 0.5 < level < 1:
        raise error_at(
            path, line_of(raw, "confidence_level"), "confidence_level must be in (0.5, 1)"
        )
    for key in ("bootstrap_resamples", "bootstrap_seed", "calibration_bins"):
        if not isinstance(values[key], int) or isinstance(values[key], bool) or values[key] < 1:
            raise error_at(path, line_of(raw, key), f"{key} must be a positive integer")
    return Methods(**values)


def _parse_subgroup(path: Path, raw: Any, line: int | None) -> tuple[str | None, str | None]:
    if raw is None:
        return None, None
    if (
        isinstance(raw, dict)
        and isinstance(raw.get("column"), str)
        and set(raw) <= {"column", "value"}
    ):
        value = raw.get("value")
        return raw["column"], (None if value in (None, "*") else str(value))
    if isinstance(raw, str) and raw.count("=") == 1:
        column, value = (s.strip() for s in raw.split("="))
        if column and value:
            return column, (None if value == "*" else value)
    raise error_at(
        path,
        line,
        f"subgroup must be 'column=value', 'column=*' (each level) or {{column, value}}, got {raw!r}",
    )


def _parse_test(path: Path, crit: _LineDict, rid: str) -> tuple[str, str, str, float]:
    """The test of a criterion: metric, statistic (value or a CI bound), comparator, threshold."""
    metric = crit["metric"]
    if metric not in METRICS:
        raise error_at(
            path,
            line_of(crit, "metric"),
            f"{rid}: unknown metric '{metric}' (known: {', '.join(METRICS)})",
        )
    statistic = crit.get("statistic", "value")
    if statistic not in STATISTICS:
        raise error_at(
            path,
            line_of(crit, "statistic"),
            f"{rid}: statistic must be one of {', '.join(STATISTICS)}, got {statistic!r}",
        )
    if statistic != "value" and METRICS[metric][0] == "plain":
        raise error_at(
            path, line_of(crit, "statistic"), f"{rid}: {metric} has no confidence interval"
        )
    comparator = crit["comparator"]
    if comparator not in COMPARATORS:
        raise error_at(
            path,
            line_of(crit, "comparator"),
            f"{rid}: comparator must be one of {', '.join(COMPARATORS)}, got {comparator!r}",
        )
    threshold = crit["threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise error_at(path, line_of(crit, "threshold"), f"{rid}: threshold must be a number")
    return metric, statistic, comparator, threshold


def parse_criterion(path: Path, raw: Any, index: int, seen: set[str]) -> Criterion:
    crit = _require_map(path, raw, f"requirements[{index}]", None)
    line = line_of(crit)
    refuse_unknown(path, crit, CRITERION_KEYS, where=" in a requirement")
    for key in ("id", "metric", "comparator", "threshold"):
        if key not in crit:
            raise error_at(path, line, f"requirement is missing '{key}'")
    rid = crit["id"]
    if not isinstance(rid, str) or not rid.strip():
        raise error_at(path, line_of(crit, "id"), "id must be a non-empty string")
    if rid in seen:
        raise error_at(path, line_of(crit, "id"), f"duplicate requirement id '{rid}'")
    seen.add(rid)
    metric, statistic, comparator, threshold = _parse_test(path, crit, rid)
    column, value = _parse_subgroup(path, crit.get("subgroup"), line_of(crit, "subgroup"))
    risks = crit.get("risks") or []
    if isinstance(risks, str):
        risks = [risks]
    if not isinstance(risks, list) or not all(isinstance(r, str) for r in risks):
        raise error_at(path, line_of(crit, "risks"), f"{rid}: risks must be a list of risk ids")
    need = crit.get("need")
    text = crit.get("text")
    min_n = crit.get("min_n")
    if min_n is not None and (isinstance(min_n, bool) or not isinstance(min_n, int) or min_n < 1):
        raise error_at(path, line_of(crit, "min_n"), f"{rid}: min_n must be a positive integer")
    if min_n is not None and column is None:
        raise error_at(path, line_of(crit, "min_n"), f"{rid}: min_n needs a subgroup")
    class_name = crit.get("class")
    if class_name is not None and (
        isinstance(class_name, bool)
        or not isinstance(class_name, str | int)
        or not str(class_name).strip()
    ):
        raise error_at(path, line_of(crit, "class"), f"{rid}: class must be one class label")
    return Criterion(
        id=rid,
        metric=metric,
        statistic=statistic,
        comparator=comparator,
        threshold=float(threshold),
        line=line or 0,
        need=None if need is None else str(need),
        text=None if text is None else str(text),
        subgroup_column=column,
        subgroup_value=value,
        risks=tuple(risks),
        min_n=min_n,
        class_name=None if class_name is None else str(class_name),
    )


def load(path: str | Path) -> Requirements:
    """Parse requirements.yaml; any problem is a UserError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error_at(
            path, mark.line + 1 if mark else None, f"malformed YAML: {problem}"
        ) from None
    data = _require_map(path, data, "the top level", 1)
    refuse_unknown(path, data, TOP_KEYS, "unknown top-level key")
    req = Requirements(path=path, methods=_parse_methods(path, data.get("methods")))
    needs_key = "user_needs" if "user_needs" in data else "needs"
    needs = data.get(needs_key) or []
    if not isinstance(needs, list):
        raise error_at(
            path, line_of(data, needs_key), f"{needs_key} must be a list of {{id, text}}"
        )
    for item in needs:
        if not isinstance(item, dict) or "id" not in item:
            raise error_at(
                path, line_of(item) or line_of(data, "needs"), "each need needs an id and a text"
            )
        req.needs[str(item["id"])] = str(item.get("text", ""))
    groups = data.get("subgroups") or []
    if not isinstance(groups, list):
        raise error_at(
            path, line_of(data, "subgroups"), "subgroups must be a list of {column, min_n}"
        )
    for item in groups:
        if not isinstance(item, dict) or not isinstance(item.get("column"), str):
            raise error_at(
                path, line_of(item) or line_of(data, "subgroups"), "each subgroup needs a column"
            )
        min_n = item.get("min_n", DEFAULT_MIN_N)
        if isinstance(min_n, bool) or not isinstance(min_n, int) or min_n < 1:
            raise error_at(path, line_of(item, "min_n"), "min_n must be a positive integer")
        req.subgroups.append(
            Subgroup(column=item["column"], min_n=min_n, values=_parse_values(path, item))
        )
    req.min_cell = parse_publication(path, data.get("publication"))
    raw_criteria = data.get("requirements")
    if not isinstance(raw_criteria, list) or not raw_criteria:
        raise error_at(
            path, line_of(data, "requirements") or 1, "requirements must be a non-empty list"
        )
    seen: set[str] = set()
    for index, raw in enumerate(raw_criteria):
        crit = parse_criterion(path, raw, index, seen)
        if crit.need and req.needs and crit.need not in req.needs:
            raise error_at(
                path, line_of(raw, "need"), f"{crit.id}: need '{crit.need}' is not in needs"
            )
        req.criteria.append(crit)
        if crit.min_n is not None and crit.subgroup_column:
            known = [g for g in req.subgroups if g.column == crit.subgroup_column]
            if not known:
                req.subgroups.append(Subgroup(column=crit.subgroup_column, min_n=crit.min_n))
            elif known[0].min_n < crit.min_n:  # the stricter minimum wins
                req.subgroups[req.subgroups.index(known[0])] = Subgroup(
                    crit.subgroup_column, crit.min_n, known[0].values
                )
    for crit, raw in zip(req.criteria, raw_criteria, strict=True):
        values = next((g.values for g in req.subgroups if g.column == crit.subgroup_column), ())
        if crit.subgroup_value is not None and values and crit.subgroup_value not in values:
            raise error_at(
                path,
                line_of(raw, "subgroup"),
                f"{crit.id}: subgroup value is not in the expected values of {crit.subgroup_column}",
            )
    return req


def _parse_values(path: Path, item: Any) -> tuple[str, ...]:
    """The expected labels of a subgroup column (strings, unique); empty when not given."""
    values = item.get("values")
    if values is None:
        return ()
    if (
        not isinstance(values, list)
        or not values
        or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values)
    ):
        raise error_at(path, line_of(item, "values"), "values must be a non-empty list of labels")
    labels = tuple(str(v) for v in values)
    if len(set(labels)) != len(labels):
        raise error_at(path, line_of(item, "values"), "values lists a label twice")
    return labels


def parse_publication(path: Path, raw: Any) -> int:
    """`publication: {min_cell_size: N}`: the smallest subgroup cell a published output may show."""
    if raw is None:
        return DEFAULT_MIN_CELL
    raw = _require_map(path, raw, "publication", None)
    unknown = set(raw) - {"min_cell_size"}
    if unknown:
        raise error_at(
            path, line_of(raw, sorted(unknown)[0]), "publication allows only min_cell_size"
        )
    size = raw.get("min_cell_size", DEFAULT_MIN_CELL)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise error_at(
            path, line_of(raw, "min_cell_size"), "min_cell_size must be a positive integer"
        )
    return size


def _observed(criterion: Criterion, entry: dict[str, Any]) -> float | None:
    from samdkit.evaluate.metrics import class_entry, flat

    if criterion.class_name is not None and entry.get("per_class") is not None:
        entry = class_entry(entry, criterion.class_name) or {}
    metric = flat(entry).get(criterion.metric) or {}
    if criterion.statistic == "value":
        return metric.get("value")
    ci = metric.get("ci") or {}
    return ci.get("lower" if criterion.statistic == "ci_lower" else "upper")


def evaluate_criteria(
    req: Requirements,
    overall: dict[str, Any],
    subgroups: list[dict[str, Any]],
    multiclass: bool = False,
) -> list[dict[str, Any]]:
    """Each criterion (one row per subgroup level for `column=*`) → PASS/FAIL with the observed value."""
    rows: list[dict[str, Any]] = []
    for crit in req.criteria:
        base = {
            "id": crit.id,
            "need": crit.need,
            "need_text": req.needs.get(crit.need or "", None),
            "text": crit.text,
            "metric": crit.metric,
            "statistic": crit.statistic,
            "comparator": crit.comparator,
            "threshold": crit.threshold,
            "risks": list(crit.risks),
            "criterion": crit.describe(req.methods.confidence_level),
            "source": f"{req.path.name}:{crit.line}",
        }
        if crit.class_name is not None or multiclass:
            base["class"] = crit.class_name
        if crit.subgroup_column is None:
            targets = [(None, overall)]
        else:
            targets = [
                (g, g)
                for g in subgroups
                if g["column"] == crit.subgroup_column
                and (crit.subgroup_value is None or g["value"] == crit.subgroup_value)
            ]
        if not targets:
            rows.append(
                {
                    **base,
                    "subgroup": f"{crit.subgroup_column}={crit.subgroup_value or '*'}",
                    "n": 0,
                    "observed": None,
                    "result": "FAIL",
                    "reason": "subgroup has no cases in the test set",
                }
            )
            continue
        for group, entry in targets:
            observed = _observed(crit, entry)
            row = {
                **base,
                "subgroup": None if group is None else f"{group['column']}={group['value']}",
                "n": entry["n"],
                "observed": observed,
            }
            if group is not None and group["below_min_n"]:
                row.update(
                    result="FAIL", reason=f"n={entry['n']} below the minimum n={group['min_n']}"
                )
            elif observed is None:
                row.update(result="FAIL", reason="metric undefined for these cases")
            else:
                ok = crit.check(observed)
                row.update(
                    result="PASS" if ok else "FAIL", reason=None if ok else "criterion not met"
                )
            rows.append(row)
    return rows
