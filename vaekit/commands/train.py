"""Train a model on a dataset and write a run directory.

The run directory gets config.json, model.safetensors (best validation loss), last.safetensors
and last-optimizer.safetensors (for --resume), metrics.json (per-epoch curves),
training-curves.png, samples.png and reconstructions.png.

examples:
  vaekit train vae                                     # digits, the embedded default
  vaekit train vae --data binarized-mnist --epochs 5
  vaekit train vae --data frey --likelihood gaussian --latent-dim 10
  vaekit train vae --data ./my_images --image-size 32 --arch conv
  vaekit train vae --data ptb --kl-warmup 2 --free-bits 0.2   # a sentence VAE (GRU) on the Penn Treebank
  vaekit train lm --data ptb                                  # the same decoder without z: the baseline
  vaekit train vae --data my_sentences.txt --tokens char      # your own text, one sentence per line
  vaekit train seq2seq --data fra-eng                         # translate English into French, with attention
  vaekit train seq2seq --data pairs.tsv --reverse --set attention=none   # your own pairs, second column -> first
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path

from vaekit.commands._common import (
    GLOBAL_OPTIONS,
    count,
    duration,
    int_list,
    non_negative,
    pair_options,
    positive,
    real,
    seed,
    text_options,
)
from vaekit.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vaekit.errors import VaekitError
from vaekit.precision import TRAINING_PRECISIONS

HELP = "train a model and write its checkpoints, metrics and pictures"

_D, _M, _T = DataConfig(), ModelConfig(), TrainConfig()
# What text (--data ptb or FILE.txt) gets where a flag is not given: the image defaults do not fit.
TEXT_DEFAULTS = {"arch": "gru", "hidden": (256,), "batch_size": 32}  # batch 32: BENCHMARKS.md, issue 20
# Flags that a resumed run may change; every other setting comes from the run's config.json.
# How the step runs (compile, CUDA graph) changes its speed, not what it computes.
_RESUMABLE = {"epochs", "time_budget", "device", "quiet", "data_dir", "compile", "cuda_graph"}
EPOCH_CAP = 1_000_000  # the epoch count under --time when --epochs is not given: the clock decides


def add_arguments(p: argparse.ArgumentParser) -> None:
    from vaekit.models import MODELS
    from vaekit.nn.repconv import BLOCKS

    p.add_argument("model", choices=list(MODELS), help="which model to train")
    d = p.add_argument_group("data")
    d.add_argument(
        "--data", default=None, help=f"dataset name or a path to a folder of images / .npy / .npz (default: {_D.name})"
    )
    d.add_argument(
        "--data-dir", default=None, help="where dataset files live (default: $VAEKIT_DATA_DIR, else the user cache)"
    )
    d.add_argument(
        "--image-size",
        type=count(1, 4096),
        default=None,
        help="resize images to this square size (default: keep their size)",
    )
    d.add_argument(
        "--tokens",
        choices=("word", "char"),
        default=None,
        help="text: words (split on spaces) or characters (default: word)",
    )
    d.add_argument(
        "--vocab-size",
        type=count(1),
        default=None,
        help="text: keep the N most frequent training tokens, the rest -> <unk> (default: all)",
    )
    d.add_argument(
        "--min-count",
        type=count(1),
        default=None,
        help="text: keep tokens seen at least this often in training (default: 1)",
    )
    d.add_argument(
        "--max-length",
        type=count(1),
        default=None,
        help="text: tokens per sentence (default: 100 words / 400 characters)",
    )
    d.add_argument(
        "--lower",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="text and sentence pairs: lower-case (default: on for pairs, off for text); recorded in the run, "
        "typed sentences are read the same way",
    )
    d.add_argument(
        "--split-punct",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="text and sentence pairs: punctuation marks as tokens of their own, apostrophes kept in words "
        "(default: on for pairs, off for text)",
    )
    d.add_argument(
        "--reverse",
        action="store_true",
        default=None,
        help="sentence pairs: translate the second column into the first (fra-eng: French into English)",
    )
    d.add_argument(
        "--long-lines",
        choices=("skip", "cut"),
        default=None,
        help="text: skip or cut longer sentences; both are counted (default: skip)",
    )
    m = p.add_argument_group("model")
    m.add_argument(
        "--arch",
        choices=("mlp", "conv", "gru", "lstm"),
        default=None,
        help=f"network type: mlp or conv for images, gru or lstm for text (default: {_M.arch}); text: gru",
    )
    m.add_argument(
        "--hidden",
        type=int_list,
        default=None,
        help=f"hidden sizes, encoder order (default: {','.join(map(str, _M.hidden))}); text: the state "
        "size of each recurrent layer, 256 unless given",
    )
    m.add_argument(
        "--embedding-dim",
        type=count(1),
        default=None,
        help=f"text: size of the word vectors (default: {_M.embedding_dim})",
    )
    m.add_argument("--bidirectional", action="store_true", default=None, help="text: a bidirectional encoder")
    m.add_argument(
        "--word-dropout",
        type=real(0.0, 1.0, high_open=True),
        default=None,
        help="text: replace decoder input words by <unk> with this probability (default: 0)",
    )
    m.add_argument(
        "--dropout",
        type=real(0.0, 1.0, high_open=True),
        default=None,
        help="text: dropout on the decoder states (default: 0)",
    )
    m.add_argument(
        "--channels",
        type=int_list,
        default=None,
        help=f"conv channels per layer (default: {','.join(map(str, _M.channels))})",
    )
    m.add_argument(
        "--activation",
        default=None,
        help=f"relu, tanh, elu, gelu, silu, leaky-relu, softplus (default: {_M.activation})",
    )
    m.add_argument(
        "--block",
        choices=list(BLOCKS),
        default=None,
        help="conv networks of 3x3 blocks (implies --arch conv): plain (conv + batch norm), repvgg "
        "(3x3 + 1x1 + identity) or acnet (3x3 + 1x3 + 3x1), each fusable into one 3x3 conv by "
        "'vaekit export --fuse' (default: none, the 4x4 stride-2 layers)",
    )
    m.add_argument(
        "--latent-dim",
        type=count(1),
        default=None,
        help=f"size of z (default: {_M.latent_dim}{_config_defaults(MODELS, 'latent_dim')})",
    )
    m.add_argument(
        "--likelihood",
        choices=("auto", "bernoulli", "gaussian"),
        default=None,
        help="p(x|z); auto picks what suits the data: bernoulli for digits, gaussian for Frey Face (default: auto)",
    )
    m.add_argument(
        "--gaussian-variance",
        choices=("pixel", "global"),
        default=None,
        help=f"Gaussian likelihood: a learned scale per pixel or one global scale (default: {_M.gaussian_variance})",
    )
    m.add_argument(
        "--beta",
        type=non_negative,
        default=None,
        help=f"weight on the KL term; above 1 is a beta-VAE (default: {_model_defaults(MODELS, 'beta')})",
    )
    m.add_argument(
        "--kl-warmup",
        type=non_negative,
        default=None,
        metavar="EPOCHS",
        help="raise the KL weight linearly from 0 over this many epochs "
        f"(default: {_model_defaults(MODELS, 'warmup_epochs')})",
    )
    m.add_argument(
        "--kl-cycle",
        type=non_negative,
        default=None,
        metavar="EPOCHS",
        help="restart the KL warm-up every this many epochs: cyclical annealing, Fu et al. 2019; 0 is off "
        f"(default: {_model_defaults(MODELS, 'cycle_epochs')})",
    )
    m.add_argument(
        "--free-bits",
        type=non_negative,
        default=None,
        metavar="NATS",
        help="no KL cost below this many nats per latent dimension, Kingma et al. 2016 "
        f"(default: {_model_defaults(MODELS, 'free_bits')})",
    )
    m.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a model-specific option, e.g. --set k=5 (repeatable)",
    )
    t = p.add_argument_group("training")
    t.add_argument(
        "--epochs",
        type=count(1),
        default=None,
        help=f"passes over the training split (default: {_T.epochs}{_train_defaults(MODELS, 'epochs')})",
    )
    t.add_argument(
        "--time",
        dest="time_budget",
        type=duration,
        default=None,
        metavar="DURATION",
        help="train for this wall-clock budget (60m, 1.5h, 90s): the learning rate decays from --lr to "
        "--lr-end (default a tenth of --lr) over the budget, --epochs becomes a cap, the best "
        f"validation checkpoint is kept (default: none{_train_defaults(MODELS, 'time_budget', 60, 'm')}; "
        "--epochs alone turns a default budget off)",
    )
    t.add_argument(
        "--batch-size",
        type=count(1),
        default=None,
        help=f"examples per step (default: {_T.batch_size}{_train_defaults(MODELS, 'batch_size')})",
    )
    t.add_argument(
        "--lr",
        type=positive,
        default=None,
        help=f"Adam learning rate (default: {_T.lr:g}{_train_defaults(MODELS, 'lr')})",
    )
    t.add_argument(
        "--lr-end",
        type=positive,
        default=None,
        help="decay the learning rate log-linearly to this by the last epoch (default: constant)",
    )
    t.add_argument(
        "--grad-clip", type=positive, default=None, help="clip the gradient norm to this (default: no clipping)"
    )
    t.add_argument("--seed", type=seed, default=None, help=f"random seed (default: {_T.seed})")
    t.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N (default: auto: cuda when there is one)")
    t.add_argument(
        "--log-every", type=count(1), default=None, help=f"steps between progress updates (default: {_T.log_every})"
    )
    t.add_argument(
        "--eval-every",
        type=count(1),
        default=None,
        help=f"epochs between validation and checkpoints (default: {_T.eval_every})",
    )
    s = p.add_argument_group("speed")
    s.add_argument(
        "--precision",
        choices=TRAINING_PRECISIONS,
        default=None,
        help="tf32: TensorFloat-32 matrix products on recent GPUs; bf16: the network under bfloat16 "
        f"autocast (default: {_T.precision})",
    )
    s.add_argument(
        "--compile",
        action="store_true",
        default=None,
        help="torch.compile the objective (first steps slower while it compiles)",
    )
    s.add_argument(
        "--no-cuda-graph",
        dest="cuda_graph",
        action="store_false",
        default=None,
        help="on a GPU, run each step eagerly instead of replaying it from one captured CUDA graph",
    )
    o = p.add_argument_group("output")
    o.add_argument("--out", type=Path, default=None, help="run directory (default: runs/MODEL-DATA, numbered if taken)")
    o.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    o.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    o.add_argument("--quiet", action="store_true", help="no progress bar")


def _model_defaults(models, option: str) -> str:
    """'vae 1, beta-vae 4, ...': each model's own default for an option, as its registry entry gives it."""
    return ", ".join(f"{name} {spec.options[option]:g}" for name, spec in models.items() if option in spec.options)


def _train_defaults(models, name: str, scale: float = 1, unit: str = "") -> str:
    """'; seq2seq 64': the models whose registry entry starts a TrainConfig field elsewhere than its default."""
    own = [
        f"{model} {spec.train_defaults[name] / scale:g}{unit}"
        for model, spec in models.items()
        if name in spec.train_defaults
    ]
    return "; " + ", ".join(own) if own else ""


def _config_defaults(models, name: str) -> str:
    """'; cvae 4': the models whose registry entry starts a ModelConfig field elsewhere than its default."""
    own = [f"{model} {spec.config_defaults[name]}" for model, spec in models.items() if name in spec.config_defaults]
    return "; " + ", ".join(own) if own else ""


def _options(args) -> dict:
    """--beta, --kl-warmup and --set KEY=VALUE as model options (types from the model's defaults)."""
    from vaekit.models import get_spec

    defaults = get_spec(args.model).options
    options: dict = {}
    if args.beta is not None:
        options["beta"] = args.beta
    if args.kl_warmup is not None:
        options["warmup_epochs"] = args.kl_warmup
    if args.kl_cycle is not None:
        options["cycle_epochs"] = args.kl_cycle
    if args.free_bits is not None:
        options["free_bits"] = args.free_bits
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise VaekitError(f"--set takes KEY=VALUE, got {item!r}")
        kind = type(defaults.get(key, ""))
        try:
            options[key] = kind(value) if kind is not bool else value.lower() in ("1", "true", "yes")
        except ValueError:
            raise VaekitError(f"--set {key}: expected a {kind.__name__}, got {value!r}") from None
        if kind is float and not math.isfinite(options[key]):
            raise VaekitError(f"--set {key}: expected a finite number, got {value!r}")
    return options


def config_from_args(args) -> RunConfig:
    """A RunConfig from the flags: given flags override each dataclass's own defaults."""
    from vaekit.data import dataset_key
    from vaekit.models import default_config, default_train_config, resolve_options

    def pick(section, **flags):
        return dataclasses.replace(section, **{k: v for k, v in flags.items() if v is not None})

    from vaekit.data import is_pairs_source, is_text_source

    # A path is stored resolved, so the run can be opened from any folder.
    data = pick(
        _D,
        name=args.data and dataset_key(args.data),
        data_dir=args.data_dir and _absolute(args.data_dir),
        image_size=args.image_size,
        tokens=args.tokens,
        vocab_size=args.vocab_size,
        min_count=args.min_count,
        max_length=args.max_length,
        long_lines=args.long_lines,
        lower=args.lower,
        split_punct=args.split_punct,
        reverse=args.reverse,
    )
    pairs = is_pairs_source(data.name)
    if not pairs and args.reverse is not None:
        raise VaekitError("--reverse is for sentence pairs (--data fra-eng or FILE.tsv)")
    if not (pairs or is_text_source(data.name)) and (args.lower is not None or args.split_punct is not None):
        raise VaekitError("--lower and --split-punct are for text (--data ptb, FILE.txt) and sentence pairs")
    text = TEXT_DEFAULTS if pairs or is_text_source(data.name) else {}
    arch = args.arch or ("conv" if args.block else None) or text.get("arch")  # --block implies the conv networks
    model = pick(
        default_config(args.model, bool(text)),  # ModelConfig's defaults, with the model's own (on text too)
        arch=arch,
        hidden=args.hidden or text.get("hidden"),
        channels=args.channels,
        block=args.block,
        activation=args.activation,
        latent_dim=args.latent_dim,
        likelihood=args.likelihood,
        gaussian_variance=args.gaussian_variance,
        embedding_dim=args.embedding_dim,
        bidirectional=args.bidirectional,
        word_dropout=args.word_dropout,
        dropout=args.dropout,
    )
    model = dataclasses.replace(model, options=resolve_options(args.model, _options(args), bool(text)))
    epochs = EPOCH_CAP if args.epochs is None and args.time_budget is not None else args.epochs
    base = default_train_config(args.model)  # TrainConfig's defaults, with the model's own (seq2seq's)
    if args.epochs is not None and args.time_budget is None:  # --epochs alone: that many epochs, no clock
        base = dataclasses.replace(base, time_budget=None)
    train = pick(
        base,
        epochs=epochs,
        time_budget=args.time_budget,
        batch_size=args.batch_size or (None if pairs else text.get("batch_size")),  # pairs: the model's own
        lr=args.lr,
        lr_end=args.lr_end,
        grad_clip=args.grad_clip,
        seed=args.seed,
        device=args.device,
        log_every=args.log_every,
        eval_every=args.eval_every,
        precision=args.precision,
        compile=args.compile,
        cuda_graph=args.cuda_graph,
    )
    cfg = RunConfig(data=data, model=model, train=train)
    cfg.check()
    return cfg


