"""The statistics without a database: windows counted once and merged give the statistics of
their rows read at once; data-quality counters; thresholds; the monitoring policy's checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.metrics import drift as drift_metrics
from governance.policy import TEMPLATES, Definition, default_monitoring, monitoring_errors
from monitoring import stats

SCHEMA = {"age": "float", "income": "float", "region": "string"}


def frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.normal(40 + shift, 10, n), "income": rng.normal(3, 1, n),
                         "region": rng.choice(["north", "south"], n)})


def reference() -> stats.Reference:
    data = frame(1000, 0)
    return stats.build_reference(data, SCHEMA, scores=data["income"].to_numpy() / 10,
                                 score_output="score", score_column=0,
                                 validated={"roc_auc": 0.8})


def entries(data: pd.DataFrame, per_request: int = 3):
    records = data.to_dict("records")
    for i in range(0, len(records), per_request):
        batch = records[i:i + per_request]
        yield batch, [{"score": [r["income"] / 10]} for r in batch]


def window(tally: stats.Tally, start: float, end: float) -> stats.Window:
    return stats.Window(start_s=start, end_s=end, rows=tally.rows, counts=tally.counts,
                        quality=tally.quality)


def test_merged_windows_give_the_statistics_of_all_their_rows_at_once():
    ref = reference()
    data = frame(900, 1, shift=5)
    parts = [stats.tally(entries(data.iloc[i:i + 300]), ref) for i in (0, 300, 600)]
    whole = stats.tally(entries(data), ref)
    merged, _ = stats.period_statistics(ref, [window(t, i, i + 1) for i, t in enumerate(parts)])
    at_once, _ = stats.period_statistics(ref, [window(whole, 0, 3)])
    for name in ("max_psi", "max_ks_statistic", "prediction_psi", "missing_rate",
                 "out_of_range_rate"):
        assert merged[name] == pytest.approx(at_once[name]), name
    # The drift is the evaluation engine's on the same frames.
    direct = drift_metrics.drift_frames(frame(1000, 0), data, list(SCHEMA)).figures()
    assert merged["max_psi"] == pytest.approx(direct["max_psi"])


def test_quality_counters():
    ref = reference()
    rows = [({"age": None, "income": 2.0, "region": "north"}, 0.2),
            ({"age": 500.0, "income": 2.0, "region": "west"}, 0.2),  # out of range twice
            ({"age": 40.0, "income": "lots", "region": "north"}, 0.2),  # wrong type
            ({"age": 40.0, "income": 2.0}, 0.2),  # a field absent
            ({"age": 40.0, "income": 2.0, "region": "south", "extra": 1}, None)]  # unknown
    tally = stats.tally([([r], [{"score": [s]}]) for r, s in rows], ref)
    q = tally.quality
    assert (q["rows"], q["schema_violations"]) == (5, 3)
    assert (q["values"], q["missing"]) == (15, 2)
    assert q["out_of_range"] == 3  # 500 years, an unseen region, and "lots" (not a number)
    result, _ = stats.period_statistics(ref, [window(tally, 0, 1)])
    assert result["missing_rate"] == pytest.approx(2 / 15)
    assert result["max_psi"] is None  # five rows say nothing about drift


def test_volume_change_compares_the_latest_rate_with_the_earlier_windows():
    def w(start: float, end: float, rows: int) -> stats.Window:
        return stats.Window(start_s=start, end_s=end, rows=rows, counts=None, quality={})
    steady = [w(i * 60, (i + 1) * 60, 600) for i in range(3)]
    assert stats.volume_change(steady) is None
    assert stats.volume_change([*steady, w(180, 240, 600)]) == pytest.approx(0)
    assert stats.volume_change([*steady, w(180, 240, 60)]) == pytest.approx(0.9)
    assert stats.volume_change([*steady, w(180, 210, 900)]) == pytest.approx(2)
    quiet = [w(i * 60, (i + 1) * 60, 0) for i in range(3)]
    assert stats.volume_change([*quiet, w(180, 240, 0)]) == 0
    assert stats.volume_change([*quiet, w(180, 240, 60)]) is None  # no baseline


def test_volume_change_compares_with_the_same_hours_a_day_before():
    """A daytime application checked hourly: the quiet night is not an anomaly, because last
    night was quiet too; a quiet afternoon is."""
    def hour(h: int, rows: int) -> stats.Window:
        return stats.Window(start_s=h * 3600, end_s=(h + 1) * 3600, rows=rows, counts=None,
                            quality={})
    def daytime(h: int) -> int:
        return 1000 if 8 <= h % 24 < 18 else 0
    two_days = [hour(h, daytime(h)) for h in range(48)]
    night = 24 + 2
    assert stats.volume_change(two_days[:night + 1]) == 0
    afternoon = 24 + 15
    assert stats.volume_change([*two_days[:afternoon], hour(afternoon, 0)]) == pytest.approx(1)
    assert stats.volume_change([*two_days[:afternoon], hour(afternoon, 1500)]) \
        == pytest.approx(0.5)


def test_breaches_above_the_limit_and_severe_above_severe():
    thresholds = {"max_psi": {"limit": 0.25, "severe": 0.5}, "missing_rate": {"limit": 0.05},
                  "override_rate": {"limit": 0.2, "severe": 0.4}}
    found = stats.breaches({"max_psi": 0.6, "missing_rate": 0.05, "override_rate": 0.3,
                            "performance_drop": 1.0}, thresholds)
    assert [(b.statistic, b.severe) for b in found] == [("max_psi", True),
                                                        ("override_rate", False)]
    assert stats.breaches({"max_psi": None}, thresholds) == []


def test_reference_round_trips_through_json():
    ref = reference()
    again = stats.Reference.from_dict(ref.as_dict())
    data = frame(200, 3)
    assert stats.tally(entries(data), again) == stats.tally(entries(data), ref)


def test_monitoring_policy_is_checked_and_defaults_per_tier():
    assert monitoring_errors(default_monitoring(1)) == []
    bad = {**default_monitoring(1), "frequency_minutes": 0, "suspend": "yes",
           "alert": ["the board"], "thresholds": {"max_psi": {"limit": 0.3, "severe": 0.1},
                                                 "vibes": {"limit": 1}}}
    errors = monitoring_errors(bad)
    assert any(e.startswith(".frequency_minutes") for e in errors)
    assert any(e.startswith(".suspend") for e in errors)
    assert any(e.startswith(".alert") for e in errors)
    assert any(e.startswith(".thresholds.max_psi.severe") for e in errors)
    assert any("'vibes' is not a statistic" in e for e in errors)
    definition = TEMPLATES["sr-11-7"][2]
    rules = Definition(definition).tier_rules(1).monitoring
    assert rules is not None and rules.suspend and rules.frequency_minutes == 60
    assert Definition(definition).tier_rules(3).monitoring.suspend is False
