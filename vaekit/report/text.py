"""The report's sections for a run trained on sentences: samples, reconstructions, homotopies, codes.

The sentences come from `vaekit.generate.text` (the same as `vaekit sample`, `reconstruct` and
`interpolate` print), decoded greedily (the most likely word at every step) unless a temperature
is named. A language model (`lm`) has no latent code z: it only draws sentences, and the sections
about z say so. KL per latent is the image report's own section (`sections.latent_use_section`).
"""

from __future__ import annotations

import torch

from vaekit.errors import VaekitError
from vaekit.report.context import ReportContext
from vaekit.report.html import Figure, Section, TextTable

SAMPLES = 8  # codes drawn for the sample table
TEMPERATURES = (1.0, 0.7)
RECONSTRUCTIONS = 10
PAIRS, STEPS = 3, 7  # homotopies: pairs of test sentences, steps from one to the other (ends included)
PAIR_WORDS = (4, 16)  # words in the sentences chosen for homotopies: short ones read best (Bowman et al.)
NO_CODE = (
    "a language model (lm) has no latent code z: it models p(x) = prod_t p(x_t | x_<t) directly, so it "
    "only draws sentences (see the samples); train vae, beta-vae, iwae or ae for a code"
)


def text_samples_section(ctx: ReportContext) -> Section:
    from vaekit.generate.text import READABLE, decode_texts

    section = Section(
        "samples",
        "Sample sentences",
        "New sentences. For each row a code z is drawn from the prior N(0, I) and decoded three ways: "
        "greedily (the most likely word at each step: the typical sentence of that z), and by drawing "
        "each word at temperature 1 (the model's own distribution) and 0.7 (more typical, less varied).",
    )
    model = ctx.model
    torch.manual_seed(ctx.seed)
    with torch.no_grad():
        if ctx.has_code:
            try:
                z = model.prior().sample((SAMPLES,)).to(ctx.device)
            except VaekitError as err:  # the sentence autoencoder: no prior
                section.missing = str(err)
                return section
            p = model.decode(z)
        else:
            p = model.distribution(SAMPLES)
        columns = [decode_texts(ctx.vocab, p.sample(temperature=t)) for t in TEMPERATURES]
        greedy = decode_texts(ctx.vocab, p.greedy(**READABLE.kwargs()))
    heads = [f"drawn at temperature {t:g}" for t in TEMPERATURES]
    if ctx.has_code:
        rows = [[str(i + 1), g, *(c[i] for c in columns)] for i, g in enumerate(greedy)]
        header = ["z", "greedy decode", *heads]
    else:
        section.intro = (
            "New sentences drawn from the language model p(x), one word at a time, at temperature 1 (the "
            "model's own distribution) and 0.7 (more typical, less varied). It has no latent code z: "
            f"its greedy decode is always the same sentence: \u201c{greedy[0]}\u201d."
        )
        rows = [[str(i + 1), *(c[i] for c in columns)] for i in range(SAMPLES)]
        header = ["", *heads]
    section.texts.append(TextTable(f"{ctx.run}: {SAMPLES} samples", header, rows))
    section.notes.append(f"Greedy {READABLE.describe()}. Draws at a temperature follow no rule.")
    return section


def text_reconstructions_section(ctx: ReportContext) -> Section:
    from vaekit.generate.text import decode_texts, reconstruct_sentences

    section = Section(
        "reconstructions",
        "Reconstructions",
        "Test sentences the model never saw, each encoded to its code E[z|x] and decoded greedily: "
        "how much of a sentence its code keeps (after posterior collapse, only the typical sentence).",
    )
    if not ctx.has_code:
        section.missing = NO_CODE
        return section
    x = ctx.x[:RECONSTRUCTIONS]
    rows = [
        [a, b] for a, b in zip(decode_texts(ctx.vocab, x), reconstruct_sentences(ctx.model, ctx.vocab, x), strict=True)
    ]
    header = ["test sentence", "greedy decode of E[z|x]"]
    section.texts.append(TextTable(f"{ctx.run}: the first {x.shape[0]} test sentences", header, rows))
    return section


def homotopies_section(ctx: ReportContext) -> Section:
    from vaekit.data.text import sentence_lengths
    from vaekit.generate.text import decode_texts, homotopy

    section = Section(
        "homotopies",
        "Homotopies",
        "Walks between the codes of two test sentences A and B, as in Bowman et al. (2016, table 7): "
        "z = (1 - t) E[z|A] + t E[z|B], each point decoded greedily. Sentences that change a little at "
        "a time, and stay grammatical on the way, mean the space between codes is filled.",
    )
    if not ctx.has_code:
        section.missing = NO_CODE
        return section
    words = (sentence_lengths(ctx.x) - 2).cpu()  # no <bos>, <eos>
    chosen = [i for i, n in enumerate(words.tolist()) if PAIR_WORDS[0] <= n <= PAIR_WORDS[1]][: 2 * PAIRS]
    if len(chosen) < 2:
        chosen = list(range(min(2 * PAIRS, ctx.x.shape[0])))
    for a, b in zip(chosen[0::2], chosen[1::2]):
        xa, xb = ctx.x[a : a + 1], ctx.x[b : b + 1]
        ends = decode_texts(ctx.vocab, torch.cat([_padded(xa, xb), _padded(xb, xa)]))
        path = homotopy(ctx.model, ctx.vocab, xa, xb, STEPS)
        rows = [[f"{i / (STEPS - 1):.2f}", text] for i, text in enumerate(path)]
        caption = f"A (test sentence {a + 1}): \u201c{ends[0]}\u201d \u2192 B (test sentence {b + 1}): "
        caption += f"\u201c{ends[1]}\u201d"
        section.texts.append(TextTable(caption, ["t", "greedy decode of z(t)"], rows))
    return section


def _padded(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A (1, T) sentence padded to the width of `like`'s, so two can be stacked."""
    return torch.nn.functional.pad(x, (0, max(0, like.shape[1] - x.shape[1])))


def text_latent_space_section(ctx: ReportContext) -> Section:
    from vaekit.data.text import sentence_lengths
    from vaekit.eval.latent import project_2d
    from vaekit.generate.text import sentence_codes
    from vaekit.plots import figure_png, latent_scatter_figure

    section = Section(
        "latent-space",
        "The latent space",
        "The codes E[z|x] of test sentences, one dot each, coloured by the sentence's length in words: "
        "length is what a sentence code captures first (Bowman et al. 2016).",
    )
    if not ctx.has_code:
        section.missing = NO_CODE
        return section
    codes = sentence_codes(ctx.model, ctx.x).float().cpu()  # (N, D)
    if codes.shape[1] == 1:
        section.missing = "the code has one dimension: there is no plane to draw"
        return section
    words = (sentence_lengths(ctx.x) - 2).cpu()
    xy, axes, how = project_2d(codes, "pca", seed=ctx.seed)
    title = f"{ctx.run}: posterior means E[z|x] of {codes.shape[0]} test sentences\n{how}"
    fig = latent_scatter_figure(xy, words, axes, title, label_title="words in the sentence", continuous=True)
    caption = "the 2-D code itself, no projection" if codes.shape[1] == 2 else "PCA: the two widest directions"
    section.figures.append(Figure(figure_png(fig), f"{caption}; colour: words in the sentence"))
    return section
