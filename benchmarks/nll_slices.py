"""The K-sample test NLL of a run over a slice of the test images, so that slices can run side by side.

On a shared 2-core CPU the K=5000 estimate over all 10,000 test images takes hours; this
evaluates images [start, stop) in blocks of `--block` with `vaekit.eval.likelihood.evaluate` (seed =
block index, so a slice's result does not depend on how the range is split across processes)
and writes one JSON line per block: images, mean NLL / ELBO / KL, seconds. `--merge` combines
the JSON files of several slices into the mean over all their images and a standard error from
the spread of the block means.

    python benchmarks/nll_slices.py RUN_DIR --start 0 --stop 1000 -k 5000 --out slice-0.jsonl
    python benchmarks/nll_slices.py --merge slice-0.jsonl slice-1.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import torch


def evaluate_slice(args) -> None:
    from vaekit.data import load_dataset
    from vaekit.eval.likelihood import evaluate
    from vaekit.models import load_run

    torch.set_num_threads(1)
    model, cfg = load_run(args.run_dir)
    data = load_dataset(cfg.data.name, cfg.data.data_dir)
    x, y = data.test_x, data.test_y
    labels = y if model.num_labels else None
    with open(args.out, "a") as out:
        for start in range(args.start, args.stop, args.block):
            stop = min(start + args.block, args.stop)
            began = time.perf_counter()
            result = evaluate(
                model,
                x[start:stop],
                None if labels is None else labels[start:stop],
                k=args.k,
                batch_size=args.block,
                seed=start // args.block,
            )
            record = {
                "start": start,
                "n": stop - start,
                "nll": result["nll"],
                "elbo": result["elbo"],
                "kl": result["kl"],
                "k": args.k,
                "seconds": time.perf_counter() - began,
            }
            out.write(json.dumps(record) + "\n")
            out.flush()
            print(json.dumps(record), flush=True)


def merge(paths: list[Path]) -> None:
    blocks = {}
    for path in paths:
        for line in Path(path).read_text().splitlines():
            record = json.loads(line)
            blocks[record["start"]] = record  # a block evaluated twice counts once
    records = sorted(blocks.values(), key=lambda r: r["start"])
    n = sum(r["n"] for r in records)
    nll = sum(r["nll"] * r["n"] for r in records) / n
    elbo = sum(r["elbo"] * r["n"] for r in records) / n
    means = [r["nll"] for r in records]
    se = statistics.stdev(means) / math.sqrt(len(means)) if len(means) > 1 else float("nan")
    seconds = sum(r["seconds"] for r in records)
    print(
        json.dumps(
            {
                "images": n,
                "blocks": len(records),
                "k": records[0]["k"],
                "nll": nll,
                "nll_se": se,
                "elbo": elbo,
                "cpu_process_seconds": seconds,
            }
        )
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", nargs="?", type=Path)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--stop", type=int, default=10_000)
    p.add_argument("--block", type=int, default=100)
    p.add_argument("-k", type=int, default=5000)
    p.add_argument("--out", type=Path)
    p.add_argument("--merge", nargs="+", type=Path)
    args = p.parse_args()
    if args.merge:
        merge(args.merge)
    else:
        evaluate_slice(args)


if __name__ == "__main__":
    main()
