"""Train a model on a dataset and write a run directory.

The run directory gets config.json, model.safetensors (best validation loss), last.safetensors
and last-optimizer.safetensors (for --resume), metrics.json (per-epoch curves),
training-curves.png, samples.png and reconstructions.png; with --log, RUN/tensorboard/ and/or
RUN/mlflow.json (docs/tracking.md).

examples:
  vaekit train vae                                     # digits, the embedded default
  vaekit train vae --data binarized-mnist --epochs 5
  vaekit train vae --data frey --likelihood gaussian --latent-dim 10
  vaekit train vae --data ./my_images --image-size 32 --arch conv
  vaekit train vae --data ptb                  # a sentence VAE on the Penn Treebank: its 2-hour recipe
  vaekit train vae --data ptb --time 10m      # a short clock: the text defaults (GRU 256)
  vaekit train lm --data ptb                                  # the same decoder without z: the baseline
  vaekit train vae --data my_sentences.txt --tokens char      # your own text, one sentence per line
  vaekit train seq2seq --data fra-eng                         # translate English into French, with attention
  vaekit train seq2seq --data pairs.tsv --reverse --attention none      # your own pairs, second column -> first
  vaekit train vae --data mnist --log tensorboard --log mlflow  # also to TensorBoard and MLflow
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import sys
from pathlib import Path

from vaekit.commands._common import pair_options, text_options
from vaekit.config import DataConfig, ModelConfig, ModelOptions, RunConfig, TrainConfig
from vaekit.errors import VaekitError
from vaekit.options import add_flags, duration, flag_name, flagged, given, given_flags, render, resumable, text_defaults

HELP = "train a model and write its checkpoints, metrics and pictures"

# The settings, each written once as a field of these dataclasses (vaekit/config.py): its flag,
# type, default, help and whether --resume may change it. Every other flag of train is a command
# flag below (the model, --set, --out, --overwrite, --resume, --quiet).
SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
EPOCH_CAP = 1_000_000  # the epoch count under --time when --epochs is not given: the clock decides


def add_arguments(p: argparse.ArgumentParser) -> None:
    from vaekit.models import MODELS
    from vaekit.nn.repconv import BLOCKS

    p.add_argument(
        "model",
        choices=_ModelNames(),
        help="which model to train: a name above, one that an installed package registers (entry point "
        "group vaekit.models), or your own build function as package.module:build_fn (docs/architecture.md)",
    )
    names = ("data", "model", "training", "speed", "output")
    groups = {name: p.add_argument_group(name) for name in names}
    add_flags(groups["data"], DataConfig, groups)
    shown = _shown(ModelConfig(), "config_defaults", MODELS)
    add_flags(groups["model"], ModelConfig, groups, shown, choices={"block": list(BLOCKS)})
    option_defaults = {f: _model_defaults(MODELS, f) for f in ModelOptions.__dataclass_fields__}
    add_flags(groups["model"], ModelOptions, groups, option_defaults)
    groups["model"].add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a model-specific option, e.g. --set k=5 (repeatable)",
    )
    add_flags(groups["training"], TrainConfig, groups, _shown(TrainConfig(), "train_defaults", MODELS))
    o = groups["output"]
    o.add_argument("--out", type=Path, default=None, help="run directory (default: runs/MODEL-DATA, numbered if taken)")
    o.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    o.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    o.add_argument("--quiet", action="store_true", help="no progress bar")


class _ModelNames:
    """The model argument's choices: the built-in and installed models (listed in --help and errors),
    and any package.module:build_fn (imported when the config is made)."""

    def __init__(self):
        from vaekit.models import model_names

        self.names = model_names()

    def __contains__(self, name) -> bool:
        return name in self.names or ":" in str(name)

    def __iter__(self):
        return iter(self.names)


def _model_defaults(models, option: str) -> str:
    """'vae 1, beta-vae 4, ...': each model's own default for an option, as its registry entry gives it."""

    def text(value) -> str:
        return value if isinstance(value, str) else f"{value:g}"

    return ", ".join(f"{name} {text(spec.options[option])}" for name, spec in models.items() if option in spec.options)


def _shown(section, entry: str, models) -> dict[str, str]:
    """{field: 'its default; cvae 4'} for the fields of `section` (a settings object) that some model's
    registry entry starts elsewhere (`entry`: config_defaults for ModelConfig, train_defaults for TrainConfig)."""
    shown = {}
    on_data = [(f"{m} on {d}", v) for m, spec in models.items() for d, v in spec.data_defaults.items()]
    for f, flag in flagged(type(section)):
        own = [(m, getattr(spec, entry)[f.name]) for m, spec in models.items() if f.name in getattr(spec, entry)]
        own += [(where, values[f.name]) for where, values in on_data if f.name in values]
        if own:
            more = ", ".join(f"{m} {render(v, flag.type)}" for m, v in own)
            shown[f.name] = f"{render(getattr(section, f.name), flag.type)}; {more}"
    return shown


def _options(args) -> dict:
    """The ModelOptions flags (--beta, --kl-warmup, ...) and --set KEY=VALUE as model options
    (types from the model's defaults)."""
    from vaekit.models import get_spec

    defaults = get_spec(args.model).options
    options: dict = given(args, ModelOptions)
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
    """A RunConfig from the flags: given flags override each dataclass's own defaults (and, for a
    model, its registry entry's; for text data, the fields' text defaults)."""
    from vaekit.data import dataset_key, is_pairs_source, is_text_source
    from vaekit.models import data_defaults, default_config, default_train_config, resolve_options

    values = given(args, DataConfig)
    if "name" in values:  # a path is stored resolved, so the run can be opened from any folder
        values["name"] = dataset_key(values["name"])
    data = dataclasses.replace(DataConfig(), **values)
    pairs = is_pairs_source(data.name)
    text = pairs or is_text_source(data.name)
    if not pairs and "reverse" in values:
        raise VaekitError("--reverse is for sentence pairs (--data fra-eng or FILE.tsv)")
    if not text and ("lower" in values or "split_punct" in values):
        raise VaekitError("--lower and --split-punct are for text (--data ptb, FILE.txt) and sentence pairs")
    model_values = given(args, ModelConfig)
    if "block" in model_values:  # --block implies the conv networks
        model_values.setdefault("arch", "conv")
    # ModelConfig's defaults, with the model's own where its registry entry has them (on text, on a
    # dataset too); a given flag wins over a dataset's default, which wins over text's
    model = default_config(args.model, text)
    on_text = text_defaults(ModelConfig) if text else {}  # the image defaults do not fit sentences
    arch = model_values.get("arch", on_text.get("arch", model.arch))
    on_data, train_on_data = data_defaults(args.model, data.name, arch, args.time_budget)
    model = dataclasses.replace(model, **{**on_text, **on_data, **model_values})
    if model.tie_embeddings and "softmax" not in model_values:  # tying needs a full softmax's one matrix
        model = dataclasses.replace(model, softmax="full")
    model = dataclasses.replace(model, options=resolve_options(args.model, _options(args), text))
    base = default_train_config(args.model)  # TrainConfig's defaults, with the model's own (seq2seq's)
    train_on_text = text_defaults(TrainConfig) if text and not pairs else {}  # pairs keep the model's batch
    base = dataclasses.replace(base, **{**train_on_text, **train_on_data})
    if args.epochs is not None and args.time_budget is None:  # --epochs alone: that many epochs, no clock
        base = dataclasses.replace(base, time_budget=None)
    train = dataclasses.replace(base, **given(args, TrainConfig))
    if args.epochs is None and args.time_budget is not None:
        train = dataclasses.replace(train, epochs=EPOCH_CAP)
    cfg = RunConfig(data=data, model=model, train=train)
    cfg.check()
    return cfg


def _resumed_config(args) -> RunConfig:
    """The run's saved config.json, with the settings --resume may change (Flag.resume) as given."""
    fixed = [
        flag_name(f, flag)
        for cls in (*SECTIONS.values(), ModelOptions)
        for f, flag in given_flags(args, cls)
        if not flag.resume
    ]
    fixed += ["--set"] if args.set else []
    if fixed:
        may = [flag_name(f, flag) for cls in SECTIONS.values() for f, flag in resumable(cls)]
        raise VaekitError(
            f"--resume continues with the run's saved config.json: drop {', '.join(fixed)} "
            f"(only {', '.join(may[:-1])} and {may[-1]} may change)"
        )
    cfg = RunConfig.load(args.out / "config.json")
    if cfg.model.name != args.model:
        raise VaekitError(f"{args.out} holds a {cfg.model.name!r} run, not {args.model!r}")
    changes = {}
    for section, cls in SECTIONS.items():
        values = {f.name: getattr(args, f.name) for f, _ in given_flags(args, cls)}
        changes[section] = dataclasses.replace(getattr(cfg, section), **values)
    return dataclasses.replace(cfg, **changes)


def _default_out(cfg: RunConfig) -> Path:
    stem = re.sub(r"[^\w.-]+", "-", f"{cfg.model.name}-{Path(cfg.data.name).stem}")  # package.module:fn too
    out, n = Path("runs") / stem, 2
    while out.exists():
        out, n = Path("runs") / f"{stem}-{n}", n + 1
    return out


def run(args) -> int:
    from vaekit.data import is_pairs_source, is_text_source
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
    if cfg.train.compile and (is_text_source(cfg.data.name) or is_pairs_source(cfg.data.name)):
        # before the data loads or the folder is touched; BENCHMARKS.md: "Cyclical annealing and `--compile` ..."
        raise VaekitError(
            "--compile does not speed up sentence models: every batch length is a new shape, so torch "
            "recompiles for the first 8 and then runs eager (first epoch 9x slower, none faster after): drop --compile"
        )
    if cfg.train.log:
        from vaekit.tracking import require

        require(cfg.train.log)  # a tracker's missing package: one line, before anything is written
    if not distributed.current_world().is_main:
        return _train(args, cfg)
    with lock.holding(args.out):  # one writer per run folder, from here to the last picture
        return _train(args, cfg)


def clock_note(cfg: RunConfig, args) -> str:
    """' for 90s' under --time; a clock the user did not type (seq2seq's, PTB's recipe) says how to change it."""
    seconds = cfg.train.time_budget
    if seconds is None:
        return ""
    note = f" for {duration.show(seconds)}"
    if args.time_budget is None and not args.resume:
        note += " (the default clock: --time changes it, --epochs N alone turns it off)"
    return note


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
    hook = _tracking_hook(cfg, args.out, world)
    hooks = () if hook is None else (hook,)
    trainer = Trainer(cfg, data, args.out, show_progress=not args.quiet, overwrite=args.overwrite, hooks=hooks)
    if args.resume:
        trainer.resume()
    if world.is_main:
        steps = "compiled steps" if cfg.train.compile else "eager steps"
        how = ", ".join([*(["CUDA graph"] if trainer.graphed else []), steps, cfg.train.precision])
        if data.notes:
            print(f"{data.name}: {data.notes}", file=sys.stderr)
        what = "sentence pairs" if data.is_pairs else "sentences" if data.is_text else "images"
        what += "" if data.is_text else f" {'x'.join(map(str, data.image_shape))}"
        print(
            f"training {cfg.model.name} on {data.name} ({data.train_x.shape[0]} {what}) "
            f"on {trainer.device}" + (f" x {world.size} processes" if world.active else "") + f" ({how})"
            f"{clock_note(cfg, args)} -> {args.out}",
            file=sys.stderr,
        )
    try:
        history = trainer.fit()
    except BaseException as err:
        if hook is not None:
            hook.close("KILLED" if isinstance(err, KeyboardInterrupt) else "FAILED")
        raise
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
    if hook is not None:
        _finish_tracking(hook, trainer, data)
    return 0


def _tracking_hook(cfg: RunConfig, out: Path, world):
    """The trainer hook that sends the run to --log's trackers (vaekit.tracking), on the main process."""
    if not cfg.train.log or not world.is_main:
        return None
    from vaekit.tracking.hook import TrackingHook

    return TrackingHook(cfg.train.log, out)


def _finish_tracking(hook, trainer, data) -> None:
    """The final pictures (the PNGs just written) or a text run's sentences, and the run folder."""
    text = None
    if data.is_text and trainer.history:  # the model holds the best checkpoint (_say_code_use loaded it)
        from vaekit.tracking.pictures import sentences_text

        x, y = data.val_x[:8].to(trainer.device), data.val_y[:8].to(trainer.device)
        source = data.pairs.source_vocab if data.pairs is not None else None
        text = sentences_text(trainer.model, data.vocab, x, y, source)
    hook.finish(trainer, text)


def _say_code_use(trainer, data, out: Path) -> None:
    """KL and active units of the best checkpoint on the validation split; a collapsed code is a warning."""
    from vaekit.eval import code_use
    from vaekit.train import checkpoint as ckpt

    ckpt.load_weights(out / ckpt.BEST, trainer.model)
    x, y = data.val_x[:2000].to(trainer.device), data.val_y[:2000].to(trainer.device)
    use = code_use.measure(trainer.model, x, y)
    line = code_use.describe(use, f"best checkpoint, {x.shape[0]:,} validation examples")
    if line:
        print(line)


def _write_pictures(trainer, data, out: Path) -> None:
    """Curves, samples and reconstructions of the best checkpoint, so every run can be looked at."""
    from vaekit.plots import curves_figure, run_title, save_figure
    from vaekit.tracking.pictures import image_figures
    from vaekit.train import checkpoint as ckpt
    from vaekit.train.metrics import read_metrics

    history = read_metrics(out)["epochs"]
    if not history:
        return
    cfg = trainer.cfg
    run = run_title(cfg.model.name, Path(cfg.data.name).name)
    save_figure(curves_figure(history, f"{run}: training curves"), out / "training-curves.png")
    ckpt.load_weights(out / ckpt.BEST, trainer.model)
    x, y = data.test_x[:32].to(trainer.device), data.test_y[:32].to(trainer.device)
    for name, fig in image_figures(trainer.model, x, y, data.num_classes, run, cfg.train.seed).items():
        save_figure(fig, out / f"{name}.png")
