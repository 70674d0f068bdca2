"""The measurements behind docs/tutorial.md, one step at a time, on trained runs.

    python examples/tutorial_runs.py --out runs/tutorial         # 1. train (about an hour on one CPU thread)
    python examples/tutorial.py evidence --runs runs/tutorial    # 2-3. naive Monte Carlo vs q; the ELBO gap
    python examples/tutorial.py holes --runs runs/tutorial       # 4. AE vs VAE: random codes, interpolations
    python examples/tutorial.py bottleneck --runs runs/tutorial  # 5. latent 2, 8, 16, 32 with PCA and the AE
    python examples/tutorial.py faces --runs runs/tutorial       # 6. Frey faces
    python examples/tutorial.py all --small --work /tmp/tut      # everything at CI size (about 30 s)

Tables (.md), numbers (.json) and figures (.png) go to --out (default docs/figures/tutorial). The
small mode trains the same commands on a 5,000-image slice of binarized MNIST, with a briefly
trained classifier, so CI checks that the tutorial still runs and that its robust claims hold
(tests/test_tutorial.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the step modules beside this file

import tutorial_bottleneck  # noqa: E402
import tutorial_evidence  # noqa: E402
import tutorial_faces  # noqa: E402
import tutorial_holes  # noqa: E402
import tutorial_runs  # noqa: E402
from tutorial_common import FULL, SMALL, FidJudge  # noqa: E402

STEPS = ("evidence", "holes", "bottleneck", "faces")
SMALL_RUNS = ("vae-z2", "vae-z16", "ae-z2", "ae-z16", "iwae-z16", "frey-z2", "frey-z4")


def mnist_slice(path: Path, n: int = 5000, seed: int = 0) -> Path:
    """The first n MNIST training images, binarized once with a seeded generator, with labels, as .npz."""
    from vaekit.data import load_dataset

    data = load_dataset("mnist")
    x = data.train_x[:n]
    generator = torch.Generator().manual_seed(seed)
    binary = torch.bernoulli(x, generator=generator).to(torch.uint8) * 255  # (n, 1, 28, 28)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, x=binary[:, 0].numpy(), y=data.train_y[:n].numpy())
    return path


def small_classifier(cache: Path):
    """The MNIST classifier trained for one epoch on 5,000 images: enough to tell digits from blots."""
    from vaekit.eval.classifier import train_classifier

    return train_classifier(verbose=False, cache_dir=cache, epochs=1, limit=5000).eval()


def run_steps(steps, runs: Path, out: Path, small: bool, classifier=None) -> dict:
    from vaekit.eval.classifier import load_classifier

    sizes = SMALL if small else FULL
    out.mkdir(parents=True, exist_ok=True)
    studied = 16
    results, judge = {}, None
    for step in steps:
        start = time.time()
        if step == "evidence":
            results[step] = tutorial_evidence.run(runs, out, sizes, studied)
        elif step in ("holes", "bottleneck"):
            classifier = classifier if classifier is not None else load_classifier()
            judge = judge or FidJudge(classifier, sizes.samples)
            module = tutorial_holes if step == "holes" else tutorial_bottleneck
            results[step] = module.run(runs, out, sizes, classifier, judge)
        elif step == "faces":
            results[step] = tutorial_faces.run(runs, out, sizes)
        print(f"[{step}: {time.time() - start:.0f} s wall]", file=sys.stderr)
    return results


def run_small(work: Path) -> dict:
    """Everything at CI size inside `work`: the data slice, the runs, the classifier, every step."""
    data = mnist_slice(work / "mnist-slice.npz")
    tutorial_runs.main(
        ["--out", str(work / "runs"), "--small", "--data", str(data), "--only", ",".join(SMALL_RUNS), "--in-process"]
    )
    classifier = small_classifier(work / "cache")
    return run_steps(STEPS, work / "runs", work / "out", small=True, classifier=classifier)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=(*STEPS, "all"))
    p.add_argument("--runs", type=Path, default=Path("runs/tutorial"), help="the folder tutorial_runs.py trained into")
    p.add_argument("--out", type=Path, default=Path("docs/figures/tutorial"), help="where tables and figures go")
    p.add_argument(
        "--small", action="store_true", help="CI size: slice MNIST, train small runs in --work, run all steps"
    )
    p.add_argument("--work", type=Path, default=Path("runs/tutorial-small"), help="working folder of --small")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.small:
        run_small(args.work)
        return 0
    run_steps(STEPS if args.step == "all" else (args.step,), args.runs, args.out, small=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
