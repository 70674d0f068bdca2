"""Compare two evaluations of the same split, data point by data point.

    python benchmarks/paired_nll.py RUN_A/eval-test-best-k500.per-example.safetensors \
        RUN_B/eval-test-best.per-example.safetensors

prints each mean NLL, the difference A - B with its paired standard error (vaekit.eval.paired),
and the share of data points where A is lower.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vaekit.eval.paired import paired_difference, per_example


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    args = p.parse_args()
    (a, meta_a), (b, meta_b) = per_example(args.a), per_example(args.b)
    if meta_a.get("split") != meta_b.get("split"):
        raise SystemExit(f"different splits: {meta_a.get('split')} and {meta_b.get('split')}")
    r = paired_difference(a, b)
    print(f"{r['n']} data points of the {meta_a.get('split')} split, nats each")
    print(f"  A  {r['mean_a']:10.3f}   {args.a}")
    print(f"  B  {r['mean_b']:10.3f}   {args.b}")
    print(f"  A - B {r['difference']:+.3f} +- {r['standard_error']:.3f} (paired standard error)")
    print(f"  A lower on {r['a_lower_share']:.1%} of them")


if __name__ == "__main__":
    main()