def _absolute(path: str) -> str:
    return str(Path(path).expanduser().resolve())


_NOT_SETTINGS = {"model", "out", "resume", "overwrite", "set", "_run", "_argv", "command"}


def _resumed_config(args) -> RunConfig:
    given = sorted(
        k for k, v in vars(args).items() if k not in _RESUMABLE | set(GLOBAL_OPTIONS) | _NOT_SETTINGS and v is not None
    )
    if given or args.set:
        flags = ", ".join("--" + k.replace("_", "-") for k in given + (["set"] if args.set else []))
        raise VaekitError(
            f"--resume continues with the run's saved config.json: drop {flags} "
            "(only --epochs, --time, --device, --compile and --no-cuda-graph may change)"
        )
    cfg = RunConfig.load(args.out / "config.json")
    if cfg.model.name != args.model:
        raise VaekitError(f"{args.out} holds a {cfg.model.name!r} run, not {args.model!r}")
    changeable = ("epochs", "time_budget", "device", "compile", "cuda_graph")
    train = dataclasses.replace(cfg.train, **{k: getattr(args, k) for k in changeable if getattr(args, k) is not None})
    data = dataclasses.replace(cfg.data, data_dir=_absolute(args.data_dir) if args.data_dir else cfg.data.data_dir)
    return dataclasses.replace(cfg, train=train, data=data)


def _default_out(cfg: RunConfig) -> Path:
    stem = f"{cfg.model.name}-{Path(cfg.data.name).stem}"
    out, n = Path("runs") / stem, 2
    while out.exists():
        out, n = Path("runs") / f"{stem}-{n}", n + 1
    return out


def run(args) -> int:
    from vaekit.train import checkpoint as ckpt
    from vaekit.train import distributed, lock

    if args.resume:
        if args.out is None:
            raise VaekitError("--resume needs --out RUN_DIR: the run to continue")
        ckpt.prepare_run_dir(args.out, overwrite=False, resume=True)
        cfg = _resumed_config(args)
    else:
        cfg = config_from_args(args)
        args.out = args.out or _default_out(cfg)
        ckpt.prepare_run_dir(args.out, args.overwrite, resume=False, check_only=True)
    if not distributed.current_world().is_main:
        return _train(args, cfg)
    with lock.holding(args.out):  # one writer per run folder, from here to the last picture
        return _train(args, cfg)


