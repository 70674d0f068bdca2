"""What a run looks like at one moment: its sample and reconstruction grids, or its sentences.

`image_figures` makes the titled grids `vaekit train` saves as samples.png and reconstructions.png
(and the trackers receive every `--log-pictures-every` epochs); `sentences_text` the few sentences a
text run samples and reconstructs, or a translation run translates, as Markdown for a tracker.
"""

from __future__ import annotations

import io

import numpy as np
import torch


@torch.no_grad()
def image_figures(
    model, x: torch.Tensor, y: torch.Tensor, num_classes: int, run: str, seed: int, split: str = "test"
) -> dict:
    """{'samples': figure, 'reconstructions': figure} of an image model (no samples without a prior).

    x, y (N, C, H, W), (N,): the images of `split` to reconstruct and their labels. A conditional model
    samples label c in column c.
    """
    from vaekit.generate.images import reconstruct, sample
    from vaekit.plots import prior_title, reconstructions_figure, samples_figure

    model.eval()
    torch.manual_seed(seed)
    conditional = bool(model.num_labels)
    k = max(1, num_classes)
    n, ncol = (k * -(-64 // k), k) if conditional else (64, 8)  # a conditional model: column c shows label c
    labels = torch.arange(n, device=x.device) % k if conditional else None
    figures = {}
    if model.has_prior:
        words = prior_title(model.prior_words) + (", column c shows label c" if conditional else "")
        figures["samples"] = samples_figure(sample(model, n, labels=labels), run, words, ncol)
    recon = reconstruct(model, x, y if conditional else None)
    figures["reconstructions"] = reconstructions_figure(x, recon, run, split)
    return figures


def figure_array(fig) -> np.ndarray:
    """A matplotlib figure as an (H, W, 3) uint8 picture (closes it)."""
    from vaekit.plots import figure_png

    return png_array(figure_png(fig))


def png_array(png: bytes) -> np.ndarray:
    """PNG bytes as an (H, W, 3) uint8 picture."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


@torch.no_grad()
def sentences_text(model, vocab, x: torch.Tensor, y: torch.Tensor, source_vocab=None, n: int = 8) -> str:
    """Markdown: a translation run's greedy translations of n sources (y) beside their references (x);
    a text run's n sentences sampled from the prior (where it has one) and its reconstructions of x[:n]."""
    from vaekit.generate.text import reconstruct_sentences, sample_sentences

    model.eval()
    if source_vocab is not None:
        from vaekit.data.text import trim_padding
        from vaekit.generate.translate import greedy

        rows = [
            f"| {source_vocab.decode(s.tolist())} | {vocab.decode(h.ids)} | {vocab.decode(t.tolist())} |"
            for s, t, h in zip(y[:n], x[:n], greedy(model, trim_padding(y[:n])))
        ]
        return "\n".join(["| source | translation (greedy) | reference |", "|---|---|---|", *rows])
    lines = []
    if model.has_prior or model.code_kind == "none":
        lines += ["**samples**", "", *(f"- {s}" for s in sample_sentences(model, vocab, n)), ""]
    if model.code_kind != "none":
        pairs = zip(x[:n], reconstruct_sentences(model, vocab, x[:n]))
        lines += ["**reconstructions** (sentence -> greedy decode of E[z|x])", ""]
        lines += [f"- {vocab.decode(s.tolist())} -> {r}" for s, r in pairs]
    return "\n".join(lines)
