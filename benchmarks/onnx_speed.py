"""Images per second, PyTorch eager against ONNX Runtime, one thread: encode and decode.

    PYTHONPATH=. /work/tools/bench .venv/bin/python benchmarks/onnx_speed.py --out /tmp/onnx-speed.json

The conv VAE with RepVGG blocks (channels 32,64, hidden 256, z of 32) on 28x28 images, as trained
(branches with batch norm, eval mode) and fused (`vaekit export --fuse`: one 3x3 convolution per
block), random weights with real running statistics. Encode: x (B, 1, 28, 28) -> loc, scale of
q(z|x); decode: z (B, 32) -> the Bernoulli logits of p(x|z): exactly what the exported graphs
compute, in PyTorch (`torch.no_grad`, one intra-op thread) and in ONNX Runtime (CPU provider, one
intra-op and one inter-op thread). Medians of 5 repeats of at least --min-seconds each; wall and
CPU time (the process's own), so a loaded machine shows up as a gap between the two.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _model(seed: int = 0):
    from vaekit.config import ModelConfig, RunConfig
    from vaekit.models import build_model

    torch.manual_seed(seed)
    cfg = ModelConfig(arch="conv", channels=(32, 64), hidden=(256,), block="repvgg", likelihood="bernoulli")
    model = build_model(cfg, (1, 28, 28), 0)
    with torch.no_grad():  # running statistics that are not the init's
        model.train()
        model(torch.rand(100, 1, 28, 28))
    return model.eval(), RunConfig(model=cfg, image_shape=(1, 28, 28))


def _rate(fn, batch: int, min_seconds: float, repeats: int = 5) -> tuple[float, float]:
    """(wall, CPU) images per second of fn(): medians over `repeats`, each of at least min_seconds."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        n, began, began_cpu = 0, time.perf_counter(), time.process_time()
        while (elapsed := time.perf_counter() - began) < min_seconds:
            fn()
            n += 1
        wall.append(n * batch / elapsed)
        cpu.append(n * batch / (time.process_time() - began_cpu))
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    import dataclasses

    import onnxruntime as ort

    from vaekit.nn.repconv import fuse_blocks
    from vaekit.onnx_export import export_onnx

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 256])
    parser.add_argument("--min-seconds", type=float, default=0.5)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    model, cfg = _model()
    variants = {
        "as trained": (model, cfg),
        "fused": (fuse_blocks(model), dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, fused=True))),
    }
    rows = []
    for variant, (net, run_cfg) in variants.items():
        folder = Path(tempfile.mkdtemp(prefix="onnx-speed-"))
        export_onnx(net, run_cfg, folder)
        sessions = {
            g: ort.InferenceSession(str(folder / f"{g}.onnx"), options, providers=["CPUExecutionProvider"])
            for g in ("encoder", "decoder")
        }
        for batch in args.batches:
            x = torch.rand(batch, 1, 28, 28)
            z = torch.randn(batch, 32)
            calls = _calls(net, sessions, x, z)
            for (what, engine), fn in calls.items():
                with torch.no_grad():
                    wall, cpu = _rate(fn, batch, args.min_seconds)
                row = {"blocks": variant, "batch": batch, "what": what, "engine": engine, "wall": wall, "cpu": cpu}
                print(json.dumps(row), flush=True)
                rows.append(row)
    args.out.write_text(json.dumps(rows, indent=1) + "\n")
    print(_table(rows))


def _calls(net, sessions, x: torch.Tensor, z: torch.Tensor) -> dict:
    """(what, engine) -> a function computing the graph's outputs once."""
    return {
        ("encode", "pytorch"): lambda: net.encode(x).base_dist.scale,
        ("encode", "onnxruntime"): lambda: sessions["encoder"].run(None, {"x": x.numpy()}),
        ("decode", "pytorch"): lambda: net.decode(z).base_dist.logits,
        ("decode", "onnxruntime"): lambda: sessions["decoder"].run(None, {"z": z.numpy()}),
    }


def _table(rows: list[dict]) -> str:
    """Markdown: one line per (blocks, batch, what), PyTorch and ONNX Runtime side by side."""
    lines = [
        "| blocks | batch | | PyTorch eager img/s | ONNX Runtime img/s | ratio |",
        "|---|---|---|---|---|---|",
    ]
    keyed = {(r["blocks"], r["batch"], r["what"], r["engine"]): r for r in rows}
    for blocks, batch, what, engine in keyed:
        if engine != "pytorch":
            continue
        torch_rate, ort_rate = (
            keyed[blocks, batch, what, "pytorch"]["wall"],
            keyed[blocks, batch, what, "onnxruntime"]["wall"],
        )
        lines.append(
            f"| {blocks} | {batch} | {what} | {torch_rate:,.0f} | {ort_rate:,.0f} | {ort_rate / torch_rate:.2f}x |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