def _train(args, cfg: RunConfig) -> int:
    from vaekit.data import load_dataset
    from vaekit.train import distributed
    from vaekit.train.trainer import Trainer

    data = load_dataset(
        cfg.data.name,
        cfg.data.data_dir,
        image_size=cfg.data.image_size,
        text=text_options(cfg.data, args.out if args.resume else None),
        pairs=pair_options(cfg.data, args.out if args.resume else None),
    )
    world = distributed.current_world()
    trainer = Trainer(cfg, data, args.out, show_progress=not args.quiet, overwrite=args.overwrite)
    if args.resume:
        trainer.resume()
    if world.is_main:
        how = ", ".join(
            [
                "CUDA graph" if trainer.graphed else "eager steps",
                *(["compiled"] if cfg.train.compile else []),
                cfg.train.precision,
            ]
        )
        if data.notes:
            print(f"{data.name}: {data.notes}", file=sys.stderr)
        what = "sentence pairs" if data.is_pairs else "sentences" if data.is_text else "images"
        what += "" if data.is_text else f" {'x'.join(map(str, data.image_shape))}"
        print(
            f"training {cfg.model.name} on {data.name} ({data.train_x.shape[0]} {what}) "
            f"on {trainer.device}" + (f" x {world.size} processes" if world.active else "") + f" ({how}) -> {args.out}",
            file=sys.stderr,
        )
    try:
        history = trainer.fit()
    finally:
        distributed.shutdown()
    if not world.is_main:
        return 0
    if not data.is_text:
        _write_pictures(trainer, data, args.out)
    elif history:
        from vaekit.plots import curves_figure, run_title, save_figure

        run = run_title(cfg.model.name, Path(cfg.data.name).name)
        save_figure(
            curves_figure(trainer.history, f"{run}: training curves", per="sentence"), args.out / "training-curves.png"
        )
    from vaekit.report.card import record_command, write_card

    record_command(args.out, args._argv)
    write_card(args.out)
    if history:
        best = min(history, key=lambda r: r["val_loss"])
        print(f"best validation loss {best['val_loss']:.3f} nats at epoch {best['epoch']}; run saved in {args.out}")
        _say_code_use(trainer, data, args.out)
    return 0


def _say_code_use(trainer, data, out: Path) -> None:
    """KL and active units of the best checkpoint on the validation split; a collapsed code is a warning."""
    from vaekit import code_use
    from vaekit.train import checkpoint as ckpt

    ckpt.load_weights(out / ckpt.BEST, trainer.model)
    x, y = data.val_x[:2000].to(trainer.device), data.val_y[:2000].to(trainer.device)
    use = code_use.measure(trainer.model, x, y)
    line = code_use.describe(use, f"best checkpoint, {x.shape[0]:,} validation examples")
    if line:
        print(line)


def _write_pictures(trainer, data, out: Path) -> None:
    """Curves, samples and reconstructions of the best checkpoint, so every run can be looked at."""
    import torch

    from vaekit.generate import reconstruct, sample
    from vaekit.plots import (
        curves_figure,
        prior_title,
        reconstructions_figure,
        run_title,
        samples_figure,
        save_figure,
    )
    from vaekit.train import checkpoint as ckpt
    from vaekit.train.trainer import read_metrics

    history = read_metrics(out)["epochs"]
    if not history:
        return
    cfg = trainer.cfg
    run = run_title(cfg.model.name, Path(cfg.data.name).name)
    save_figure(curves_figure(history, f"{run}: training curves"), out / "training-curves.png")
    model = trainer.model
    ckpt.load_weights(out / ckpt.BEST, model)
    model.eval()
    torch.manual_seed(cfg.train.seed)
    x, y = data.test_x[:32].to(trainer.device), data.test_y[:32].to(trainer.device)
    conditional = bool(model.num_labels)
    k = max(1, data.num_classes)
    n, ncol = (k * -(-64 // k), k) if conditional else (64, 8)  # a conditional model: column c shows label c
    labels = torch.arange(n, device=trainer.device) % k if conditional else None
    if model.has_prior:
        words = prior_title() + (", column c shows label c" if conditional else "")
        save_figure(samples_figure(sample(model, n, labels=labels), run, words, ncol), out / "samples.png")
    recon = reconstruct(model, x, y if conditional else None)
    save_figure(reconstructions_figure(x, recon, run), out / "reconstructions.png")
