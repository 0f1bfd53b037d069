"""Plain JSON values from the numbers and containers metric results hold.

Evidence figures and stored results must be JSON with finite numbers
(``governance.services.common.json_safe``): NaN and infinities become None, numpy scalars and
arrays become Python numbers and lists, tuples become lists.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd


def to_json_safe(value: Any) -> Any:
    """``value`` as plain JSON: NaN/inf -> None, numpy -> Python, mappings keyed by strings."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str) or value is None:
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, Mapping):
        return {str(k): to_json_safe(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [to_json_safe(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [to_json_safe(v) for v in value]
    return str(value)
