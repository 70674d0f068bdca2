"""`vaekit kl`: KL both ways, JS, entropies and cross-entropies of two discrete distributions.

vaekit kl --p 0.36,0.48,0.16 --q uniform [--bits] [--normalize]
"""

from __future__ import annotations

import argparse

from vaekit import info
from vaekit.errors import VaekitError

HELP = "KL divergence both ways, JS divergence, entropies and cross-entropies of two distributions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--p", required=True, help="probabilities, comma-separated (e.g. 0.36,0.48,0.16), or 'uniform'")
    parser.add_argument("--q", default="uniform", help="probabilities, comma-separated, or 'uniform'")
    parser.add_argument("--bits", action="store_true", help="report bits (log base 2), not nats")
    parser.add_argument(
        "--normalize", action="store_true", help="rescale p and q to sum to 1 instead of rejecting them"
    )


def _parse(text: str, name: str) -> list[float] | None:
    """A list of floats, or None for 'uniform'."""
    if text.strip().lower() == "uniform":
        return None
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise VaekitError(f"--{name} must be comma-separated numbers or 'uniform', got {text!r}") from None
    if not values:
        raise VaekitError(f"--{name} is empty: give comma-separated probabilities")
    return values


def distributions(p_text: str, q_text: str) -> tuple[list[float], list[float]]:
    """Parse --p and --q, filling in 'uniform' with the other one's length."""
    p, q = _parse(p_text, "p"), _parse(q_text, "q")
    if p is None and q is None:
        raise VaekitError("--p and --q cannot both be 'uniform': give one as numbers")
    p = [1 / len(q)] * len(q) if p is None else p
    q = [1 / len(p)] * len(p) if q is None else q
    if len(p) != len(q):
        raise VaekitError(f"--p has {len(p)} values but --q has {len(q)}")
    return p, q


def report(p: list[float], q: list[float], *, bits: bool = False, normalize: bool = False) -> list[tuple[str, float]]:
    """(label, value) rows: KL both ways, JS, H(P), H(Q), H(P,Q), H(Q,P)."""
    kw = {"base": 2 if bits else None, "normalize": normalize}
    return [
        ("KL(P||Q)", info.kl_divergence(p, q, **kw)),
        ("KL(Q||P)", info.kl_divergence(q, p, **kw)),
        ("JS(P,Q)", info.js_divergence(p, q, **kw)),
        ("H(P)", info.entropy(p, **kw)),
        ("H(Q)", info.entropy(q, **kw)),
        ("H(P,Q)", info.cross_entropy(p, q, **kw)),
        ("H(Q,P)", info.cross_entropy(q, p, **kw)),
    ]


def run(args: argparse.Namespace) -> int:
    """Print the table; bad input raises `VaekitError` (the CLI prints it, exit status 2)."""
    p, q = distributions(args.p, args.q)
    rows = report(p, q, bits=args.bits, normalize=args.normalize)
    unit = "bits" if args.bits else "nats"
    print("P = " + ", ".join(f"{v:.6g}" for v in p))
    print("Q = " + ", ".join(f"{v:.6g}" for v in q))
    for label, value in rows:
        print(f"{label:<9} {value:.6f} {unit}")
    return 0
