"""The model registry: every model vaekit can train, listed once, in `MODELS` below.

An entry says how to build the network and which objective trains it. Adding a model is one model
file (or one objective) plus one line here; the registry-driven tests then cover it. Nothing
registers itself on import.

Options (`--set KEY=VALUE`, saved as `ModelConfig.options`) are the keyword arguments of the two
callables, and their defaults are written once, in those signatures:

    build(cfg, image_shape, num_classes, *, network options...)  -> the nn.Module
    objective(objective options...)                              -> objective(model, x, y, progress)

so a network option (a VQ-VAE's codebook size) never reaches the loss and an objective option
(beta) never reaches the network. A model whose `ModelConfig` settings should start elsewhere than
the dataclass's defaults says so in its entry's `config_defaults` (the cvae's smaller code), and
`default_config(name)` is where the CLI starts from; `data_defaults` does the same for one dataset
(the vae's network and learning rate on binarized MNIST).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vaekit.config import ModelConfig, TrainConfig
from vaekit.errors import VaekitError
from vaekit.models import plugins
from vaekit.models.ae import build_autoencoder, build_wae
from vaekit.models.family import beta_vae_objective, build_cvae, iwae_objective
from vaekit.models.hierarchical import build_hierarchical
from vaekit.models.seq2seq import TranslationNLL, build_seq2seq
from vaekit.models.text import SentenceNLL, build_language_model, build_sentence_ae, build_sentence_model
from vaekit.models.vae import build_vae
from vaekit.models.vampprior import build_vampprior
from vaekit.models.vqvae import VQLoss, build_vqvae, load_code_prior_into
from vaekit.objectives import ELBO, WAEMMD, Reconstruction


@dataclass(frozen=True)
class ModelSpec:
    build: Callable[..., Any] | None  # (ModelConfig, image_shape (C, H, W), num_classes, **network options)
    #                                   -> nn.Module; None for a model of sentences only
    objective: Callable[..., Any]  # (**objective options) -> objective(model, x, y, progress) -> LossOutput
    summary: str = ""
    load_extras: Callable[..., None] | None = None  # (model, run_dir, device): what a run holds beyond weights
    # (ModelConfig, (T,) padded sentence length, vocab_size) -> nn.Module, for text; its network
    # settings are ModelConfig fields (arch gru|lstm, hidden, embedding_dim, bidirectional, word_dropout)
    build_text: Callable[..., Any] | None = None
    # ModelConfig fields whose default differs for this model, e.g. {"latent_dim": 4}; measured, not taste
    config_defaults: Mapping[str, Any] = field(default_factory=dict)
    # (ModelConfig, (T,) padded target length, source_vocab_size, target_vocab_size, **network options)
    # -> nn.Module, for sentence pairs (translation)
    build_pairs: Callable[..., Any] | None = None
    # TrainConfig fields whose default differs for this model (seq2seq's epochs, batch and learning rate)
    train_defaults: Mapping[str, Any] = field(default_factory=dict)
    # On text (ptb or a .txt file): options and ModelConfig fields that start elsewhere than on images,
    # e.g. the sentence VAE's schedule against posterior collapse (measured: BENCHMARKS.md, issue 20)
    text_options: Mapping[str, Any] = field(default_factory=dict)
    text_config: Mapping[str, Any] = field(default_factory=dict)
    # On a named dataset, with the network they were measured with (its "arch"; mlp unless it says):
    # ModelConfig and TrainConfig fields that start elsewhere, e.g. Burda et al.'s network for binarized
    # MNIST (measured there, not taste: BENCHMARKS.md, issue 23) or the Penn Treebank's 2-hour recipe
    data_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def network_options(self) -> dict[str, Any]:
        """Keyword-only options of `build` (or of `build_pairs`) -> their defaults."""
        build = self.build or self.build_pairs
        if build is None:
            return {}
        return _keyword_defaults(build, kinds=(inspect.Parameter.KEYWORD_ONLY,))

    @property
    def objective_options(self) -> dict[str, Any]:
        """Options of the objective factory -> their defaults."""
        return _keyword_defaults(
            self.objective, kinds=(inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        )

    @property
    def options(self) -> dict[str, Any]:
        """Every option of the model (network and objective) -> its default."""
        return {**self.network_options, **self.objective_options}


def _keyword_defaults(fn: Callable, kinds: tuple) -> dict[str, Any]:
    params = inspect.signature(fn).parameters.values()
    return {p.name: p.default for p in params if p.kind in kinds and p.default is not inspect.Parameter.empty}


# The sentence VAE's defaults on text (BENCHMARKS.md, "Sentence VAEs that use z at their defaults"):
# a KL warm-up over 2 epochs, free bits (a floor of 0.2 nats per latent) and word dropout 0.3 kept
# z in use where the image defaults collapsed; Li et al.'s pretraining (pretrain_epochs) stays an option.
SENTENCE_VAE_OPTIONS = {"warmup_epochs": 2.0, "free_bits": 0.2}
SENTENCE_VAE_CONFIG = {"word_dropout": 0.3}

# On the Penn Treebank, the recipe that did best per CPU-hour (BENCHMARKS.md, "GRU 512 / encoder 256
# in bf16" and "Tied word vectors at two hours"): a wider decoder held back by dropout 0.5 on its
# word vectors and outputs, its output matrix the 512-dim word vectors (Press & Wolf 2017: test NLL
# 2.2 nats below the adaptive softmax over untied 256-dim vectors at two hours, perplexity 97.45),
# batches of 128 at Adam 2e-3 decaying to 1e-4 over a 2-hour clock. The VAE adds a smaller encoder
# and no word dropout (free bits keep z in use); the LM is the same decoder, its baseline at the
# same budget.
PTB_DECODER = {
    "arch": "gru",
    "hidden": (512,),
    "embedding_dim": 512,
    "tie_embeddings": True,
    "dropout": 0.5,
    "embedding_dropout": 0.5,
    "batch_size": 128,
    "lr": 2e-3,
    "lr_end": 1e-4,
    "grad_clip": 5.0,
    "time_budget": 7200.0,
    "epochs": 1000,
    # not for short clocks: at `--time 8m` the text defaults were 5 nats better (113.42 against 118.60)
    "min_time_budget": 3600.0,
}
PTB_SENTENCE_VAE = {**PTB_DECODER, "encoder_hidden": 256, "word_dropout": 0.0}

MODELS: dict[str, ModelSpec] = {
    "vae": ModelSpec(
        build_vae,
        ELBO,
        "variational autoencoder trained on the ELBO (Kingma & Welling 2013)",
        build_text=build_sentence_model,
        text_options=SENTENCE_VAE_OPTIONS,
        text_config=SENTENCE_VAE_CONFIG,
        # 784-300-300-40 ELU at Adam 3e-3: 88.58 nats in 5 minutes against 92.07 for the image defaults
        data_defaults={
            "binarized-mnist": {"hidden": (300, 300), "activation": "elu", "latent_dim": 40, "lr": 3e-3},
            "ptb": PTB_SENTENCE_VAE,
        },
    ),
    "ae": ModelSpec(
        build_autoencoder,
        Reconstruction,
        "deterministic autoencoder, reconstruction loss; --set noise=0.3 makes it denoising "
        "(corruption=gaussian or mask); no prior: sample with --prior gmm:K",
        build_text=build_sentence_ae,
    ),
    "beta-vae": ModelSpec(
        build_vae,
        beta_vae_objective,
        "beta-VAE: KL weighted by beta (Higgins et al. 2017); --set capacity_max=25 for capacity "
        "annealing (Burgess et al. 2018)",
        build_text=build_sentence_model,
    ),
    "cvae": ModelSpec(
        build_cvae,
        ELBO,
        "conditional VAE: q(z|x,y), p(x|z,y) and a learned prior p(z|y) (Sohn et al. 2015); the label "
        "enters every decoder layer (--set label_layers=input: the first only), --set prior=standard "
        "for N(0, I); sample with --label L",
        config_defaults={"latent_dim": 4},  # the label carries the class, z the style: see BENCHMARKS.md
    ),
    "iwae": ModelSpec(
        build_vae,
        iwae_objective,
        "importance-weighted autoencoder: the VAE trained on the k-sample bound (Burda et al. 2015)",
        build_text=build_sentence_model,
    ),
    "wae": ModelSpec(
        build_wae, WAEMMD, "Wasserstein autoencoder, MMD penalty with IMQ kernels (Tolstikhin et al. 2017)"
    ),
    "vampprior": ModelSpec(
        build_vampprior,
        ELBO,
        "VAE with a VampPrior: p(z) a mixture of q(z|u_k) at learned pseudo-inputs (Tomczak & "
        "Welling 2018); --set pseudo_inputs=K",
    ),
    "hvae": ModelSpec(
        build_hierarchical,
        ELBO,
        "VAE with two stochastic layers, x -> z1 -> z2 (Burda et al. 2015): --latent-dim is z1's size, "
        "--set top_dim=50 z2's, --set top_hidden=100,100 the layers between them",
    ),
    "hiwae": ModelSpec(
        build_hierarchical,
        iwae_objective,
        "the two-stochastic-layer VAE trained on the k-sample importance-weighted bound (Burda et al. 2015); "
        "--set late_k=K raises k to K for the run's last quarter (late_from=0.75)",
    ),
    "vqvae": ModelSpec(
        build_vqvae,
        VQLoss,
        "VQ-VAE: discrete code grid, EMA or learned codebook (van den Oord et al. 2017); "
        "sample after 'vaekit train-prior'",
        load_extras=load_code_prior_into,
    ),
    "lm": ModelSpec(
        None,
        SentenceNLL,
        "recurrent language model: the sentence VAE's decoder with no z, the baseline for text",
        build_text=build_language_model,
        data_defaults={"ptb": PTB_DECODER},
    ),
    "seq2seq": ModelSpec(
        None,
        TranslationNLL,
        "encoder-decoder for sentence pairs (translation): GRU/LSTM encoder and decoder; "
        "--attention none (the final state only, Cho et al. 2014), dot (Luong et al. 2015) or additive "
        "(Bahdanau et al. 2015); train with --data fra-eng or pairs.tsv, then 'vaekit translate RUN'",
        build_pairs=build_seq2seq,
        # about 15 minutes on one core, the learning rate decaying to a tenth over them: BENCHMARKS.md
        train_defaults={"time_budget": 900.0, "epochs": 1000, "batch_size": 64, "lr": 2e-3},
    ),
}


def default_config(name: str, text: bool = False) -> ModelConfig:
    """The ModelConfig a model starts from: the dataclass's defaults, then its entry's config_defaults
    (and on text its text_config); a model from outside vaekit records the import path it comes from
    (`plugin`)."""
    spec = get_spec(name)
    plugin = None if name in MODELS else plugins.import_path(name)
    return dataclasses.replace(
        ModelConfig(name=name, plugin=plugin), **spec.config_defaults, **(spec.text_config if text else {})
    )


def data_defaults(
    name: str, data: str, arch: str, time_budget: float | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(ModelConfig fields, TrainConfig fields) that model `name` starts elsewhere on dataset `data`
    (its entry's data_defaults); only for the network they were measured with (their "arch", mlp
    unless they name one) and, where they say a "min_time_budget", not under a shorter --time."""
    values = dict(get_spec(name).data_defaults.get(data, {}))
    least = values.pop("min_time_budget", None)
    if values.get("arch", "mlp") != arch or (None not in (least, time_budget) and time_budget < least):
        return {}, {}
    model = {k: v for k, v in values.items() if k in ModelConfig.__dataclass_fields__}
    return model, {k: v for k, v in values.items() if k not in model}


