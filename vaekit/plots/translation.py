"""Pictures of a translation model: where it looked (attention maps) and how BLEU falls with length."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np


def attention_figure(maps: Sequence, sources: Sequence[Sequence[str]], targets: Sequence[Sequence[str]], title: str):
    """One labelled heat map per sentence: source tokens across (with <eos>), target tokens down
    (with <eos>); cell (t, j) is the weight the decoder gave source token j when writing target token t."""
    n = len(maps)
    widths = [max(2.6, 0.42 * len(s) + 1.4) for s in sources]
    height = max(max(0.36 * len(t) + 1.6, 2.6) for t in targets)
    fig, axes = plt.subplots(
        1, n, figsize=(sum(widths) + 1.6, height), squeeze=False, dpi=100, width_ratios=widths, layout="constrained"
    )
    image = None
    for k, (ax, weights, src, tgt) in enumerate(zip(axes[0], maps, sources, targets)):
        w = np.asarray(weights, dtype=float)  # (T, S)
        image = ax.imshow(w, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(w.shape[1]), [*src, "<eos>"][: w.shape[1]], rotation=60, ha="right", fontsize=9)
        ax.set_yticks(range(w.shape[0]), [*tgt, "<eos>"][: w.shape[0]], fontsize=9)
        ax.set_xlabel("source (read)", fontsize=9)
        if k == 0:
            ax.set_ylabel("translation (written)", fontsize=9)
        ax.tick_params(length=0)
    fig.colorbar(image, ax=axes[0].tolist(), fraction=0.03, label="attention weight")
    fig.suptitle(title, fontsize=11)
    return fig


def bleu_by_length_figure(rows: Sequence[dict], title: str, labels: Sequence[str] | None = None):
    """Corpus BLEU per bucket of source lengths: `rows` is one list of {'source_tokens', 'sentences',
    'bleu'} per model (as `vaekit.eval.translation.bleu_by_length` gives), `labels` names them."""
    groups = [rows] if rows and isinstance(rows[0], dict) else list(rows)
    labels = list(labels or ["BLEU"] * len(groups))
    buckets = [r["source_tokens"] for r in groups[0]]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(buckets) * len(groups) + 2), 3.6), dpi=100)
    width = 0.8 / len(groups)
    for k, (group, label) in enumerate(zip(groups, labels)):
        xs = np.arange(len(group)) + (k - (len(groups) - 1) / 2) * width
        ax.bar(xs, [r["bleu"] for r in group], width, label=label)
    ax.set_xticks(range(len(buckets)), [f"{b}\n({r['sentences']})" for b, r in zip(buckets, groups[0])], fontsize=9)
    ax.set_xlabel("source length in tokens (sentences)")
    ax.set_ylabel("corpus BLEU")
    ax.set_ylim(0, 100)
    ax.grid(axis="y", alpha=0.3)
    if len(groups) > 1:
        ax.legend()
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig
