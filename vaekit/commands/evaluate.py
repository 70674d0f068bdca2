"""Evaluate a trained run on a split: ELBO, reconstruction term, KL, importance-sampled NLL,
and for MNIST and Fashion-MNIST runs the quality of its samples.

The NLL is -log p(x) estimated with K importance samples per image (Burda et al. 2015), the
number papers report, in nats. bits/dim is that NLL per pixel in bits. Active units count the
latents whose posterior mean varies across the data (Cov > 0.01).

A translation run (seq2seq) reports corpus BLEU and chrF (sacrebleu, every reference of each test
sentence, its signature printed), the exact NLL per sentence and perplexity per token, the share of
exact matches and BLEU by source length; --beam and --alpha choose the decoding (see
vaekit.eval.translation), --split val or test the sentences (choose the decoding on val). Its
translations go to RUN_DIR/translations-SPLIT-CHECKPOINT-beamN-alphaA.tsv (no -alphaA at alpha 1).

A text run reports nats per sentence and perplexity per predicted token, counting the words and
the end-of-sentence token of every sentence (see `vaekit.eval.text`); a language model's NLL
is exact, a VAE's importance-sampled.

--proposal prior draws the K codes from p(z) instead of q(z|x): naive Monte Carlo, the estimate
one would try first. It needs far more samples (docs/tutorial.md, step 2):
  vaekit eval RUN --proposal prior -k 1000000 --limit 500

Sample quality (image runs on mnist, binarized-mnist, fashion-mnist whose model can sample): the
Fréchet distance between --fid-samples prior samples and the real test images in the feature
space of vaekit's classifier of that dataset (trained once and cached on first use, about two
minutes on a CPU), beside the distance between real training and test images (the floor), and
the Inception-style score with that classifier. See vaekit.eval.sample_quality.

Each result is kept in its own file, RUN_DIR/eval-SPLIT-CHECKPOINT[-kK][-firstN][-prior].json
(e.g. eval-test-best-k1000.json; -prior with --proposal prior), recording the checkpoint file it
came from and its SHA-256. A long evaluation that is stopped (Ctrl-C, a killed process, a session's
end) keeps its running sums in RUN_DIR/eval-...partial.safetensors: the same command continues from
there and ends at the number an unbroken one gives (vaekit.eval.partial).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from vaekit.commands._common import (
    add_data_dir_argument,
    add_run_arguments,
    count,
    non_negative,
    open_run,
    open_split,
)
from vaekit.config import DEFAULT_ALPHA, DEFAULT_BEAM
from vaekit.errors import VaekitError, VaekitWarning
from vaekit.precision import PRECISIONS

HELP = "report ELBO, importance-sampled NLL, bits/dim, active units and sample quality (FID)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    add_data_dir_argument(p)
    p.add_argument("--split", choices=("train", "val", "test"), default="test", help="which split to evaluate")
    p.add_argument(
        "--iw-samples", "-k", type=count(1), default=1000, help="importance samples K per image (papers: 5000)"
    )
    p.add_argument(
        "--limit", type=count(1), default=None, help="evaluate only the first N images of the split (default: all)"
    )
    p.add_argument(
        "--batch-size", type=count(1), default=500, help="images per block (samples are chunked to fit memory)"
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="arithmetic of the evaluation: tf32 is much faster on recent GPUs; float64 is the reference",
    )
    p.add_argument(
        "--proposal",
        choices=("posterior", "prior"),
        default="posterior",
        help="draw the K codes from the encoder's q(z|x) (importance sampling) or from the prior p(z) "
        "(naive Monte Carlo: unbiased for p(x) but needs vastly more samples)",
    )
    p.add_argument(
        "--fid-samples",
        type=count(0),
        default=10_000,
        help="prior samples for the Fréchet distance on MNIST / Fashion-MNIST runs, compared with as many "
        "real test images (whatever --limit says); 0 skips it",
    )
    p.add_argument(
        "--beam",
        type=count(1, 100),
        default=DEFAULT_BEAM,
        help="translation runs: beam width of the decoding (1: greedy)",
    )
    p.add_argument(
        "--alpha",
        type=non_negative,
        default=DEFAULT_ALPHA,
        help="translation runs: length normalisation of the beam, log p(y|x) / length^alpha",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def result_name(split: str, which: str, k: int | None, limit: int | None) -> str:
    """eval-test-best-k1000.json: one file per split, checkpoint, K and image count."""
    return f"eval-{split}-{which}" + (f"-k{k}" if k else "") + (f"-first{limit}" if limit else "") + ".json"


def checkpoint_record(run_dir: Path, which: str) -> dict:
    """Which weights were evaluated: file, SHA-256, and the epoch it holds according to metrics.json."""
    import hashlib

    from vaekit.models.run import BEST, LAST

    path = Path(run_dir) / (BEST if which == "best" else LAST)
    record = {"which": which, "file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    metrics = Path(run_dir) / "metrics.json"
    if metrics.is_file():
        epochs = [r for r in json.loads(metrics.read_text()).get("epochs", []) if "val_loss" in r]
        if epochs:
            record["epoch"] = (min(epochs, key=lambda r: r["val_loss"]) if which == "best" else epochs[-1])["epoch"]
    return record


def run(args) -> int:
    from vaekit.eval import code_use

    if args.fid_samples == 1:
        raise VaekitError("--fid-samples must be 0 (skip) or at least 2: a covariance needs two samples")
    model, cfg, device = open_run(args)
    if model.data_kind == "pairs":  # a translation run: BLEU, chrF, exact NLL (vaekit.eval.translation)
        from vaekit.commands._translation import eval_table, evaluate_run

        result = evaluate_run(model, cfg, device, args, checkpoint_record(args.run_dir, args.which))
        print(json.dumps(result) if args.json else eval_table(result))
        _track(args.run_dir, cfg, result)
        return 0
    text = model.data_kind == "sentences"
    checkpoint = checkpoint_record(args.run_dir, args.which)
    partial = _partial(args, model, checkpoint, device)
    result = {
        "split": args.split,
        **_measure(model, cfg, args, device, text, partial),
        "precision": args.precision,
        "checkpoint": checkpoint,
    }
    use = code_use.from_results(result, code_use.code_size(model, cfg), text)
    if use is not None:
        result["collapsed"] = use.collapsed  # the code unused: see vaekit.eval.code_use
    quality = None if text else _sample_quality(model, cfg, args, device)
    if quality is not None:
        result["sample_quality"] = quality
    k = _samples(model, args)
    _save(args, result, k)
    if partial is not None:
        _save_per_example(args, partial, result, k)
        partial.finish()
    if args.json:
        print(json.dumps(result))
    elif text:
        from vaekit.commands._text import eval_table

        print(eval_table(result))
    else:
        print(_table(result))
    if use is not None and not args.json:
        print(code_use.describe(use, f"{args.split} split"))
    _track(args.run_dir, cfg, result)
    return 0


def _track(run_dir: Path, cfg, result: dict) -> None:
    """A run trained with --log sends the numbers (and its folder) to the same trackers (vaekit.tracking)."""
    if cfg.train.log:
        from vaekit.tracking import log_evaluation

        log_evaluation(run_dir, cfg, result)


def _samples(model, args) -> int | None:
    """K in the result's name: only an importance-sampled NLL has one (not a language model's exact
    NLL, nor the measures of a model without q(z|x))."""
    return args.iw_samples if model.has_prior and not model.own_evaluation else None


def _result_path(args, k: int | None) -> Path:
    name = result_name(args.split, args.which, k, args.limit)
    return args.run_dir / (name.replace(".json", "-prior.json") if args.proposal == "prior" else name)


def _partial(args, model, checkpoint: dict, device):
    """The running state of this evaluation beside its result (eval-...partial.safetensors), continued
    if an interrupted run of the same evaluation left one (vaekit.eval.partial); None for the models
    that report their own measures in one pass."""
    from vaekit.eval.partial import Partial

    if model.own_evaluation:
        return None
    path = _result_path(args, _samples(model, args)).with_suffix(".partial.safetensors")
    same = ("split", "which", "iw_samples", "limit", "seed", "batch_size", "precision", "proposal")
    identity = {"sha256": checkpoint["sha256"], "device": device.type, **{key: getattr(args, key) for key in same}}
    return Partial.open(path, identity)


def _measure(model, cfg, args, device, text: bool, partial=None) -> dict:
    """The likelihood measures of the split: importance-sampled for images, per sentence and token for text."""
    from tqdm.auto import tqdm

    from vaekit.eval.likelihood import evaluate

    x, y = open_split(cfg, args, args.split)
    if args.limit is not None:
        x, y = x[: args.limit], y[: args.limit]
    x, y = x.to(device), y.to(device)
    labels = y if model.num_labels else None
    if text and args.proposal == "prior":
        raise VaekitError("--proposal prior is for image models; a text run is evaluated with q(z|x) or exactly")
    # A model with its own measures needs no importance sampling, so no per-image bar; naive Monte Carlo
    # decodes K prior codes per block of images, so its bar counts codes (images would crawl).
    desc = f"K={args.iw_samples}" if model.has_prior or not text else "exact"
    blocks = -(-x.shape[0] // args.batch_size)
    total, unit = (blocks * args.iw_samples, "code") if args.proposal == "prior" else (x.shape[0], "img")
    disable = args.json or model.own_evaluation
    with tqdm(
        total=total, unit="sentence" if text else unit, unit_scale=True, desc=desc, disable=disable, file=sys.stderr
    ) as bar:
        if partial is not None and args.proposal == "posterior":
            bar.update(partial.done)  # an interrupted evaluation continues where it stopped
        if not text:
            return evaluate(
                model,
                x,
                labels,
                k=args.iw_samples,
                batch_size=args.batch_size,
                seed=args.seed,
                progress=bar,
                precision=args.precision,
                proposal=args.proposal,
                partial=partial,
            )
        from vaekit.eval.text import evaluate_sentences  # nats per sentence, perplexity per token

        if args.precision != "float32":
            raise VaekitError(
                f"a text run is evaluated in float32 only (got --precision {args.precision}): drop --precision"
            )
        return evaluate_sentences(
            model,
            x,
            k=args.iw_samples,
            batch_size=min(args.batch_size, 100),
            seed=args.seed,
            progress=bar,
            partial=partial,
        )


def _save(args, result: dict, k: int | None) -> None:
    """Writes the result beside the run (eval-SPLIT-WHICH-kK.json) and refreshes its card; a read-only
    run folder only warns: the numbers are printed anyway."""
    from vaekit.io import atomic_write_text
    from vaekit.report.card import record_command, write_card

    path = _result_path(args, k)
    try:
        atomic_write_text(path, json.dumps(result, indent=2) + "\n")
        print(f"wrote {path}", file=sys.stderr)
        record_command(args.run_dir, args._argv)
        write_card(args.run_dir)  # the card shows the newest evaluation
    except OSError as err:  # someone else's run on a read-only disk: the numbers are still printed
        warnings.warn(
            f"could not save {err.filename} ({err.strerror}): the result is printed only", VaekitWarning, stacklevel=1
        )


def _save_per_example(args, partial, result: dict, k: int | None) -> None:
    """Each data point's -log p(x), in the split's order, beside the result: two models evaluated on
    the same split compare sentence by sentence (vaekit.eval.paired), not only by their means."""
    from vaekit.io import save_tensors

    path = _result_path(args, k).with_suffix(".per-example.safetensors")
    what = "-log p(x)" if "nll" in result else "the reconstruction term -log p(x|f(x))"
    meta = {"what": f"{what} in nats per data point, the split's order", "split": args.split, "k": result.get("k")}
    try:
        save_tensors(path, {"nll": partial.per_example(result["n"])}, {**meta, "checkpoint": result["checkpoint"]})
        print(f"wrote {path} (each data point's value; vaekit.eval.paired compares two runs)", file=sys.stderr)
    except OSError as err:
        warnings.warn(f"could not save {err.filename} ({err.strerror})", VaekitWarning, stacklevel=1)


def _sample_quality(model, cfg, args, device) -> dict | None:
    """FID and the classifier's score of prior samples, or a note saying why not (None when skipped)."""
    from vaekit.eval.sample_quality import CLASSIFIER_FOR, measure

    data_name = Path(cfg.data.name).name
    if args.fid_samples == 0:
        return None
    if data_name not in CLASSIFIER_FOR:
        return {"skipped": f"no classifier for {data_name} (there are ones for MNIST and Fashion-MNIST)"}
    if not model.has_prior:
        return {"skipped": "the model has no prior to sample from"}
    data_dir = args.data_dir or cfg.data.data_dir
    return measure(model, data_name, args.fid_samples, args.seed, data_dir, device=device)