def default_train_config(name: str) -> TrainConfig:
    """The TrainConfig a model starts from: the dataclass's defaults, then its entry's train_defaults."""
    return dataclasses.replace(TrainConfig(), **get_spec(name).train_defaults)


def get_spec(name: str, plugin: str | None = None) -> ModelSpec:
    """The entry of a model: built in (MODELS), else imported from `plugin` or the import path the
    name stands for (an installed entry point, or package.module:build_fn itself; see plugins.py)."""
    if name in MODELS and plugin is None:
        return MODELS[name]
    path = plugin or plugins.import_path(name)
    if path is None:
        raise VaekitError(
            f"unknown model {name!r}: choose one of {', '.join(model_names())}, or name your own "
            "build function as package.module:build_fn"
        )
    return _plugin_spec(path, name)


def spec_of(cfg: ModelConfig) -> ModelSpec:
    """The entry of the model a ModelConfig names (and, for a model from outside vaekit, imports)."""
    return get_spec(cfg.name, cfg.plugin)


@functools.cache
def _plugin_spec(path: str, name: str) -> ModelSpec:
    made = plugins.load(path, name)
    if isinstance(made, ModelSpec):
        return made
    if not callable(made):
        raise VaekitError(f"model {name!r}: {path} is a {type(made).__name__}, not a build function or a ModelSpec")
    summary = (inspect.getdoc(made) or "").partition("\n")[0]
    return ModelSpec(plugins.pair_build(made), ELBO, summary or f"{path} (your own model)")


