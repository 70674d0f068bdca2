"""The report's first section: what the run is (its configuration) and how well it does (its numbers)."""

from __future__ import annotations

import json
from pathlib import Path

from vaekit.report.context import ReportContext
from vaekit.report.html import Figure, Section


def _flat(prefix: str, value) -> list[tuple[str, str]]:
    """A nested config dict as ('model.latent_dim', '32') rows."""
    if isinstance(value, dict):
        rows = []
        for k, v in value.items():
            rows += _flat(f"{prefix}.{k}" if prefix else str(k), v)
        return rows or [(prefix, "{}")]
    if isinstance(value, (list, tuple)):
        return [(prefix, ", ".join(str(v) for v in value))]
    return [(prefix, "none" if value is None else str(value))]


def _number(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.6g}"
    return str(v)


# Burda et al.'s test, not the KL test of the report's KL-per-latent figure: say which.
ACTIVE_UNITS = "active latents: Var over these images of E[z_d|x] > 0.01 (Burda et al.; not the figure's KL test)"

MEASURES = {  # what evaluate() returns, in words
    "elbo": "ELBO (nats per image; higher is better)",
    "nll": "-log p(x), importance-sampled (nats; lower is better)",
    "recon": "reconstruction term -E[log p(x|z)] (nats)",
    "kl": "KL(q(z|x) || p(z)) (nats)",
    "bits_per_dim": "bits per pixel",
    "active_units": ACTIVE_UNITS,
    "mse": "mean squared error per pixel",
    "sse": "squared error per image",
    "bce": "binary cross-entropy per image (nats)",
    "mmd": "MMD^2 between codes and N(0, I)",
    "perplexity": "codebook perplexity (codes in effective use)",
    "codes_used": "codes used by the test images",
    "usage": "share of the codebook used",
    "prior_nll": "-log p(codes) under the code prior (nats)",
    "nll_bound": "upper bound on -log p(x) (nats)",
    "k": "importance samples per image (K)",
    "n": "test images evaluated",
}


TEXT_MEASURES = {  # what evaluate_sentences() returns, in words
    "elbo": "ELBO (nats per sentence; higher is better)",
    "nll": "-log p(x) (nats per sentence; lower is better)",
    "recon": "reconstruction term -E[log p(x|z)] (nats per sentence)",
    "kl": "KL(q(z|x) || p(z)) (nats per sentence)",
    "perplexity": "perplexity per token (words and <eos>), from -log p(x)",
    "elbo_perplexity": "perplexity per token from -ELBO (an upper bound)",
    "recon_perplexity": "perplexity per token of -log p(x|f(x))",
    "active_units": ACTIVE_UNITS,
    "k": "importance samples per sentence (K)",
    "n": "test sentences evaluated",
    "tokens": "predicted tokens (words and <eos>)",
    "words": "words",
}


def run_section(ctx: ReportContext) -> Section:
    from vaekit.eval import code_use
    from vaekit.eval.likelihood import evaluate
    from vaekit.eval.text import evaluate_sentences

    cfg = ctx.cfg
    section = Section(
        "run", "The run", f"What was trained, on what, and how well it does on test {ctx.item}s it never saw."
    )
    section.tables.append(("The model", _text_model_rows(ctx) if ctx.is_text else _model_rows(ctx)))
    names = TEXT_MEASURES if ctx.is_text else MEASURES
    history = ctx.history
    if history:
        last = history[-1]
        rows = [("epochs trained", str(last["epoch"]))]
        if ctx.best is not None:
            rows.append(("best validation loss (nats)", f"{ctx.best[1]:.4g} at epoch {ctx.best[0]}"))
        rows += [
            (name.replace("_", " ") + " (last epoch)", _number(v))
            for name, v in last.items()
            if name.startswith(("train_", "val_"))
        ]
        seconds = sum(r.get("seconds", 0.0) for r in history)
        rows.append(("training time", f"{seconds:.1f} s"))
        section.tables.append(("Training (metrics.json)", rows))
    if ctx.is_text:
        results = evaluate_sentences(ctx.model, ctx.x, k=ctx.counts.iw_samples, seed=ctx.seed)
    else:
        results = evaluate(ctx.model, ctx.x, ctx.y_model, k=ctx.counts.iw_samples, seed=ctx.seed)
    section.tables.insert(
        1,
        (
            f"Test measures of the {ctx.which} checkpoint",
            [(names.get(k, k), _number(v)) for k, v in results.items()],
        ),
    )
    use = code_use.from_results(results, code_use.code_size(ctx.model, cfg), ctx.is_text)
    if use is not None and use.collapsed:
        section.warnings.append(use.warning())
    section.folded.append(("Every setting (config.json)", _flat("", cfg.to_dict())))
    for path, saved in _saved_evaluations(ctx.run_dir):
        rows = [(names.get(k, k), _number(v)) for k, v in saved.items() if not isinstance(v, (dict, list))]
        section.tables.append((f"Saved by vaekit eval ({path.name})", rows))
    return section


