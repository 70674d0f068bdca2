"""Numeric precision of a training step or an evaluation, as one named setting.

    float32   the default: every product in float32
    tf32      matrix products and convolutions in TensorFloat-32 on Ampere and later GPUs (float32
              range, a 10-bit mantissa); several times the float32 throughput, no effect on a CPU
    bf16      the network under bfloat16 autocast; losses and log-densities stay float32
    float64   a reference: the model and data cast to double (evaluation only)

What a precision costs in reported figures is measured, not assumed: benchmarks/speed.py
compares the K=5000 NLL in each against float64.
"""

from __future__ import annotations

import contextlib

import torch

from vaekit.errors import VaekitError

PRECISIONS = ("float32", "tf32", "bf16", "float64")
TRAINING_PRECISIONS = PRECISIONS[:3]  # float64 is an evaluation reference only


@contextlib.contextmanager
def precision(name: str, device: torch.device):
    """Runs the block in the named precision (float64 casting is the caller's: see evaluate)."""
    if name not in PRECISIONS:
        raise VaekitError(f"unknown precision {name!r}: choose one of {', '.join(PRECISIONS)}")
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = name == "tf32"
    try:
        if name == "bf16":
            # No weight cache: it would hold tensors across a CUDA-graph capture.
            with torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=False):
                yield
        else:
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn
