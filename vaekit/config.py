"""Run configuration: three frozen dataclasses, saved beside every checkpoint as JSON.

Each dataclass owns its defaults, and each setting that is a `vaekit train` option is written
once, here: `option(default, help, type=..., resume=...)` (`vaekit.options`) gives it its flag,
type, help and whether `--resume` may change it; the parser, the config built from the flags, the
resume check and `RunConfig.check` are derived from these fields. `from_dict` rejects unknown keys
so a typo in a saved or hand-written config is an error, not a silently ignored setting.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaekit.errors import VaekitError
from vaekit.io import atomic_write_text
from vaekit.options import (
    Extend,
    absolute_path,
    batch_schedule,
    check_fields,
    count,
    duration,
    int_list,
    name_list,
    non_negative,
    option,
    positive,
    real,
    seed,
)
from vaekit.precision import TRAINING_PRECISIONS

_ARCHS = ("mlp", "conv", "gru", "lstm")  # mlp | conv for images, gru | lstm for text
_FRACTION = real(0.0, 1.0, high_open=True)
ATTENTION_CHOICES = ("none", "dot", "additive")  # seq2seq's decoders (vaekit.models.seq2seq.ATTENTION_KINDS)
# Decoding of `vaekit translate`, `eval` and `report` on seq2seq runs: chosen on the validation sentences of the
# 15- and 60-minute fra-eng runs (BENCHMARKS.md, "Beam and length normalisation chosen on validation").
DEFAULT_BEAM, DEFAULT_ALPHA = 5, 0.0


@dataclass(frozen=True)
class DataConfig:
    name: str = option(
        "digits",  # a registry name (vaekit.data.DATASETS) or a path to a folder / .npy / .npz / .txt
        "dataset name, or a path to a folder of images, a .npy / .npz array or a .txt file of sentences",
        name="--data",
        metavar="DATA",
    )
    data_dir: str | None = option(  # None: $VAEKIT_DATA_DIR or the user cache; stored absolute
        None,
        "where dataset files live (default: $VAEKIT_DATA_DIR, else the user cache)",
        type=absolute_path,
        resume=True,
    )
    image_size: int | None = option(
        None, "resize images to this square size (default: keep their size)", type=count(1, 4096)
    )
    # Text (ptb or a .txt file; see vaekit.data.text)
    tokens: str = option("word", "text: words (split on spaces) or characters", choices=("word", "char"))
    vocab_size: int | None = option(
        None, "text: keep the N most frequent training tokens, the rest -> <unk> (default: all)", type=count(1)
    )
    min_count: int = option(1, "text: keep tokens seen at least this often in training", type=count(1))
    max_length: int | None = option(
        None, "text: tokens per sentence (default: 100 words / 400 characters)", type=count(1)
    )
    long_lines: str = option("skip", "text: skip or cut longer sentences; both are counted", choices=("skip", "cut"))
    # Tokenizer (vaekit.data.tokenize); None: the data's default (sentence pairs: on; text: off)
    lower: bool | None = option(
        None,
        "text and sentence pairs: lower-case (default: on for pairs, off for text); recorded in the run, "
        "typed sentences are read the same way",
        action=argparse.BooleanOptionalAction,
    )
    split_punct: bool | None = option(
        None,
        "text and sentence pairs: punctuation marks as tokens of their own, apostrophes kept in words "
        "(default: on for pairs, off for text)",
        action=argparse.BooleanOptionalAction,
    )
    # Sentence pairs (fra-eng or a .tsv file; see vaekit.data.pairs)
    reverse: bool = option(
        False,
        "sentence pairs: translate the second column into the first (fra-eng: French into English)",
        action="store_true",
    )


@dataclass(frozen=True)
class ModelConfig:
    name: str = "vae"  # a key of vaekit.models.MODELS, an entry point's name or package.module:build_fn
    plugin: str | None = None  # a model from outside vaekit: the package.module:attr it is imported from
    arch: str = option("mlp", "network type: mlp or conv for images, gru or lstm for text", choices=_ARCHS, text="gru")
    hidden: tuple[int, ...] = option(  # MLP hidden sizes (encoder order; the decoder mirrors them); RNN: per layer
        (512, 256),
        "hidden sizes, encoder order; text: the state size of each recurrent layer",
        type=int_list,
        text=(256,),
    )
    channels: tuple[int, ...] = option((32, 64), "conv channels per layer", type=int_list)
    block: str | None = option(  # conv only: None (4x4 stride-2 layers) | a key of vaekit.nn.repconv.BLOCKS
        None,
        "conv networks of 3x3 blocks (implies --arch conv): plain (conv + batch norm), repvgg "
        "(3x3 + 1x1 + identity) or acnet (3x3 + 1x3 + 3x1), each fusable into one 3x3 conv by "
        "'vaekit export --fuse' (default: none, the 4x4 stride-2 layers)",
    )
    fused: bool = False  # the blocks already fused into plain 3x3 convolutions (`vaekit export --fuse`)
    activation: str = option("relu", "relu, tanh, elu, gelu, silu, leaky-relu, softplus")
    latent_dim: int = option(32, "size of z", type=count(1))
    likelihood: str = option(  # bernoulli | gaussian | auto (the one that suits the data)
        "auto",
        "p(x|z); auto picks what suits the data: bernoulli for digits, gaussian for Frey Face",
        choices=("auto", "bernoulli", "gaussian"),
    )
    gaussian_variance: str = option(
        "pixel",
        "Gaussian likelihood: a learned scale per pixel or one global scale",
        choices=("pixel", "global"),
    )
    # Text networks (vaekit.nn.recurrent)
    embedding_dim: int = option(256, "text: size of the word vectors", type=count(1))
    encoder_hidden: int | None = option(  # a sentence VAE's encoder reads, the decoder does the work: it can be smaller
        None,
        "text VAE and AE: the encoder's state size, e.g. 256 under --hidden 512 (none: the decoder's, --hidden)",
        type=count(1),
    )
    bidirectional: bool = option(
        False,
        "text: a bidirectional encoder (--no-bidirectional: one direction, the default)",
        action=argparse.BooleanOptionalAction,
    )
    word_dropout: float = option(  # Bowman et al. 2016
        0.0, "text: replace decoder input words by <unk> with this probability", type=_FRACTION
    )
    dropout: float = option(
        0.0,
        "text: dropout on the decoder's outputs, before the softmax (seq2seq: and on both sides' word vectors)",
        type=_FRACTION,
    )
    embedding_dropout: float = option(
        0.0, "text: dropout on the word vectors the encoder and decoder read (seq2seq: see --dropout)", type=_FRACTION
    )
    weight_drop: float = option(  # Merity et al. 2018 (AWD-LSTM)
        0.0,
        "text: DropConnect on the decoder's recurrent matrices, one mask per batch (AWD-LSTM's weight drop)",
        type=_FRACTION,
    )
    softmax: str = option(  # vaekit.nn.sequence.TokenHead
        "adaptive",
        "text: the output layer, adaptive (Grave et al. 2017: fast over a large vocabulary) or full "
        "(one softmax over every word, one output matrix)",
        choices=("adaptive", "full"),
    )
    tie_embeddings: bool = option(
        False,
        "text: the output matrix is the word vectors (Press & Wolf 2017; a projection from the state "
        "size when it differs); implies --softmax full (default: off; on for vae and lm on ptb, "
        "--no-tie-embeddings turns it off)",
        action=argparse.BooleanOptionalAction,
    )
    options: dict[str, Any] = field(default_factory=dict)  # model/objective options, e.g. beta, k (ModelOptions)


@dataclass(frozen=True)
class ModelOptions:
    """Flags for model options (`--beta 4` is `--set beta=4`): the ELBO family's, and seq2seq's attention.

    Their values live in `ModelConfig.options` (None: the model's own default, from its registry entry).
    """

    beta: float | None = option(None, "weight on the KL term; above 1 is a beta-VAE", type=non_negative)
    warmup_epochs: float | None = option(
        None,
        "raise the KL weight linearly from 0 over this many epochs",
        type=non_negative,
        name="--kl-warmup",
        metavar="EPOCHS",
    )
    cycle_epochs: float | None = option(
        None,
        "restart the KL warm-up every this many epochs: cyclical annealing, Fu et al. 2019; 0 is off",
        type=non_negative,
        name="--kl-cycle",
        metavar="EPOCHS",
    )
    free_bits: float | None = option(
        None,
        "no KL cost below this many nats per latent dimension, Kingma et al. 2016",
        type=non_negative,
        metavar="NATS",
    )
    attention: str | None = option(
        None,
        "seq2seq: what the decoder sees of the source: none (only the encoder's final state, the "
        "fixed-size bottleneck), dot (Luong et al. 2015) or additive (Bahdanau et al. 2015; the default)",
        choices=ATTENTION_CHOICES,
    )


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = option(50, "passes over the training split", type=count(1), resume=True)
    batch_size: int = option(100, "examples per step", type=count(1), text=32)  # text: BENCHMARKS.md, issue 20
    batch_schedule: str | None = option(  # e.g. "0.6:100"; see batch_schedule in vaekit.options
        None,
        "change the batch size part-way: FRACTION:SIZE[,FRACTION:SIZE] (0.6:100: batches of 100 from 60%% "
        "of the run, its epochs or its --time clock); the learning rate then scales with the square root "
        "of SIZE / --batch-size, so the schedule of --lr goes on at the new batch's rate (default: none)",
        type=batch_schedule,
        metavar="SCHEDULE",
    )
    lr: float = option(1e-3, "Adam learning rate", type=positive)
    lr_end: float | None = option(  # decay log-linearly to this by the last epoch (or the budget's end)
        None, "decay the learning rate log-linearly to this by the last epoch (default: constant)", type=positive
    )
    time_budget: float | None = option(  # seconds; epochs become a cap, the lr schedule runs over the time
        None,
        "train for this wall-clock budget (60m, 1.5h, 90s): the learning rate decays from --lr to "
        "--lr-end (a tenth of --lr unless given) over the budget, --epochs becomes a cap, the best "
        "validation checkpoint is kept; --epochs alone turns a model's default budget off",
        type=duration,
        name="--time",
        metavar="DURATION",
        resume=True,
    )
    grad_clip: float | None = option(None, "clip the gradient norm to this (default: no clipping)", type=positive)
    ema: float | None = option(  # vaekit.train.average
        None,
        "validate, keep and evaluate an exponential moving average of the weights with this decay per "
        "step, 0.999: about the last thousand steps (default: none, the weights as trained)",
        type=real(0.0, 1.0, low_open=True, high_open=True),
        metavar="DECAY",
    )
    seed: int = option(0, "random seed", type=seed)
    device: str = option("auto", "auto, cpu, cuda or cuda:N (default: auto: cuda when there is one)", resume=True)
    log_every: int = option(  # the only host syncs in the loop
        50, "steps between progress updates", type=count(1)
    )
    eval_every: int = option(  # and always after the last
        1, "epochs between validation and checkpoints", type=count(1)
    )
    precision: str = option(  # see vaekit.precision
        "float32",
        "tf32: TensorFloat-32 matrix products on recent GPUs; bf16: the network under bfloat16 autocast",
        choices=TRAINING_PRECISIONS,
        group="speed",
    )
    compile: bool = option(
        False,
        "torch.compile the objective (first steps slower while it compiles; images and arrays, not sentences)",
        action="store_true",
        resume=True,
        group="speed",
    )
    cuda_graph: bool = option(  # falls back to eager steps if it cannot capture
        True,
        "on a GPU, run each step eagerly instead of replaying it from one captured CUDA graph",
        name="--no-cuda-graph",
        action="store_false",
        resume=True,
        group="speed",
    )
    log: tuple[str, ...] | None = option(  # vaekit.tracking; None: no tracker
        None,
        "also send the curves, pictures and settings to TensorBoard (RUN/tensorboard/) or MLflow "
        "($MLFLOW_TRACKING_URI, else a SQLite store beside the run: RUN/../mlflow.db), or both "
        "(--log tensorboard,mlflow); needs pip install vaekit[tracking] (default: none)",
        type=name_list("tensorboard", "mlflow"),
        action=Extend,
        metavar="TRACKER",
        resume=True,
        group="output",
    )
    log_pictures_every: int = option(
        10,
        "with --log: epochs between the sample and reconstruction pictures sent (sentences for text); also at the end",
        type=count(1),
        metavar="EPOCHS",
        resume=True,
        group="output",
    )


@dataclass(frozen=True)
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    # Facts about the data the model was built for, filled in at training time so a saved run
    # can be rebuilt without loading its dataset.
    image_shape: tuple[int, ...] | None = None  # (C, H, W); (T,) padded sentence length for text
    num_classes: int = 0
    vocab_size: int = 0  # text: token ids (the run's vocab.json lists them); 0 for images
    source_vocab_size: int = 0  # sentence pairs: source token ids (source-vocab.json); else 0

    def for_data(self, data) -> RunConfig:
        """This config with what depends on the data filled in: 'auto' likelihood, image shape, classes."""
        likelihood = data.likelihood if self.model.likelihood == "auto" else self.model.likelihood
        return dataclasses.replace(
            self,
            model=dataclasses.replace(self.model, likelihood=likelihood),
            image_shape=tuple(data.image_shape),
            num_classes=data.num_classes,
            vocab_size=len(data.vocab) if data.vocab is not None else 0,
            source_vocab_size=len(data.pairs.source_vocab) if data.pairs is not None else 0,
        )

    def check(self) -> RunConfig:
        """Raises `VaekitError` naming the first setting that is not a usable number; returns self.

        A NaN learning rate or a zero batch size would otherwise fail deep inside PyTorch, after
        files were written; the trainer checks before it writes anything.
        """
        for section in ("data", "model", "train"):  # the limits each option's flag type sets
            check_fields(getattr(self, section), section)
        m = self.model
        for key, value in m.options.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise VaekitError(f"model option {key} (--set {key}=...) must be a finite number, got {value!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        raw = dict(raw)
        sections = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
        parts = {key: _build(kind, raw.pop(key, {}), key) for key, kind in sections.items()}
        top = _build(_TopLevel, raw, "run config")
        return cls(
            **parts,
            image_shape=tuple(top.image_shape) if top.image_shape else None,
            num_classes=top.num_classes,
            vocab_size=top.vocab_size,
            source_vocab_size=top.source_vocab_size,
        )

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> RunConfig:
        try:
            raw = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise VaekitError(f"cannot read run config {path}: {err}") from None
        if not isinstance(raw, dict) or not all(isinstance(raw.get(k, {}), dict) for k in ("data", "model", "train")):
            raise VaekitError(f"run config {path} is not a vaekit config.json (an object with data, model, train)")
        try:
            return cls.from_dict(raw).check()
        except VaekitError as err:
            raise VaekitError(f"run config {path}: {err}") from None
        except TypeError as err:  # e.g. a list where a number belongs
            raise VaekitError(f"run config {path} has a value of the wrong type ({err})") from None


@dataclass(frozen=True)
class _TopLevel:
    image_shape: Any = None
    num_classes: int = 0
    vocab_size: int = 0
    source_vocab_size: int = 0


def _build(kind, values: dict[str, Any], where: str):
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise VaekitError(f"unknown key(s) {', '.join(unknown)} in {where}: known keys are {', '.join(sorted(names))}")
    # JSON has no tuples: give tuple-typed fields their type back.
    tuples = ("hidden", "channels", "log")
    fixed = {k: tuple(v) if isinstance(v, list) and k in tuples else v for k, v in values.items()}
    return kind(**fixed)