def _model_rows(ctx: ReportContext) -> list[tuple[str, str]]:
    """The few facts that say what the run is, in words."""
    from vaekit.models import MODELS

    cfg = ctx.cfg
    spec = MODELS.get(cfg.model.name)
    params = sum(p.numel() for p in ctx.model.parameters())
    rows = [
        ("model", f"{cfg.model.name}: {spec.summary}" if spec is not None and spec.summary else cfg.model.name),
        (
            "data",
            f"{cfg.data.name}, images {'x'.join(str(s) for s in cfg.image_shape or ())}"
            + (f", {cfg.num_classes} classes" if cfg.num_classes else ""),
        ),
        (
            "latent code",
            _code_dimensions(ctx.model, cfg)
            if not ctx.discrete
            else f"a {ctx.model.code_grid.words()} grid of codes from a codebook of "
            f"{ctx.model.code_grid.num_codes} vectors of {cfg.model.latent_dim} dimensions",
        ),
        ("networks", f"{cfg.model.arch}, {cfg.model.activation}, {params:,} parameters"),
        ("likelihood p(x|z)", cfg.model.likelihood),
    ]
    options = ", ".join(f"{k}={v}" for k, v in cfg.model.options.items())
    if options:
        rows.append(("options", options))
    return rows


def _code_dimensions(model, cfg) -> str:
    """'60 dimensions (z1 40, z2 20)' for a two-layer code, '32 dimensions' otherwise."""
    from vaekit.eval import code_use

    total = code_use.code_size(model, cfg)
    layers = getattr(model, "z1_dim", None), getattr(model, "z2_dim", None)
    return f"{total} dimensions" + (f" (z1 {layers[0]}, z2 {layers[1]})" if None not in layers else "")


def _text_model_rows(ctx: ReportContext) -> list[tuple[str, str]]:
    """What a sentence model is, in words."""
    from vaekit.data import TextOptions
    from vaekit.models import MODELS

    cfg, m = ctx.cfg, ctx.cfg.model
    spec = MODELS.get(m.name)
    params = sum(p.numel() for p in ctx.model.parameters())
    unit = "word" if cfg.data.tokens == "word" else "character"
    hidden = ",".join(str(h) for h in m.hidden)
    rows = [
        ("model", f"{m.name}: {spec.summary}" if spec is not None and spec.summary else m.name),
        (
            "data",
            f"{cfg.data.name}: sentences of {unit}s, a vocabulary of {cfg.vocab_size:,} tokens, "
            f"at most {TextOptions.of_run(cfg.data).limit()} {unit}s a sentence",
        ),
        (
            "latent code",
            f"{m.latent_dim} dimensions"
            if ctx.has_code
            else "none: a language model p(x) = prod_t p(x_t | x_<t) has no z (samples only)",
        ),
        (
            "networks",
            (
                f"{m.arch}: decoder of {hidden} units, encoder of {m.encoder_hidden}"
                if m.encoder_hidden
                else f"{m.arch} of {hidden} units"
            )
            + f", word vectors of {m.embedding_dim}, {params:,} parameters",
        ),
        (
            "likelihood p(x|z)" if ctx.has_code else "likelihood p(x)",
            "a softmax over the vocabulary at every step, given the words before (autoregressive)",
        ),
    ]
    options = ", ".join(f"{k}={v}" for k, v in m.options.items())
    if options:
        rows.append(("options", options))
    return rows


def _saved_evaluations(run_dir: Path) -> list[tuple[Path, dict]]:
    """Results files that `vaekit eval` left in the run (eval*.json), read as plain JSON."""
    found = []
    for path in sorted(Path(run_dir).glob("eval*.json"))[:6]:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            found.append((path, data))
    return found


def curves_section(ctx: ReportContext) -> Section:
    from vaekit.plots import curves_figure, figure_png

    section = Section(
        "curves",
        "Training curves",
        f"The loss and its terms per epoch, on the training {ctx.item}s and on the validation "
        f"{ctx.item}s; a validation curve that rises while training falls is overfitting.",
    )
    if not ctx.history:
        section.missing = "metrics.json has no finished epoch"
        return section
    fig = curves_figure(ctx.history, f"{ctx.run}: training curves", per=ctx.item)
    section.figures.append(Figure(figure_png(fig), f"per-epoch means over the training and the validation {ctx.item}s"))
    return section
