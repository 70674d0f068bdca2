"""Export a trained run: its branched blocks fused into a new run, or its networks as ONNX graphs.

A run trained with `--block repvgg`, `acnet` or `plain` holds 3x3 blocks made of branches with
batch norm. `--fuse` folds every block into one plain 3x3 convolution with bias (structural
re-parameterization, see docs/reparameterization.md): the same outputs up to float rounding,
fewer operations. The new directory is a normal run (config.json with "fused": true,
model.safetensors, the source's metrics.json and pictures, and export.json saying where it came
from and how closely the fused model matched), so eval, sample, reconstruct, interpolate,
latents and explore open it like any other. It cannot be trained further: resume the source run instead.

`--onnx DIR` writes the encoder (x -> the parameters of q(z|x)) and the decoder (z -> the
parameters of p(x|z)) of an image model as ONNX graphs with a dynamic batch dimension, and
DIR/onnx.json (shapes, likelihood, prior). Sampling stays outside the graphs: z = loc + scale * eps
in numpy. A fused run exports its fused convolutions (or add --fuse). Text models are refused;
a VQ-VAE's code prior is not exported (its encoder and decoder are). See docs/onnx.md.

examples:
  vaekit train vae --data fashion-mnist --block repvgg --out runs/rep
  vaekit export runs/rep --fuse --out runs/rep-fused
  vaekit eval runs/rep-fused                 # the same ELBO as 'vaekit eval runs/rep'
  vaekit export runs/rep --fuse --onnx runs/rep-onnx   # fused graphs for ONNX Runtime
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
from pathlib import Path

from vaekit.errors import VaekitError

HELP = "write a run with its branched blocks fused, or its encoder and decoder as ONNX graphs"

COPIED = ("metrics.json", "training-curves.png", "samples.png", "reconstructions.png")  # the source's, unchanged


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a folder written by 'vaekit train'")
    p.add_argument("--fuse", action="store_true", help="fuse every branched block into one 3x3 convolution")
    p.add_argument("--out", type=Path, help="the new run directory (with --fuse)")
    p.add_argument("--onnx", type=Path, metavar="DIR", help="write encoder.onnx, decoder.onnx and onnx.json here")
    p.add_argument("--which", choices=("best", "last"), default="best", help="the checkpoint to export")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run in --out or folder in --onnx")


def run(args) -> int:
    if args.onnx is not None:
        return _run_onnx(args)
    if not args.fuse:
        raise VaekitError("say what to export: --fuse --out NEW_RUN (fuse the branched blocks) or --onnx DIR")
    if args.out is None:
        raise VaekitError(
            "--fuse writes a new run: say where with --out NEW_RUN (or export ONNX graphs with --onnx DIR)"
        )
    summary = export_fused(args.run_dir, args.out, args.which, args.overwrite)
    print(
        f"fused {summary['fused_blocks']} blocks ({summary['parameters_before']:,} -> "
        f"{summary['parameters_after']:,} parameters; largest output difference "
        f"{summary['max_abs_difference']:.2e}) -> {args.out}",
        file=sys.stderr,
    )
    return 0


def export_fused(run_dir: Path, out: Path, which: str = "best", overwrite: bool = False) -> dict:
    """Fuses the `which` checkpoint of `run_dir` into a new run directory `out`; returns export.json's content."""
    import torch

    from vaekit.io import atomic_write_text, save_weights
    from vaekit.models.run import BEST, CONFIG, load_run
    from vaekit.nn.repconv import count_blocks, fuse_blocks
    from vaekit.train.checkpoint import prepare_run_dir

    run_dir, out = Path(run_dir), Path(out)
    if out.resolve() == run_dir.resolve():
        raise VaekitError(f"--out {out} is the source run itself: choose a new directory")
    model, cfg = load_run(run_dir, which)
    if cfg.model.fused:
        raise VaekitError(f"{run_dir} is already fused (exported with --fuse): nothing to do")
    blocks = count_blocks(model)
    if blocks == 0:
        raise VaekitError(
            f"{run_dir} has no branched blocks to fuse: it was trained without --block "
            "(train with --block repvgg, acnet or plain)"
        )
    prepare_run_dir(out, overwrite, resume=False, check_only=True)
    fused = fuse_blocks(model)  # model is in eval mode: load_run returns it so
    summary = {
        "source": str(run_dir.resolve()),
        "checkpoint": which,
        "block": cfg.model.block,
        "fused_blocks": blocks,
        "parameters_before": _parameters(model),
        "parameters_after": _parameters(fused),
        "max_abs_difference": _max_difference(model, fused, cfg, torch),
    }
    new_cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, fused=True))

    # Everything is written into a hidden folder beside --out, then renamed: no half-written run.
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.export-"))
    try:
        new_cfg.save(staging / CONFIG)
        save_weights(staging / BEST, fused)
        for name in COPIED:
            if (run_dir / name).is_file():
                shutil.copyfile(run_dir / name, staging / name)
        atomic_write_text(staging / "export.json", json.dumps(summary, indent=2) + "\n")
        if out.exists():  # an old run, allowed by --overwrite (checked above)
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summary


def _run_onnx(args) -> int:
    from vaekit.models.run import load_run
    from vaekit.nn.repconv import count_blocks, fuse_blocks
    from vaekit.onnx_export import check_exportable, export_onnx

    if args.out is not None:
        raise VaekitError("--out is for --fuse's new run; --onnx DIR alone says where the graphs go")
    model, cfg = load_run(args.run_dir, args.which)
    check_exportable(cfg)
    if args.fuse:
        if cfg.model.fused or count_blocks(model) == 0:
            raise VaekitError(f"{args.run_dir} has no branched blocks to fuse: drop --fuse")
        model = fuse_blocks(model)
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, fused=True))
    meta = _staged(
        args.onnx, args.overwrite, lambda staging: export_onnx(model, cfg, staging, str(Path(args.run_dir).resolve()))
    )
    if meta["prior"]["type"] == "none":
        print(f"vaekit: note: no prior exported: {meta['prior']['why']}", file=sys.stderr)
    print(
        f"exported {', '.join(meta['graphs'])} ({'fused' if cfg.model.fused else 'as trained'}) -> {args.onnx}; "
        f"ONNX Runtime matches PyTorch within {meta['max_abs_difference']:.1e}",
        file=sys.stderr,
    )
    return 0


def _staged(out: Path, overwrite: bool, write):
    """write(staging folder) -> result; the folder then replaces `out` whole (an old one only with overwrite)."""
    from vaekit.io import check_writable

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise VaekitError(f"{out} exists and is not empty: choose a new folder or add --overwrite")
    check_writable(out, "--onnx")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.export-"))
    try:
        result = write(staging)
        if out.is_dir():
            shutil.rmtree(out)
        elif out.exists():
            out.unlink()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


def _parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _max_difference(model, fused, cfg, torch) -> float:
    """Largest |difference| of the mean reconstructions of 64 random images (and labels)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(64, *cfg.image_shape, generator=gen)  # (64, C, H, W)
    y = torch.randint(max(1, cfg.num_classes), (64,), generator=gen) if model.num_labels else None
    with torch.no_grad():
        return float((model(x, y) - fused(x, y)).abs().max())
