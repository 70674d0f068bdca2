"""The report of a translation run (`vaekit train seq2seq`): its numbers, test translations beside
their references, attention maps and BLEU by source length.

The test measures are `vaekit.eval.translation`'s (BLEU and chrF by sacrebleu against every
reference, the exact NLL), on the first `limit` test source sentences, decoded by beam search.
"""

from __future__ import annotations

from pathlib import Path

import torch

from vaekit.report.html import Figure, Section, TextTable

ARTICLE = "They are watching."  # the articles' own example, shown first when the run reads English
SHOWN = 25  # test translations in the table
MAPS = 3  # test sentences drawn as attention maps, besides the article's


def translation_sections(
    run_dir: Path, which: str, device: str, data_dir, limit: int, seed: int, progress=None
) -> tuple[str, list[Section]]:
    """(the run in words, the report's sections) for a translation run."""
    from vaekit.data import load_dataset
    from vaekit.data.pairs import PairOptions
    from vaekit.eval.translation import evaluate_translation
    from vaekit.generate.translate import Translator
    from vaekit.plots import run_title
    from vaekit.train import load_run, resolve_device
    from vaekit.train.metrics import read_metrics

    dev = resolve_device(device)
    torch.manual_seed(seed)
    model, cfg = load_run(run_dir, which, dev)
    translator = Translator.of_run(model, cfg, run_dir)
    options = PairOptions.of_run(cfg.data, run_dir)
    data = load_dataset(cfg.data.name, data_dir or cfg.data.data_dir, pairs=options)
    info = data.pairs
    keep = info.test_group < limit
    sentences, refs = info.test_sources[:limit], info.test_references[:limit]
    result, done = evaluate_translation(
        translator, data.test_x[keep].to(dev), data.test_y[keep].to(dev), sentences, refs
    )
    run = run_title(cfg.model.name, Path(cfg.data.name).name, which)
    history = read_metrics(run_dir)["epochs"]
    sections = [
        _run_section(cfg, model, history, result, data.notes),
        _translations_section(done, refs),
        _attention_section(translator, done, run, dev),
        _length_section(result, run),
        _curves_section(history, run),
    ]
    return run, sections


def _run_section(cfg, model, history, result, notes: str) -> Section:
    from vaekit.models import MODELS

    m = cfg.model
    params = sum(p.numel() for p in model.parameters())
    both = ", bidirectional encoder" if m.bidirectional else ""
    section = Section("run", "The run", "What was trained, on what, and how well it translates test sentences.")
    section.tables.append(
        (
            "The model",
            [
                ("model", f"{m.name}: {MODELS[m.name].summary}"),
                ("data", f"{cfg.data.name}{' (reversed)' if cfg.data.reverse else ''}: {notes}"),
                ("attention", str(m.options.get("attention"))),
                (
                    "networks",
                    f"{m.arch} of {','.join(map(str, m.hidden))} units{both}, word vectors of "
                    f"{m.embedding_dim}, {params:,} parameters",
                ),
            ],
        )
    )
    section.tables.append(
        (
            f"Test measures ({result['sentences']} source sentences, "
            f"beam {result['decoding']['beam']}, alpha {result['decoding']['alpha']:g})",
            [
                ("BLEU (all references)", f"{result['bleu']:.2f}  [{result['bleu_signature']}]"),
                ("chrF", f"{result['chrf']:.2f}  [{result['chrf_signature']}]"),
                ("-log p(y|x), nats per sentence (exact)", f"{result['nll']:.3f}"),
                ("perplexity per token", f"{result['perplexity']:.3f} ({result['perplexity_counts']})"),
                ("exact matches", f"{result['exact_match']:.2%}"),
                ("source tokens unknown (<unk>)", f"{result['unknown_source_tokens']:.2%}"),
            ],
        )
    )
    if history:
        best = min(history, key=lambda r: r["val_loss"])
        section.tables.append(
            (
                "Training (metrics.json)",
                [
                    ("epochs trained", str(history[-1]["epoch"])),
                    ("best validation -log p(y|x)", f"{best['val_loss']:.3f} nats at epoch {best['epoch']}"),
                    ("training time", f"{history[-1].get('elapsed', 0.0) / 60:.1f} min"),
                ],
            )
        )
    section.folded.append(("Every setting (config.json)", [(k, str(v)) for k, v in _flat(cfg.to_dict())]))
    return section


def _flat(d: dict, prefix: str = ""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _flat(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def _translations_section(done, refs) -> Section:
    section = Section(
        "translations",
        "Test translations",
        "Source sentences the model never saw in training, its translation (beam search) and every "
        "reference translation of the data; ✓ marks a translation equal to one of them.",
    )
    rows = [
        [
            " ".join(t.source_tokens),
            " ".join(t.tokens),
            " | ".join(" ".join(r) for r in rr),
            "✓" if t.tokens in rr else "",
        ]
        for t, rr in zip(done[:SHOWN], refs[:SHOWN])
    ]
    section.texts.append(
        TextTable(f"the first {len(rows)} test sentences", ["source", "translation", "references", ""], rows)
    )
    return section


def _attention_section(translator, done, run: str, device) -> Section:
    from vaekit.plots import attention_figure, figure_png

    section = Section(
        "attention",
        "Where the decoder looked",
        "Attention weights while writing each translation: one row per word written (and <eos>), one "
        "column per source word read (and <eos>); dark is where the decoder looked.",
    )
    if translator.model.attention is None:
        section.missing = (
            "this model has no attention (attention=none): the decoder sees only the encoder's final state, "
            "one vector of fixed size, whatever the sentence's length"
        )
        return section
    chosen = [t for t in done if 4 <= len(t.source_tokens) <= 9][:MAPS]
    article = translator.translate([ARTICLE], device=device)[0] if translator.english_source else None
    shown = [t for t in [article, *chosen] if t is not None and t.hypothesis is not None]
    fig = attention_figure(
        [t.hypothesis.attention for t in shown],
        [t.source_tokens for t in shown],
        [t.tokens for t in shown],
        f"{run}: attention weights",
    )
    words = f"the articles' example “{ARTICLE}” and " if article is not None else ""
    section.figures.append(Figure(figure_png(fig), f"{words}{len(chosen)} test sentences"))
    return section


def _length_section(result, run: str) -> Section:
    from vaekit.plots import bleu_by_length_figure, figure_png

    section = Section(
        "length",
        "BLEU by source length",
        "Corpus BLEU of the test sentences of each source length (in tokens, punctuation included): "
        "how translation quality holds up as sentences grow.",
    )
    fig = bleu_by_length_figure(result["bleu_by_length"], f"{run}: BLEU by source length")
    section.figures.append(Figure(figure_png(fig), "number of test sentences in brackets"))
    return section


def _curves_section(history, run: str) -> Section:
    from vaekit.plots import curves_figure, figure_png

    section = Section("curves", "Training curves", "-log p(y|x) per sentence pair, training and validation, per epoch.")
    if not history:
        section.missing = "metrics.json has no finished epoch"
        return section
    fig = curves_figure(history, f"{run}: training curves", per="sentence")
    section.figures.append(Figure(figure_png(fig), "per-epoch means over the training and validation pairs"))
    return section
