"""The determinism fingerprint: a model's exact outputs on the golden input set, repeated N times.

The model is loaded through MLflow's generic pyfunc interface, so any framework with an MLflow flavour
works. Outputs are converted to a C-contiguous little-endian float64 array; its fingerprint is the
SHA-256 of those raw bytes (the shape is recorded beside it). numpy, pandas and mlflow are imported
inside the functions so `samdkit --help` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samdkit.core.digests import bytes_sha256
from samdkit.core.errors import UserError

OUTPUT_DTYPE = "<f8"


@dataclass
class Fingerprint:
    """N prediction runs on the golden set: their digests, the first run's output, the row ids."""

    outputs: list[Any]  # numpy arrays, one per run
    digests: list[str]
    row_ids: list[str]
    features: list[str]

    @property
    def deterministic(self) -> bool:
        return len(set(self.digests)) == 1

    @classmethod
    def from_lock(cls, determinism: dict[str, Any], runs: int) -> Fingerprint:
        """The fingerprint a `samdkit lock` run measured and recorded (it writes no lock unless every
        run agreed): its stored predictions, `runs` times. UserError when they fail their own digest."""
        output = as_float64(determinism["predictions"])
        digest = array_sha256(output)
        if digest != determinism["output_sha256"]:
            raise UserError("the measured lock's stored predictions do not match its own digest")
        row_ids = [f"row {i + 1}" for i in range(output.shape[0] if output.ndim else 0)]
        features = list(determinism["golden"]["features"] or [])
        return cls([output] * runs, [digest] * runs, row_ids, features)


def as_float64(output: Any) -> Any:
    """Any pyfunc output (ndarray, DataFrame, Series, list) as a C-contiguous '<f8' numpy array."""
    import numpy as np

    if hasattr(output, "to_numpy"):
        output = output.to_numpy()
    try:
        array = np.asarray(output, dtype=np.float64)
    except (TypeError, ValueError) as exc:  # the message would quote an output value
        raise UserError(
            f"the model's output is not numeric, cannot fingerprint it ({type(exc).__name__})"
        ) from None
    return np.ascontiguousarray(array, dtype=OUTPUT_DTYPE)


def array_sha256(array: Any) -> str:
    """SHA-256 of the exact bytes of a float64 array (little-endian, C order)."""
    return bytes_sha256(as_float64(array).tobytes())


def load_model(model_path: Path, label: str | None = None) -> Any:
    """Load an MLflow model directory through the generic pyfunc interface (one line on failure)."""
    import logging

    import mlflow.pyfunc

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    try:
        # suppress_warnings: MLflow would map every installed module to its package (~0.5 s) to warn
        # about requirement mismatches that the ERROR log level above hides anyway; model.lock records
        # the environment instead
        return mlflow.pyfunc.load_model(str(model_path), suppress_warnings=True)
    except Exception as exc:  # MLflow raises many types for a broken or foreign directory
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{label or model_path}: cannot load as an MLflow model: {first}") from None


def input_names(model: Any) -> list[str] | None:
    """The model's input column names from its MLflow signature, or None without a signature."""
    schema = getattr(getattr(model, "metadata", None), "get_input_schema", lambda: None)()
    if schema is None or not getattr(schema, "has_input_names", lambda: False)():
        return None
    return list(schema.input_names())


def _exact_floats(pandas_version: str) -> dict[str, str]:
    """Parse each decimal to its exact nearest float64 (pandas >= 3.1 always does; older needs asking)."""
    major, minor = (
        int("".join(c for c in part if c.isdigit()) or 0) for part in pandas_version.split(".")[:2]
    )
    return {} if (major, minor) >= (3, 1) else {"float_precision": "round_trip"}


def read_golden(
    golden_path: Path, features: list[str] | None, id_column: str, exclude: list[str]
) -> tuple[Any, list[str], list[str]]:
    """The golden frame restricted to the model's inputs, its row positions and the feature names used."""
    import pandas as pd

    if not golden_path.is_file():
        raise UserError(f"{golden_path}: golden input set not found (run the prepare stage first)")
    try:
        frame = pd.read_csv(golden_path, **_exact_floats(pd.__version__))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{golden_path}: cannot read the golden CSV: {first}") from None
    if frame.empty:
        raise UserError(f"{golden_path}: the golden input set has no rows")
    if features is None:
        features = [c for c in frame.columns if c not in {id_column, *exclude}]
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise UserError(
            f"{golden_path}: the model's input columns are missing: {', '.join(missing)}"
        )
    # rows are named by position (1 = first data row of the CSV), never by the id column's values:
    # model.lock is committed to git and findings are printed, and an id may be a medical record number
    row_ids = [f"row {i + 1}" for i in range(len(frame))]
    return frame[features], row_ids, features


def fingerprint(
    model: Any, golden_path: Path, runs: int, id_column: str, exclude: list[str]
) -> Fingerprint:
    """Predict `runs` times on the golden set with an already loaded model and hash every output."""
    frame, row_ids, features = read_golden(golden_path, input_names(model), id_column, exclude)
    outputs = []
    for _ in range(runs):
        try:
            prediction = model.predict(frame.copy())
        except Exception as exc:  # MLflow's message prints the input frame: patient rows
            raise UserError(_predict_failure(golden_path, frame, exc)) from None
        outputs.append(as_float64(prediction))
    return Fingerprint(outputs, [array_sha256(o) for o in outputs], row_ids, features)


def _predict_failure(golden_path: Path, frame: Any, exc: Exception) -> str:
    """One line about a failed prediction: the error type and the non-numeric columns, never a value."""
    from pandas.api.types import is_numeric_dtype

    text = [c for c in frame.columns if not is_numeric_dtype(frame[c])]
    hint = f"; non-numeric column(s): {', '.join(map(str, text))}" if text else ""
    return (
        f"{golden_path}: the model cannot predict on the golden set ({type(exc).__name__}{hint}); "
        "the library's message is withheld because it prints the input rows"
    )


def differing_rows(a: Any, b: Any, tolerance: float = 0.0) -> list[int]:
    """Indices of rows (first axis) where |a - b| exceeds tolerance in any column."""
    import numpy as np

    diff = np.abs(as_float64(a) - as_float64(b))
    if diff.ndim > 1:
        diff = diff.reshape(diff.shape[0], -1).max(axis=1)
    return [int(i) for i in np.flatnonzero(~(diff <= tolerance))]


def max_abs_diff(a: Any, b: Any) -> float:
    import numpy as np

    diff = np.abs(as_float64(a) - as_float64(b))
    return float(diff.max()) if diff.size else 0.0
