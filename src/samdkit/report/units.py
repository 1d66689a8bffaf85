# ruff: noqa: RUF001  (typographic dashes and signs are intended: they are printed in the evidence)
"""How the report prints numbers: metrics with CIs, and measured quantities with units and 2 significant figures."""

from __future__ import annotations

from typing import Any


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def ci(metric: dict[str, Any] | None) -> str:
    interval = (metric or {}).get("ci") or {}
    if interval.get("lower") is None:
        return "—"
    return f"{interval['lower']:.3f} – {interval['upper']:.3f}"


def method(metric: dict[str, Any] | None) -> str:
    return ((metric or {}).get("ci") or {}).get("method") or "—"


def _quantity(value: Any, unit: str, prefixes: tuple[tuple[str, float], ...]) -> str:
    """A measured quantity with 2 significant figures and an SI prefix: `3.2 mWh`, never `0.000000`."""
    if value is None:
        return "n/a"
    value = float(value)
    smallest_prefix, smallest_scale = prefixes[-1]
    if value <= 0 or value < smallest_scale:
        return f"< 1 {smallest_prefix}{unit}"
    for prefix, scale in prefixes:
        number = float(f"{value / scale:.2g}")  # rounded first: 0.9996 kWh is 1 kWh, not 1000 Wh
        if number >= 1:
            text = f"{number:.0f}" if number >= 10 else f"{number:g}"
            return f"{text} {prefix}{unit}"
    return f"< 1 {smallest_prefix}{unit}"  # pragma: no cover (the first test returns)


def energy(kwh: Any) -> str:
    """Energy given in kWh (codecarbon), printed with 2 significant figures: `3.2 mWh`, `1.4 kWh`."""
    prefixes = (("M", 1e3), ("k", 1.0), ("", 1e-3), ("m", 1e-6), ("µ", 1e-9))
    return _quantity(kwh, "Wh", prefixes)


def mass_co2(kg: Any) -> str:
    """CO₂-equivalent mass given in kg, printed with 2 significant figures: `1.4 mg CO₂eq`."""
    prefixes = (("t", 1e3), ("kg", 1.0), ("g", 1e-3), ("mg", 1e-6), ("µg", 1e-9))
    return "n/a" if kg is None else _quantity(kg, "", prefixes) + " CO₂eq"


def duration(seconds: Any) -> str:
    if seconds is None:
        return "n/a"
    return f"{float(f'{float(seconds):.2g}'):g} s"
