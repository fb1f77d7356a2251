"""The engine reproduces the recorded fixed-seed results bit for bit (see tests/engine_cases.py).

When the algorithm changes on purpose, re-record with ``python tests/engine_cases.py --record``
(docs/gsac.md, "Engine"); a speed-only change must pass unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine_cases  # noqa: E402

BASELINE = np.load(engine_cases.BASELINE)


@pytest.mark.parametrize("actor", engine_cases.ACTORS)
@pytest.mark.parametrize("name", list(engine_cases.CASES))
def test_engine_matches_recorded_baseline(name: str, actor: str) -> None:
    got = engine_cases.run_case(name, actor, engine="numpy")
    prefix = f"{name}/{actor}/"
    recorded = {k[len(prefix):]: BASELINE[k] for k in BASELINE.files if k.startswith(prefix)}
    assert sorted(got) == sorted(recorded)
    for key, value in got.items():
        np.testing.assert_array_equal(value, recorded[key], err_msg=f"{prefix}{key} moved")
        assert value.dtype == recorded[key].dtype


def test_baseline_is_sensitive_to_one_more_iteration() -> None:
    # the comparison can fail: one extra iteration changes the parameters
    got = engine_cases.run_case("gsac_sources", "advantage", iterations=engine_cases.ITERATIONS + 1, engine="numpy")
    assert not np.array_equal(got["theta"], BASELINE["gsac_sources/advantage/theta"])