def model_names() -> list[str]:
    """The built-in models, then those that installed packages register (entry points vaekit.models)."""
    return [*MODELS, *(name for name in plugins.entry_points() if name not in MODELS)]


def resolve_options(name: str, given: dict[str, Any], text: bool = False, plugin: str | None = None) -> dict[str, Any]:
    """The model's options: its defaults (on text, with its text_options) overridden by `given`;
    unknown names are errors."""
    spec = get_spec(name, plugin)
    defaults = {**spec.options, **(spec.text_options if text else {})}
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        known = ", ".join(defaults) or "none"
        raise VaekitError(f"option(s) {', '.join(unknown)} do not apply to model {name!r} (its options: {known})")
    return {**defaults, **given}


def build_model(cfg, image_shape, num_classes: int, vocab_size: int = 0, source_vocab_size: int = 0):
    """The network for a ModelConfig, on the CPU, in float32; for sentences when vocab_size > 0
    (then `image_shape` is (T,), the padded sentence length), for sentence pairs when
    source_vocab_size > 0 too (vocab_size is then the target's)."""
    spec = spec_of(cfg)
    text_only = cfg.tie_embeddings or cfg.softmax != "adaptive" or cfg.embedding_dropout or cfg.weight_drop
    if (text_only or cfg.encoder_hidden) and (source_vocab_size or not vocab_size):
        raise VaekitError(
            "--tie-embeddings, --softmax, --embedding-dropout, --weight-drop and --encoder-hidden are for the "
            "sentence models "
            "on text (vae, ae, iwae, beta-vae, lm): drop them here"
        )
    if source_vocab_size:
        if spec.build_pairs is None:
            raise VaekitError(
                f"model {cfg.name!r} does not train on sentence pairs: choose one of {', '.join(pair_models())}"
            )
        options = resolve_options(cfg.name, cfg.options, plugin=cfg.plugin)
        network = {k: options[k] for k in spec.network_options}
        return spec.build_pairs(cfg, image_shape, source_vocab_size, vocab_size, **network)
    if spec.build_pairs is not None and spec.build_text is None and spec.build is None:
        raise VaekitError(f"model {cfg.name!r} translates sentence pairs: train it with --data fra-eng or FILE.tsv")
    if vocab_size:
        if spec.build_text is None:
            raise VaekitError(f"model {cfg.name!r} does not work on text: choose one of {', '.join(text_models())}")
        return spec.build_text(cfg, image_shape, vocab_size)
    if spec.build is None:
        raise VaekitError(f"model {cfg.name!r} works on sentences only: train it with --data ptb or --data FILE.txt")
    if cfg.arch in ("gru", "lstm"):
        raise VaekitError(f"--arch {cfg.arch} is for text (--data ptb or a .txt file): use mlp or conv for images")
    options = resolve_options(cfg.name, cfg.options, plugin=cfg.plugin)
    return spec.build(cfg, image_shape, num_classes, **{k: options[k] for k in spec.network_options})


def image_models() -> list[str]:
    """Names of the models that train on images."""
    return [name for name, spec in MODELS.items() if spec.build is not None]


def text_models() -> list[str]:
    """Names of the models that train on sentences."""
    return [name for name, spec in MODELS.items() if spec.build_text is not None]


def pair_models() -> list[str]:
    """Names of the models that train on sentence pairs."""
    return [name for name, spec in MODELS.items() if spec.build_pairs is not None]


def build_objective(cfg):
    """The objective for a ModelConfig, with its options."""
    spec = spec_of(cfg)
    options = resolve_options(cfg.name, cfg.options, plugin=cfg.plugin)
    return spec.objective(**{k: options[k] for k in spec.objective_options})