def _table(r: dict) -> str:
    skip = ("split", "n", "checkpoint", "sample_quality", "precision")
    if "nll" not in r:  # a model with its own measures: print them as they come
        lines = [f"{r['split']} split, {r['n']} images, {r['checkpoint']['which']} checkpoint"]
        lines += [
            f"  {k:<16}{v:10.4f}" if isinstance(v, float) else f"  {k:<16}{v!s:>10}"
            for k, v in r.items()
            if k not in skip
        ]
    else:
        lines = [
            (
                f"{r['split']} split, {r['n']} images, {r['checkpoint']['which']} checkpoint, "
                f"K={r['k']} "
                + ("prior samples, naive Monte Carlo" if r.get("proposal") == "prior" else "importance samples")
                + " (nats per image)"
            ),
            f"  ELBO            {r['elbo']:10.3f}   (recon {r['recon']:.3f} + KL {r['kl']:.3f})",
            f"  NLL (-log p(x)) {r['nll']:10.3f}",
            f"  bits/dim        {r['bits_per_dim']:10.4f}",
            f"  active units    {r['active_units']:10d}",
        ]
    return "\n".join(lines + _quality_lines(r.get("sample_quality"), r["n"]))


def _quality_lines(q: dict | None, evaluated: int | None = None) -> list[str]:
    if q is None:
        return []
    if "skipped" in q:
        return [f"  sample quality: not measured ({q['skipped']})"]
    acc = q["classifier_test_accuracy"]
    acc = "unknown" if acc is None else f"{acc:.2%}"
    apart = (
        f" (its own {q['real_images']}, not the {evaluated} above: --limit sets those, --fid-samples these)"
        if evaluated is not None and evaluated != q["real_images"]
        else ""
    )
    return [
        (
            f"sample quality: {q['samples']} prior samples against the first {q['real_images']} real test "
            f"images{apart}, in the features of the {q['classifier']} classifier ({acc} test accuracy)"
        ),
        f"  FID             {q['fid']:10.3f}   (real training vs test images: {q['fid_real']:.3f})",
        (
            f"  Inception-style {q['inception_score']:10.3f}   "
            f"(real test images: {q['inception_score_real']:.3f}; at most 10)"
        ),
    ]
