"""Run configuration: three frozen dataclasses, saved beside every checkpoint as JSON.

Each dataclass owns its defaults. The CLI maps its flags onto them; `from_dict` rejects unknown
keys so a typo in a saved or hand-written config is an error, not a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaekit.errors import VaekitError
from vaekit.io import atomic_write_text


@dataclass(frozen=True)
class DataConfig:
    name: str = "digits"  # a registry name (vaekit.data.DATASETS) or a path to a folder / .npy / .npz
    data_dir: str | None = None  # where dataset files live; None: $VAEKIT_DATA_DIR or the user cache
    image_size: int | None = None  # resize user images to this square size
    # Text (ptb or a .txt file; see vaekit.data.text)
    tokens: str = "word"  # word | char
    vocab_size: int | None = None  # keep at most this many tokens of the training split (None: all)
    min_count: int = 1  # keep tokens seen at least this often in the training split
    max_length: int | None = None  # tokens per sentence (None: 100 words / 400 characters)
    long_lines: str = "skip"  # what happens to longer sentences: skip | cut
    # Tokenizer (vaekit.data.tokenize); None: the data's default (sentence pairs: on; text: off)
    lower: bool | None = None  # lower-case
    split_punct: bool | None = None  # punctuation marks as tokens of their own
    # Sentence pairs (fra-eng or a .tsv file; see vaekit.data.pairs)
    reverse: bool = False  # translate from the second column into the first


@dataclass(frozen=True)
class ModelConfig:
    name: str = "vae"  # a key of vaekit.models.MODELS
    arch: str = "mlp"  # mlp | conv, or gru | lstm for text
    hidden: tuple[int, ...] = (512, 256)  # MLP hidden sizes (encoder order; the decoder mirrors them); RNN: per layer
    channels: tuple[int, ...] = (32, 64)  # conv channels per stride-2 layer
    block: str | None = None  # conv only: None (4x4 stride-2 layers) | plain | repvgg | acnet (3x3 blocks)
    fused: bool = False  # the blocks already fused into plain 3x3 convolutions (`vaekit export --fuse`)
    activation: str = "relu"
    latent_dim: int = 32
    likelihood: str = "auto"  # bernoulli | gaussian | auto (the one that suits the data)
    gaussian_variance: str = "pixel"  # pixel (decoder outputs a scale per pixel) | global
    # Text networks (vaekit.nn.recurrent)
    embedding_dim: int = 256  # word vectors
    bidirectional: bool = False  # a bidirectional encoder
    word_dropout: float = 0.0  # replace decoder input words by <unk> with this probability (Bowman et al. 2016)
    dropout: float = 0.0  # dropout on the decoder's states before the softmax
    options: dict[str, Any] = field(default_factory=dict)  # model/objective options, e.g. beta, k


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 50
    batch_size: int = 100
    lr: float = 1e-3
    lr_end: float | None = None  # decay the learning rate log-linearly to this by the last epoch (or the budget's end)
    time_budget: float | None = None  # seconds of training; epochs become a cap, the lr schedule runs over the time
    grad_clip: float | None = None  # clip the global gradient norm to this
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    log_every: int = 50  # steps between progress updates: the only host syncs in the loop
    eval_every: int = 1  # epochs between validation + checkpoint (and always after the last)
    precision: str = "float32"  # float32 | tf32 | bf16 (autocast); see vaekit.precision
    compile: bool = False  # torch.compile the objective
    cuda_graph: bool = True  # on a GPU, capture the whole step in one CUDA graph (falls back if it cannot)


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
        m, t = self.model, self.train
        counts = [
            ("train.epochs (--epochs)", t.epochs),
            ("train.batch_size (--batch-size)", t.batch_size),
            ("model.latent_dim (--latent-dim)", m.latent_dim),
            ("train.log_every (--log-every)", t.log_every),
            ("train.eval_every (--eval-every)", t.eval_every),
            *(("model.hidden (--hidden)", h) for h in m.hidden),
            *(("model.channels (--channels)", c) for c in m.channels),
        ]
        if self.data.image_size is not None:
            counts.append(("data.image_size (--image-size)", self.data.image_size))
        for name, value in counts:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise VaekitError(f"{name} must be a whole number of at least 1, got {value!r}")
        for name, value in (
            ("train.lr (--lr)", t.lr),
            ("train.lr_end (--lr-end)", t.lr_end),
            ("train.grad_clip (--grad-clip)", t.grad_clip),
        ):
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise VaekitError(f"{name} must be a finite number above 0, got {value!r}")
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
    fixed = {k: tuple(v) if isinstance(v, list) and k in ("hidden", "channels") else v for k, v in values.items()}
    return kind(**fixed)
