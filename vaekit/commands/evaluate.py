"""Evaluate a trained run on a split: ELBO, reconstruction term, KL, importance-sampled NLL.

The NLL is -log p(x) estimated with K importance samples per image (Burda et al. 2015), the
number papers report, in nats. bits/dim is that NLL per pixel in bits. Active units count the
latents whose posterior mean varies across the data (Cov > 0.01). The result is also written to
RUN_DIR/eval-SPLIT.json (RUN_DIR/eval-SPLIT-prior.json with --proposal prior).

A text run reports nats per sentence and perplexity per predicted token, counting the words and
the end-of-sentence token of every sentence (see `vaekit.evaluate_text`); a language model's NLL
is exact, a VAE's importance-sampled.

--proposal prior draws the K codes from p(z) instead of q(z|x): naive Monte Carlo, the estimate
one would try first. It needs far more samples (docs/tutorial.md, step 2):
  vaekit eval RUN --proposal prior -k 1000000 --limit 500
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from vaekit.commands._common import add_data_dir_argument, add_run_arguments, count, open_run, open_split
from vaekit.errors import VaekitError, VaekitWarning
from vaekit.precision import PRECISIONS

HELP = "report ELBO, importance-sampled NLL, bits/dim and active units"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    add_data_dir_argument(p)
    p.add_argument("--split", choices=("train", "val", "test"), default="test", help="which split to evaluate")
    p.add_argument("--iw-samples", "-k", type=count(1), default=1000,
                   help="importance samples K per image (papers: 5000)")
    p.add_argument("--limit", type=count(1), default=None,
                   help="evaluate only the first N images of the split (default: all)")
    p.add_argument("--batch-size", type=count(1), default=500,
                   help="images per block (samples are chunked to fit memory)")
    p.add_argument("--precision", choices=PRECISIONS, default="float32",
                   help="arithmetic of the evaluation: tf32 is much faster on recent GPUs; float64 is the reference")
    p.add_argument("--proposal", choices=("posterior", "prior"), default="posterior",
                   help="draw the K codes from the encoder's q(z|x) (importance sampling) or from the prior p(z) "
                        "(naive Monte Carlo: unbiased for p(x) but needs vastly more samples)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def run(args) -> int:
    from tqdm.auto import tqdm

    from vaekit.evaluate import evaluate
    from vaekit.io import atomic_write_text

    if args.limit is not None and args.limit < 1:
        raise VaekitError(f"--limit must be at least 1, got {args.limit}")
    model, cfg, device = open_run(args)
    x, y = open_split(cfg, args, args.split)
    if args.limit is not None:
        x, y = x[: args.limit], y[: args.limit]
    x, y = x.to(device), y.to(device)
    labels = y if model.num_labels else None
    text = bool(cfg.vocab_size)
    if text and args.proposal == "prior":
        raise VaekitError("--proposal prior is for image models; a text run is evaluated with q(z|x) or exactly")
    # A model with its own measures needs no importance sampling, so no per-image bar; naive Monte Carlo
    # decodes K prior codes per block of images, so its bar counts codes (images would crawl).
    desc = f"K={args.iw_samples}" if model.has_prior or not text else "exact"
    blocks = -(-x.shape[0] // args.batch_size)
    total, unit = (blocks * args.iw_samples, "code") if args.proposal == "prior" else (x.shape[0], "img")
    with tqdm(total=total, unit="sentence" if text else unit, unit_scale=True, desc=desc,
              disable=args.json or model.own_evaluation, file=sys.stderr) as bar:
        if text:  # nats per sentence and perplexity per token, in blocks of like lengths
            from vaekit.evaluate_text import evaluate_sentences

            if args.precision != "float32":
                raise VaekitError("a text run is evaluated in float32 (the adaptive softmax computes in it)")
            result = evaluate_sentences(model, x, k=args.iw_samples, batch_size=min(args.batch_size, 100),
                                        seed=args.seed, progress=bar)
        else:
            result = evaluate(model, x, labels, k=args.iw_samples, batch_size=args.batch_size, seed=args.seed,
                              progress=bar, precision=args.precision, proposal=args.proposal)
    result = {"split": args.split, **result, "precision": args.precision}
    suffix = "-prior" if args.proposal == "prior" else ""
    try:
        atomic_write_text(args.run_dir / f"eval-{args.split}{suffix}.json", json.dumps(result, indent=2) + "\n")
    except OSError as err:  # someone else's run on a read-only disk: the numbers are still printed
        warnings.warn(f"could not save {err.filename} ({err.strerror}): the result is printed only", VaekitWarning,
                      stacklevel=1)
    if args.json:
        print(json.dumps(result))
    elif text:
        from vaekit.commands._text import eval_table

        print(eval_table(result))
    else:
        print(_table(result))
    return 0


def _table(r: dict) -> str:
    if "nll" not in r:  # a model with its own measures: print them as they come
        head = f"{r['split']} split, {r['n']} images"
        return "\n".join([head] + [f"  {k:<16}{v:10.4f}" if isinstance(v, float) else f"  {k:<16}{v!s:>10}"
                                    for k, v in r.items() if k not in ("split", "n")])
    return "\n".join([
        f"{r['split']} split, {r['n']} images, K={r['k']} "
        + ("prior samples, naive Monte Carlo" if r.get("proposal") == "prior" else "importance samples")
        + " (nats per image)",
        f"  ELBO            {r['elbo']:10.3f}   (recon {r['recon']:.3f} + KL {r['kl']:.3f})",
        f"  NLL (-log p(x)) {r['nll']:10.3f}",
        f"  bits/dim        {r['bits_per_dim']:10.4f}",
        f"  active units    {r['active_units']:10d}",
    ])
