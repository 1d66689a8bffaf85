"""Where `samdkit check-data` reads a dataset: a local file (pandas), a database (SQLAlchemy) or Spark.

A source is named in ``[tool.samdkit.data.sources.NAME]`` (a check's ``dataset`` may then be NAME) or
given on the command line (``--url``/``--url-env`` with ``--table``/``--query``; ``--engine spark``
with ``--dataset PATH``)::

    [tool.samdkit.data.sources.person]          # a table or a query in a database
    url = "postgresql+psycopg://omop_reader:${OMOP_PASSWORD}@db.hospital:5432/omop"
    table = "person"                             # or query = "SELECT ... FROM cdm.person"
    schema = "cdm"

    [tool.samdkit.data.sources.train_spark]     # a Parquet or CSV file (or folder) read by Spark
    engine = "spark"
    path = "data/prepared/train.parquet"
    spark = { "spark.master" = "local[2]", "spark.driver.memory" = "1g" }

Credentials come only from the environment: ``${VAR}`` in ``url`` is replaced by the variable
(URL-encoded: the variable holds the password as it is), or
``url_env`` names a variable holding the whole URL. The resolved URL never leaves this module: the
result and every message name the source as ``postgresql://user@host:port/db`` (no password, no
query parameters), and any error text is scrubbed of the URL and its password.

The data stays in the engine: GX computes every metric there (SQL queries, Spark jobs) and only
aggregates come back. A Spark CSV is read as text like the pandas path and typed as the suite says
(`spark_typed`); Parquet and database columns keep their own types.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from samdkit.core.errors import UserError
from samdkit.core.project import shown_path

ENGINES = ("pandas", "sql", "spark")
KEYS = {"engine", "path", "url", "url_env", "table", "schema", "query", "spark"}
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# URL query parameters that carry a credential (libpq, ODBC, token-based drivers)
SECRET_PARAMETERS = {"password", "passwd", "pwd", "sslpassword", "token", "access_token"}
# how a Spark CSV column is typed for each target of the suite's typing plan (data_check.plan_types)
SPARK_TYPES = {
    "int": "bigint",
    "float": "double",
    "bool": "boolean",
    "datetime": "timestamp",
    "datetime_tz": "timestamp",
}


@dataclass(frozen=True)
class Source:
    """A dataset that is not a local pandas file: a database table or query, or a Spark read."""

    name: str
    engine: str
    path: Path | None = None
    url: str | None = None
    url_env: str | None = None
    table: str | None = None
    schema: str | None = None
    query: str | None = None
    spark: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def text(self) -> bool:
        """Read as text and typed by the suite (a Spark CSV), like a CSV on the pandas path."""
        return self.engine == "spark" and bool(self.path) and _is_csv(self.path)

    def url_resolved(self) -> str:
        """The URL with its credentials from the environment; never printed nor stored."""
        if self.url_env:
            value = os.environ.get(self.url_env)
            if not value:
                raise UserError(f"{self.name}: environment variable {self.url_env} is not set")
            return value
        assert self.url is not None

        def variable(match: re.Match[str]) -> str:
            value = os.environ.get(match.group(1))
            if value is None:
                raise UserError(
                    f"{self.name}: the URL needs environment variable {match.group(1)}, not set"
                )
            return quote(value, safe="")  # a raw password, URL-encoded where it goes

        return ENV_REFERENCE.sub(variable, self.url)

    def public_url(self) -> str:
        """``dialect://user@host:port/database``: the URL without password nor query parameters."""
        return public_url(self.url_resolved())

    def precheck(self, root: Path) -> str:
        """Its label, once what GX is not needed for is checked (before its seconds of import):
        the variables set, the file there, the database reachable with the table in it."""
        label = self.label(root)
        if self.path is not None and not self.path.exists():
            raise UserError(f"{label}: dataset not found")
        if self.engine == "sql":
            self._reach(label)
        return label

    def _reach(self, label: str) -> None:
        import sqlalchemy as sa

        try:
            engine = sa.create_engine(self.url_resolved())
            try:
                with engine.connect() as connection:
                    found = not self.table or sa.inspect(connection).has_table(
                        self.table, schema=self.schema
                    )
            finally:
                engine.dispose()
        except Exception as exc:  # SQLAlchemy and every driver raise their own kinds
            raise UserError(f"{label}: cannot read: {why(exc, self)}") from None
        if not found:
            where = f"{self.schema}.{self.table}" if self.schema else self.table
            raise UserError(f"{label}: cannot read: no table {where} in this database")

    def label(self, root: Path) -> str:
        """How messages and the result name the source (no secret)."""
        if self.engine == "sql":
            what = f"table {self.schema + '.' if self.schema else ''}{self.table}"
            return f"{self.public_url()} {what if self.table else 'query'}"
        return f"spark:{shown_path(root, self.path)}" if self.path else self.name

    def describe(self, root: Path) -> dict[str, Any]:
        """The source as the result records it: engine and location, never a credential."""
        if self.engine == "sql":
            where = {"table": self.table, "schema": self.schema} if self.table else {}
            return {
                "engine": "sql",
                "name": self.name,
                "url": self.public_url(),
                **(where or {"query": self.query}),
            }
        settings = dict(self.spark)
        return {
            "engine": "spark",
            "name": self.name,
            "path": shown_path(root, self.path) if self.path else "",
            **settings,
        }


