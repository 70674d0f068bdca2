"""Two models on the same data: is one's -log p(x) lower, or is the gap within the noise?

Two models' mean NLLs over a test split differ by d. One data point's NLL varies a lot (a long
sentence costs more than a short one under both models), but the difference between the two
models on the same data point varies far less, so the yardstick for d is the paired standard
error sd(a_i - b_i) / sqrt(n), not the two means' own errors. `vaekit eval` writes each data
point's NLL to RUN/eval-...per-example.safetensors; `benchmarks/paired_nll.py` compares two such
files. The error covers which data points the split happens to hold (and, for an
importance-sampled NLL, its draws of z); not a second training seed.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from vaekit.errors import VaekitError
from vaekit.io import load_tensors


def per_example(path: Path) -> tuple[torch.Tensor, dict]:
    """The (n,) NLLs and the metadata of a per-example file written by `vaekit eval`."""
    tensors, meta = load_tensors(path)
    if "nll" not in tensors:
        raise VaekitError(f"{path} holds no per-example NLLs: give an eval-...per-example.safetensors file")
    return tensors["nll"].double(), meta or {}


def paired_difference(a: torch.Tensor, b: torch.Tensor) -> dict:
    """Mean NLLs of a and b over the same n data points, their difference a - b (negative: a is
    better), its paired standard error, and the share of data points where a is lower."""
    if a.shape != b.shape or a.dim() != 1:
        raise VaekitError(f"the two evaluations cover different data ({tuple(a.shape)} and {tuple(b.shape)} values)")
    if torch.isnan(a).any() or torch.isnan(b).any():
        raise VaekitError("an evaluation is incomplete (NaN per-example values): finish it first")
    d = a - b
    n = d.numel()
    return {
        "n": n,
        "mean_a": float(a.mean()),
        "mean_b": float(b.mean()),
        "difference": float(d.mean()),
        "standard_error": float(d.std(unbiased=True)) / math.sqrt(n) if n > 1 else float("nan"),
        "a_lower_share": float((d < 0).double().mean()),
    }
