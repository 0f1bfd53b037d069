"""What every check returns, and the canonical JSON and digest of it.

A check's result is a frozen dataclass with ``as_dict()`` (JSON-safe: no NaN or infinity, an
undefined figure is ``None`` and the result's ``undefined`` map says why) and ``figures()`` (the
flat metric names a policy's thresholds read). ``canonical_json`` rounds every float to
``SIGNIFICANT_DIGITS`` significant digits and sorts the keys, so that the SHA-256 ``digest`` of the
same inputs is the same on every run: the last bits of a float depend on summation order, which
the rounding absorbs.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

# Ten significant digits: far finer than any threshold a policy sets, far coarser than the
# 1e-15 relative noise of summing the same numbers in another order.
SIGNIFICANT_DIGITS = 10

Figures = dict[str, float | None]


class CheckResult(Protocol):
    """The shape every check's result has (performance, bias, calibration, ...)."""

    kind: str

    def as_dict(self) -> dict[str, Any]: ...

    def figures(self) -> Figures: ...


def finite(value: float | np.floating[Any] | None) -> float | None:
    """A float for JSON: NaN and infinity (an undefined figure) become None."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class Estimate:
    """A figure and its bootstrap interval; ``value`` None means undefined (the reason is in the
    result's ``undefined`` map), ``ci_low``/``ci_high`` None means no interval (no bootstrap, or no
    replicate in which the figure is defined)."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high}

    def figures(self, name: str) -> Figures:
        """``name`` and, when there is an interval, ``name_ci_low`` and ``name_ci_high``."""
        out: Figures = {name: self.value}
        if self.ci_low is not None and self.ci_high is not None:
            out[f"{name}_ci_low"] = self.ci_low
            out[f"{name}_ci_high"] = self.ci_high
        return out


def estimates_figures(estimates: Mapping[str, Estimate], suffix: str = "") -> Figures:
    """Flatten named estimates into figures, each name followed by ``suffix`` (e.g. ``[sex]``)."""
    out: Figures = {}
    for name, estimate in estimates.items():
        out.update(estimate.figures(f"{name}{suffix}"))
    return out


def round_float(value: float) -> float | None:
    """``value`` rounded to SIGNIFICANT_DIGITS significant digits; None for NaN and infinity.

    Rounding goes through the decimal representation (``format(value, ".10g")``), which Python
    defines exactly, so every platform rounds the same float the same way. -0.0 becomes 0.0.
    """
    if not math.isfinite(value):
        return None
    rounded = float(format(value, f".{SIGNIFICANT_DIGITS}g"))
    return rounded + 0.0  # -0.0 + 0.0 == 0.0: one spelling of zero


def _plain(value: Any, *, rounded: bool) -> Any:
    """``value`` as plain JSON values. ``rounded``: floats rounded for the digest and anything that
    is not a result value (a non-string key, an unknown type) refused; otherwise floats kept as they
    are and such values written as text."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return round_float(float(value)) if rounded else finite(value)
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                if rounded:
                    raise TypeError(f"result keys must be strings, not {type(key).__name__}: "
                                    f"{key!r}")
                key = str(key)
            out[key] = _plain(item, rounded=rounded)
        return out
    if isinstance(value, list | tuple):
        return [_plain(item, rounded=rounded) for item in value]
    if isinstance(value, np.ndarray):
        return [_plain(item, rounded=rounded) for item in value.tolist()]
    if rounded:
        raise TypeError(f"cannot put {type(value).__name__} into a result: {value!r}")
    return str(value)


def canonical(value: Any) -> Any:
    """A JSON-safe copy of ``value`` with floats rounded (see ``round_float``): dicts (string
    keys), lists, tuples, numpy arrays and scalars, strings, ints, bools and None."""
    return _plain(value, rounded=True)


def to_json_safe(value: Any) -> Any:
    """``value`` as plain JSON, unrounded: NaN/inf and pandas' missing values -> None, numpy ->
    Python, mapping keys as text, anything else as its text. Evidence figures and stored results
    must be JSON with finite numbers (``governance.services.common.json_safe``)."""
    return _plain(value, rounded=False)


def canonical_json(value: Any) -> str:
    """The canonical JSON text: rounded floats, sorted keys, no spaces, UTF-8 characters kept."""
    return json.dumps(canonical(value), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False)


def digest(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``value`` (a result's ``as_dict()``, or a result)."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