def _is_csv(path: Path) -> bool:
    return path.name.lower().endswith((".csv", ".csv.gz", ".tsv")) or (
        path.is_dir() and any(p.name.lower().endswith(".csv") for p in path.iterdir())
    )


def public_url(url: str) -> str:
    """The URL for people to read: dialect, user, host, port, database; never the password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return "<a URL that is not a SQLAlchemy URL>"
    dialect = parsed.get_backend_name()
    if parsed.host and "@" in parsed.host:  # a raw '@' in the password: the rest would show
        return f"{dialect}://<a URL whose password holds a raw '@': write it as %40>"
    user = f"{parsed.username}@" if parsed.username else ""
    port = f":{parsed.port}" if parsed.port else ""
    database = f"/{parsed.database}" if parsed.database else ""
    return f"{dialect}://{user}{parsed.host or ''}{port}{database}"


def scrub(text: str, source: Source) -> str:
    """An error's first line without the URL, its password or any credential-looking fragment."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    try:
        url = source.url_resolved() if source.engine == "sql" else None
    except UserError:
        url = None
    if url:
        from sqlalchemy.engine import make_url

        try:
            password = make_url(url).password
        except Exception:
            password = None
        line = line.replace(url, source.public_url())
        secrets = {password, *(os.environ.get(v) for v in _variables(source))} - {None, ""}
        for secret in sorted(secrets, key=len, reverse=True):  # as written and URL-encoded
            for form in {str(secret), quote(str(secret), safe="")}:
                line = line.replace(form, "***")
    return re.sub(r"(?i)(password\s*[=:]\s*)\S+", r"\1***", line)


def _variables(source: Source) -> list[str]:
    names = ENV_REFERENCE.findall(source.url or "")
    return [*names, *([source.url_env] if source.url_env else [])]


