"""Which CI test for continuous data is usable at what size: time and answers vs rows.

Data: ``z ~ N(0, 1)``, ``x = tanh(2 z) + 0.5 e1``, ``y = sin(2 z) + 0.5 e2`` (so
``x _||_ y | z``, while ``x`` and ``y`` are dependent given nothing), and ``w = x^2 +
0.5 e3`` (``w`` depends on ``x`` given ``z``, through an even function with no
linear correlation). For each number of rows and each test it times one call of
``x _||_ y | z`` (should not reject) and of ``w ~ x | z`` (should reject) on a new
test object (so the first-call cost is included) and records the two p-values.
A test is dropped for larger sizes once one call takes more than ``--budget``
seconds. Tests: this package's ``fisherz``, ``regression`` and ``additive``
(:class:`causalnet.citests_regression.RegressionTest`), and causal-learn's
``kci``, ``fastkci`` and ``rcit``. Writes ``benchmarks/results/continuous_citests.json``.

Run: ``python benchmarks/continuous_citests.py [--rows 200 500 1000 2000 5000 20000] [--budget 30]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from causalnet.citests import FisherZTest, causallearn_test
from causalnet.citests_regression import RegressionTest
from causalnet.io import atomic_write_json

TESTS = ("fisherz", "regression", "additive", "kci", "fastkci", "rcit")


def _make(name: str, data: np.ndarray):
    if name == "fisherz":
        return FisherZTest(data)
    if name in ("regression", "additive"):
        return RegressionTest(data, [False] * data.shape[1], basis="linear" if name == "regression" else "spline")
    return causallearn_test(data, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[200, 500, 1000, 2000, 5000, 20000])
    parser.add_argument("--tests", nargs="+", default=list(TESTS))
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per call before a test is dropped")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "continuous_citests.json")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    dropped: set[str] = set()
    rows = []
    print(f"{'rows':>6} {'test':>10} {'sec/call':>9} {'p(x,y|z) indep':>15} {'p(w,x|z) dep':>13}")
    for n in args.rows:
        z = rng.normal(size=n)
        x = np.tanh(2 * z) + 0.5 * rng.normal(size=n)
        y = np.sin(2 * z) + 0.5 * rng.normal(size=n)
        w = x ** 2 + 0.5 * rng.normal(size=n)
        data = np.column_stack([x, y, z, w])
        for name in args.tests:
            if name in dropped:
                continue
            start = time.perf_counter()
            p_indep = float(_make(name, data)(0, 1, (2,)))
            p_dep = float(_make(name, data)(0, 3, (2,)))
            seconds = (time.perf_counter() - start) / 2
            rows.append({"rows": n, "test": name, "seconds_per_call": seconds, "p_independent": p_indep,
                         "p_dependent": p_dep})
            print(f"{n:>6} {name:>10} {seconds:>9.3f} {p_indep:>15.3g} {p_dep:>13.3g}", flush=True)
            if seconds > args.budget:
                dropped.add(name)
                print(f"       {name} dropped for larger sizes (> {args.budget:g} s per call)", flush=True)
    atomic_write_json(args.out, {"benchmark": "continuous_citests", "budget_seconds": args.budget,
                                 "seed": args.seed, "rows": rows, "dropped": sorted(dropped)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
