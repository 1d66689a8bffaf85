"""Real engines for the data-source tests: a PostgreSQL server and a local Spark, one each per session.

PostgreSQL comes from Debian's packages (``initdb``/``pg_ctl`` under /usr/lib/postgresql/N/bin) and
runs in a temporary folder, on 127.0.0.1 and a free port, with a password (scram-sha-256) so that
the tests can prove the password never leaks. PostgreSQL refuses to run as root: as root the server
runs as the unprivileged user ``nobody``. Spark is PyPI's ``pyspark`` on the machine's Java runtime,
``local[1]`` with a small heap and no UI.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

USER, PASSWORD = "samdkit", "s3cret-Pg-pass"  # a test server's password: the tests look for it


@dataclass
class Postgres:
    host: str
    port: int

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql+psycopg://{USER}:{password}@{self.host}:{self.port}/{database}"

    def execute(self, *statements: str, rows: list[tuple[str, list[tuple]]] = ()) -> None:
        """SQL statements, then ``(INSERT … %s …, rows)`` pairs, in one transaction."""
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user=USER, password=PASSWORD, dbname="postgres"
        ) as connection:
            for statement in statements:
                connection.execute(statement)
            for insert, values in rows:
                with connection.cursor() as cursor:
                    cursor.executemany(insert, values)


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version)
    path = found[-1] if found else shutil.which(name)
    if not path:
        raise RuntimeError(f"{name} not found: install Debian's postgresql package")
    return path


def _version(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    """As root: run as nobody (postgres refuses root); else as this user."""
    if os.geteuid() != 0:
        return cmd
    if shutil.which("setpriv"):
        return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *cmd]
    return ["runuser", "-u", "nobody", "--", *cmd]


def postgres_server() -> Iterator[Postgres]:
    """A PostgreSQL server for the session, stopped (and its folder removed) after."""
    # as root, in /tmp itself: nobody must reach the folder (a TMPDIR may be root's alone)
    folder = Path(tempfile.mkdtemp(prefix="samdkit-pg-", dir="/tmp" if os.geteuid() == 0 else None))
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir()
    password_file = folder / "password"
    password_file.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(folder, "nobody", "nogroup")
        shutil.chown(sockets, "nobody", "nogroup")
        shutil.chown(password_file, "nobody", "nogroup")
    folder.chmod(0o700)
    port = _free_port()
    run = {"check": True, "capture_output": True, "text": True, "cwd": folder}
    subprocess.run(
        _as_server_user(
            [
                _bin("initdb"),
                "-D",
                str(data),
                "-U",
                USER,
                f"--pwfile={password_file}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        ),
        **run,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off"
    subprocess.run(
        _as_server_user(
            [
                _bin("pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(folder / "log"),
                "-w",
                "start",
            ]
        ),
        **run,
    )
    try:
        yield Postgres("127.0.0.1", port)
    finally:
        subprocess.run(
            _as_server_user([_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            check=False,
            capture_output=True,
            cwd=folder,
        )
        shutil.rmtree(folder, ignore_errors=True)


def spark_session() -> Iterator[Any]:
    """One local Spark for the session (check-data's own getOrCreate reuses it), stopped after."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # loopback only, and no hostname warning
    spark = (
        SparkSession.builder.master("local[1]")
        .appName("samdkit-tests")
        .config("spark.driver.memory", "512m")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.log.level", "ERROR")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        spark.stop()