def parse(name: str, spec: Any, root: Path, where: str) -> Source:
    """A source from its table in pyproject.toml (or from the command line), checked."""
    if not isinstance(spec, dict):
        raise UserError(f"{where} must be a table")
    unknown = sorted(set(spec) - KEYS)
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {sorted(KEYS)})")
    has_url = bool(spec.get("url") or spec.get("url_env"))
    engine = spec.get("engine") or ("sql" if has_url else "pandas")
    if engine not in ENGINES:
        raise UserError(f"{where}: engine '{engine}' is not one of {', '.join(ENGINES)}")
    for key in ("path", "url", "url_env", "table", "schema", "query"):
        if key in spec and not (isinstance(spec[key], str) and spec[key].strip()):
            raise UserError(f"{where}: {key} must be a non-empty string")
    if engine == "sql":
        if bool(spec.get("url")) == bool(spec.get("url_env")):
            raise UserError(f"{where}: give one of url (may hold ${{VAR}}) or url_env")
        if spec.get("url") and written_secret(spec["url"]):
            raise UserError(
                f"{where}: the url holds a password written out: write it as ${{VAR}} (taken from "
                "the environment) or put the whole URL in the variable that url_env names"
            )
        _require_sqlalchemy(where)
        if bool(spec.get("table")) == bool(spec.get("query")):
            raise UserError(f"{where}: give one of table or query")
        if spec.get("schema") and not spec.get("table"):
            raise UserError(f"{where}: schema goes with table")
        return Source(
            name=name,
            engine="sql",
            url=spec.get("url"),
            url_env=spec.get("url_env"),
            table=spec.get("table"),
            schema=spec.get("schema"),
            query=spec.get("query"),
        )
    if not spec.get("path"):
        raise UserError(f"{where}: a {engine} source needs a path")
    extra = sorted({"url", "url_env", "table", "schema", "query"} & set(spec))
    if extra:
        raise UserError(f"{where}: {', '.join(extra)} belong to a database source (url + table)")
    settings = spec.get("spark") or {}
    if settings and engine != "spark":
        raise UserError(f'{where}: spark settings need engine = "spark"')
    if not isinstance(settings, dict) or not all(isinstance(k, str) for k in settings):
        raise UserError(f"{where}: spark must map setting names to values")
    return Source(
        name=name,
        engine=engine,
        path=(root / spec["path"]).resolve(),
        spark=tuple(sorted((k, str(v)) for k, v in settings.items())),
    )


def written_secret(url: str) -> bool:
    """True when a URL carries a credential that is not a ``${VAR}`` reference: a password in a
    pyproject.toml, a CI file or a command line (the process list, a gate result's command)."""
    from urllib.parse import parse_qsl, urlsplit

    bare = ENV_REFERENCE.sub("", url)
    try:
        parts = urlsplit(bare)
        password = parts.password
    except ValueError:
        return False
    query = parse_qsl(parts.query, keep_blank_values=True)
    return bool(password) or any(
        (k.lower() in SECRET_PARAMETERS and v) or CONNECT_STRING_SECRET.search(v) for k, v in query
    )


# a password inside a connection string carried by one parameter (odbc_connect=...;PWD=...),
# written out or percent-encoded
CONNECT_STRING_SECRET = re.compile(r"(?i)(?:^|;)\s*(?:pwd|password)\s*=\s*[^;\s]")


URL_PASSWORD = re.compile(
    r"(?P<head>[A-Za-z][\w+.-]*://[^\s:/@]*:)(?P<password>\S+?)(?=@[^@\s/?#]*(?:[/?#\s]|$))"
)
QUERY_SECRET = re.compile(
    rf"(?i)(?P<head>[?&](?:{'|'.join(SECRET_PARAMETERS)})=)(?P<password>[^&\s]+)"
)

CONNECT_SECRET = re.compile(
    r"(?i)(?P<head>(?:[;?&=]|%3B)\s*(?:pwd|password)\s*(?:=|%3D))(?P<password>(?:(?!%3B|%26)[^;&\s])+)"
)


def redact(text: str) -> str:
    """Text (a recorded command line) with every credential written in a URL replaced by ``***``;
    ``${VAR}`` references stay (they are not secrets)."""

    def hide(match: re.Match[str]) -> str:
        if ENV_REFERENCE.fullmatch(match.group("password")):
            return match.group(0)
        return match.group("head") + "***"

    hidden = QUERY_SECRET.sub(hide, URL_PASSWORD.sub(hide, text))
    return CONNECT_SECRET.sub(lambda m: m.group("head") + "***", hidden)


