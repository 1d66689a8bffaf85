"""Datasets read as written: CSV cells as text (only an empty cell missing), Parquet with its Arrow types.

No guessing: a column is typed later, only as its suite says (samdkit.data.casting). A missing, unreadable,
non-UTF-8 or empty dataset is one line, exit 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samdkit.core.errors import UserError

DATA_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".parquet", ".pq")


@dataclass
class Dataset:
    """A dataset as read: ``text`` when every cell is the text written in the file (CSV)."""

    frame: Any
    text: bool


def is_data_file(path: Path) -> bool:
    return path.name.lower().endswith(DATA_SUFFIXES) and not path.name.startswith(".")


def _read_csv(path: Path, label: str) -> Any:
    """Every cell as the text written; only an empty cell (quoted or not) is missing.

    Arrow's reader (three times pandas' own here); on a malformed file pandas' C reader says
    where, in words that quote no cell (Arrow's message quotes the offending row).
    """
    import pandas as pd

    options = {
        "sep": "\t" if path.name.lower().endswith(".tsv") else ",",
        "dtype": str,
        "keep_default_na": False,
        "na_values": [""],
        "encoding": "utf-8",
    }
    # checked before Arrow reads: a decoding error raised in Arrow's reader threads can abort the
    # interpreter at exit ("terminate called without an active exception")
    bad = _first_bad_utf8(path)
    if bad is not None:
        offset, byte, line = bad
        raise UserError(
            f"{label}: not UTF-8 text (byte 0x{byte:02x} at offset {offset}, line {line}): "
            "save the file as UTF-8"
        )
    try:
        return _read_csv_arrow(path, options["sep"])
    except _arrow_invalid():
        return pd.read_csv(path, **options)


def _arrow_invalid() -> type[Exception]:
    import pyarrow as pa

    return pa.ArrowInvalid


def _read_csv_arrow(path: Path, sep: str) -> Any:
    """Arrow's CSV reader with every column declared text: no type inference, so `3` stays "3".

    (pandas' pyarrow engine infers types first and casts to str after: "3" next to an empty cell
    would come back as "3.0", the empty cell as "nan".)
    """
    import pyarrow as pa
    import pyarrow.csv as pv

    parse = pv.ParseOptions(delimiter=sep)
    with pv.open_csv(path, parse_options=parse) as reader:  # the header: the column names
        names = reader.schema.names
    if len(set(names)) != len(names):
        raise pa.ArrowInvalid("duplicate column names")  # pandas' reader names them a, a.1, ...
    convert = pv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.large_string()),
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    table = pv.read_csv(path, parse_options=parse, convert_options=convert)
    return table.to_pandas()


def _first_bad_utf8(path: Path) -> tuple[int, int, int] | None:
    """Where a file stops being UTF-8: byte offset, the byte, its line; None when all of it is."""
    import codecs
    import gzip

    decoder = codecs.getincrementaldecoder("utf-8")()
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    offset, lines = 0, 1
    with opener(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = offset + exc.start
                return bad, chunk[exc.start], lines + chunk[: exc.start].count(b"\n")
            offset += len(chunk)
            lines += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return offset, 0, lines  # the file ends inside a multi-byte character
    return None


def _read_parquet(path: Path) -> Any:
    """Arrow's types as they are: integers and booleans with nulls stay integers and booleans."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    frame = table.to_pandas()
    for index, field in enumerate(table.schema):
        column = table.column(index)
        if not column.null_count or frame.iloc[:, index].dtype.kind not in "fO":
            continue  # restored from pandas' metadata, or no null to force a float/object column
        if pa.types.is_integer(field.type):
            name = str(field.type)
            nullable = pd.api.types.pandas_dtype(
                "UInt" + name[4:] if name.startswith("uint") else "Int" + name[3:]
            )
        elif field.type == pa.bool_():
            nullable = pd.BooleanDtype()
        else:
            continue
        frame[frame.columns[index]] = column.to_pandas(
            types_mapper=lambda t, n=nullable, f=field.type: n if t == f else None
        ).set_axis(frame.index)
    return frame


def read_dataset(path: Path, label: str) -> Dataset:
    """A non-empty dataset from a CSV or Parquet file, read without guessing, or one clear line."""
    import pandas as pd

    if not path.is_file():
        raise UserError(f"{label}: dataset not found")
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            dataset = Dataset(_read_parquet(path), text=False)
        elif name.endswith((".csv", ".csv.gz", ".tsv")):
            dataset = Dataset(_read_csv(path, label), text=True)
        else:
            raise UserError(f"{label}: unsupported dataset format (use .csv or .parquet)")
    except pd.errors.EmptyDataError:
        raise UserError(f"{label}: dataset is empty") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{label}: unreadable dataset: {first}") from None
    if dataset.frame.empty:
        raise UserError(f"{label}: dataset is empty (no rows)")
    return dataset