def _require_sqlalchemy(where: str) -> None:
    """A database source needs the sql extra; said before any work, not as an internal error."""
    try:
        import sqlalchemy  # noqa: F401
    except ImportError:
        raise UserError(
            f'{where}: a database source needs SQLAlchemy and a driver: pip install "samdkit[sql]"'
        ) from None


def configured(section: dict[str, Any], root: Path) -> dict[str, Source]:
    """Every ``[tool.samdkit.data.sources.NAME]``."""
    raw = section.get("sources", {})
    if not isinstance(raw, dict):
        raise UserError("pyproject.toml: [tool.samdkit.data.sources] maps names to tables")
    return {
        name: parse(name, spec, root, f"pyproject.toml: [tool.samdkit.data.sources.{name}]")
        for name, spec in raw.items()
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data sources (see docs/data-checks.md)")
    group.add_argument(
        "--url",
        help="SQLAlchemy URL of a database; write credentials as ${VAR} (from the environment)",
    )
    group.add_argument("--url-env", help="the environment variable holding the database URL")
    group.add_argument("--table", help="with --url/--url-env: the table to validate")
    group.add_argument("--schema", help="with --table: its schema")
    group.add_argument("--query", help="with --url/--url-env: the query whose rows are validated")
    group.add_argument(
        "--engine", choices=("pandas", "spark"), help="how --dataset PATH is read (default pandas)"
    )


def from_arguments(args: argparse.Namespace, root: Path) -> Source | None:
    """The ad hoc source of the command line, or None when --dataset is a plain file or a name."""
    keys = ("url", "url_env", "table", "schema", "query")
    spec = {k: getattr(args, k) for k in keys if getattr(args, k, None)}
    if spec:
        if args.dataset:
            raise UserError("--dataset and --url/--url-env/--table/--query do not go together")
        return parse(spec.get("table") or "query", spec, root, "command line")
    if getattr(args, "engine", None) == "spark" and args.dataset:
        return parse(
            args.dataset, {"engine": "spark", "path": args.dataset}, Path.cwd(), "--dataset"
        )
    return None


# -- opened in Great Expectations: the data stays in the engine ------------------------------------


@dataclass
class EngineData:
    """A source opened in GX: the batch its metrics run on, and its shape as the engine counts it."""

    source: Source
    batch: Any
    columns: list[str]
    rows: int
    typing: dict[str, Any]
    written: dict[str, int] = field(default_factory=dict)  # non-missing cells of typed columns

    def entry(self, root: Path, digest: Any) -> dict[str, Any]:
        """The result's ``dataset`` entry, shaped as for a local file (no digest for a database)."""
        path = self.source.path
        return {
            "path": self.source.label(root),
            "sha256": digest(path) if path and path.is_file() else None,
            "rows": self.rows,
            "columns": len(self.columns),
            "read_as": "text" if self.source.text else "typed",
            "source": self.source.describe(root),
        }


def _root_cause(exc: BaseException) -> BaseException:
    """The driver's error under GX's wrappers (GX re-raises with its own words around it)."""
    seen = exc
    while (seen.__cause__ or seen.__context__) is not None and seen not in (
        seen.__cause__,
        seen.__context__,
    ):
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    return seen


def why(exc: BaseException, source: Source) -> str:
    """One line on why a source could not be read, without a credential."""
    cause = _root_cause(exc)
    if isinstance(cause, ModuleNotFoundError):
        return f"the driver is not installed ({cause.msg}): install it in this environment"
    name = type(cause).__name__
    if "JAVA_GATEWAY" in str(cause) or "JAVA_HOME" in str(cause):
        return "Spark could not start its Java runtime: install one (e.g. openjdk-17-jre-headless)"
    java = getattr(cause, "java_exception", None)  # Spark: the JVM's own first line says why
    if java is not None:
        return withhold_quoted(scrub(str(java.toString()), source), [])
    text = scrub(str(cause), source) or scrub(str(exc), source)
    if source.engine == "sql":  # a driver quotes the offending value: it may be a patient's
        text = withhold_quoted(text, [])
    return f"{name}: {text}" if text else name


def open_source(
    context: Any, source: Source, plan: dict[str, Any], root: Path, n: int
) -> EngineData:
    """A GX batch on the source, its columns and row count (one clear line when it cannot be read)."""
    label = source.precheck(root)  # a missing variable or file is said before any engine
    try:
        if source.engine == "sql":
            batch, typing, written = _sql_batch(context, source, n), {}, {}
        else:
            batch, typing, written = _spark_batch(context, source, plan, n)
        rows, columns = _shape(batch)
    except UserError:
        raise
    except Exception as exc:  # drivers, GX and Spark raise their own kinds
        raise UserError(f"{label}: cannot read: {why(exc, source)}") from None
    if not rows:
        raise UserError(f"{label}: dataset is empty (no rows)")
    return EngineData(source, batch, columns, rows, typing, written)


def _shape(batch: Any) -> tuple[int, list[str]]:
    """Rows and column names, computed by the engine (through the run's context: no progress bars,
    unlike ``batch.columns()``)."""
    import great_expectations.expectations as gxe

    observed = []
    for expectation in (
        gxe.ExpectTableRowCountToBeBetween(min_value=0),
        gxe.ExpectTableColumnsToMatchOrderedList(column_list=[]),
    ):
        result = batch.validate(expectation)
        failure = _raised(result.exception_info)
        if failure is not None or "observed_value" not in (result.result or {}):
            raise RuntimeError(failure or "the engine computed no value")
        observed.append(result.result["observed_value"])
    return int(observed[0]), [str(c) for c in observed[1]]


def _raised(info: Any) -> str | None:
    """The engine's error in a GX result's exception_info, flat or keyed by metric (GX 1.x)."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "unreadable")
    found = (_raised(value) for value in info.values() if isinstance(value, dict))
    return next((f for f in found if f is not None), None)


def _sql_batch(context: Any, source: Source, n: int) -> Any:
    import warnings

    with warnings.catch_warnings():
        # GX suggests its per-dialect data sources (same engine) and a schema in the URL (the
        # schema of a table is this source's setting, as GX's own table asset still takes it)
        warnings.simplefilter("ignore")
        # no temporary table: a read-only account can validate a query, and nothing is copied
        datasource = context.data_sources.add_sql(
            f"sql-{n}", connection_string=source.url_resolved(), create_temp_table=False
        )
        if source.table:
            asset = datasource.add_table_asset(
                f"asset-{n}", table_name=source.table, schema_name=source.schema
            )
        else:
            asset = datasource.add_query_asset(f"asset-{n}", query=source.query)
    return asset.add_batch_definition_whole_table("whole").get_batch()


def spark_session(source: Source) -> Any:
    """The process's Spark session (reused when one runs), started with the source's settings."""
    from pyspark.sql import SparkSession

    settings = {
        "spark.master": "local[*]",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",  # no progress bars in a CI log
        "spark.log.level": "ERROR",
        **dict(source.spark),
    }
    if settings["spark.master"].startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # local mode: loopback only
    _quiet_context(settings)
    builder = SparkSession.builder.appName("samdkit check-data")
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _quiet_context(settings: dict[str, str]) -> None:
    """Start Spark's JVM with its console (start-up notes, warnings, Java stack traces) in a file.

    What goes wrong reaches the user from Python, as one line; the JVM's own chatter would
    otherwise fill the terminal and the CI log. A context that already runs is left as it is.
    """
    import tempfile

    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._active_spark_context is not None:
        return
    conf = SparkConf(loadDefaults=False).setAll(list(settings.items()))
    with tempfile.TemporaryFile() as console:  # the JVM keeps its own descriptor
        gateway = launch_gateway(conf, popen_kwargs={"stdout": console, "stderr": console})
    SparkContext(conf=conf.setAppName("samdkit check-data"), gateway=gateway)


def _spark_batch(context: Any, source: Source, plan: dict[str, Any], n: int) -> tuple[Any, ...]:
    assert source.path is not None
    spark = spark_session(source)
    if source.text:
        sep = "\t" if source.path.name.lower().endswith(".tsv") else ","
        reader = spark.read.option("header", True).option("inferSchema", False)
        frame = reader.option("sep", sep).option("encoding", "UTF-8").csv(str(source.path))
        frame, typing, written = spark_typed(frame, plan)
    else:
        frame, typing, written = spark.read.parquet(str(source.path)), {}, {}
    name = "samdkit-spark"
    try:
        datasource = context.data_sources.get(name)
    except Exception:
        datasource = context.data_sources.add_spark(name)  # persisted: read once per suite
    asset = datasource.add_dataframe_asset(f"asset-{n}")
    batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(
        batch_parameters={"dataframe": frame}
    )
    return batch, typing, written


def spark_typed(frame: Any, plan: dict[str, Any]) -> tuple[Any, dict[str, Any], dict[str, int]]:
    """A text (CSV) Spark frame typed as the suite says, like data_check.typed on pandas.

    Spark's ``try_cast`` gives null where a written cell does not parse; those cells are counted
    (one Spark job for every planned column). A type only implied by numeric expectations types
    the column only when every written cell parses; ``number`` is bigint when every cell is an
    integer, else double.
    """
    from pyspark.sql import functions as F

    wanted = {c: s for c, s in plan.items() if c in frame.columns}
    targets = {c: _spark_targets(s["as"]) for c, s in wanted.items()}
    checks = [
        F.sum(F.when(F.col(c).isNotNull() & F.col(c).try_cast(t).isNull(), 1).otherwise(0)).alias(
            f"{i}:{t}"
        )
        for i, (c, ts) in enumerate(targets.items())
        for t in ts
    ]
    checks += [F.count(F.col(c)).alias(f"{i}:written") for i, c in enumerate(targets)]
    counts = frame.agg(*checks).first().asDict() if checks else {}
    typing, casts = {}, {}
    for i, (column, spec) in enumerate(wanted.items()):
        if not targets[column]:
            continue  # durations, categories: left as text on Spark (its types have none)
        failed = {t: int(counts[f"{i}:{t}"] or 0) for t in targets[column]}
        target = next((t for t, bad in failed.items() if not bad), targets[column][-1])
        typing[column] = {**spec, "unparsed": failed[target]}
        if failed[target] and spec["declared_by"] not in (
            "expect_column_values_to_be_of_type",
            "expect_column_values_to_be_in_type_list",
        ):
            typing[column]["kept_as_text"] = True
        else:
            casts[column] = F.col(column).try_cast(target)
    written = {c: int(counts[f"{i}:written"]) for i, c in enumerate(targets) if c in typing}
    return (frame.withColumns(casts) if casts else frame), typing, written


def _spark_targets(kind: str) -> list[str]:
    if kind == "number":
        return ["bigint", "double"]
    return [SPARK_TYPES[kind]] if kind in SPARK_TYPES else []


def withhold_quoted(message: str, columns: list[str]) -> str:
    """An engine's message with every quoted fragment that is not a column or metric name withheld.

    Database and Spark errors quote the offending value (``invalid input syntax for type integer:
    "abc"``); the column is not in memory to compare with, so anything quoted is withheld.
    """

    def keep(match: re.Match[str]) -> str:
        inner = match.group(2)
        named = inner in columns or re.fullmatch(r"(column|table|column_values)\.[\w.]+", inner)
        return match.group(0) if named else f"{match.group(1)}…{match.group(1)}"

    return re.sub(r"([\"'`])(.*?)\1", keep, message)
