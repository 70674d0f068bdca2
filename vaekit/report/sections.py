"""The report's picture sections: each takes the `ReportContext` and returns a `Section`.

`SECTIONS` are those of an image run, `TEXT_SECTIONS` those of a run on sentences (`report.text`).
A section that does not apply to the run (prior samples of an autoencoder, traversals of a
conditional model, a codebook of a Gaussian VAE, ...) comes back with `missing` saying why in
words, usually the same message the matching `vaekit` command would give.
"""

from __future__ import annotations

from pathlib import Path

import torch

from vaekit.errors import VaekitError
from vaekit.plots import ACTIVE_KL, figure_png
from vaekit.report.context import ReportContext
from vaekit.report.html import Figure, Section
from vaekit.report.quality import sample_quality_section
from vaekit.report.text import (
    NO_CODE,
    homotopies_section,
    text_latent_space_section,
    text_reconstructions_section,
    text_samples_section,
)

TSNE_POINTS = 1000  # t-SNE is quadratic in the points; 1000 shows the clusters in seconds


def samples_section(ctx: ReportContext) -> Section:
    from vaekit.generate.images import sample
    from vaekit.plots import prior_title, samples_figure

    section = Section(
        "samples",
        "Prior samples",
        "New images: codes drawn from the prior p(z) and decoded (the mean "
        "E[x|z] is shown, not a noisy draw). Blurry or odd samples where reconstructions are good mean "
        "the codes of real images do not fill the prior.",
    )
    if ctx.num_labels:
        return _samples_per_label(ctx, section)
    try:
        images = sample(ctx.model, 64)
    except VaekitError as err:
        section.missing = str(err)
        return section
    prior = prior_title(ctx.model.prior_words)
    fig = samples_figure(images, ctx.run, prior)
    section.figures.append(Figure(figure_png(fig), "64 codes drawn from the prior, decoded"))
    return section


def _samples_per_label(ctx: ReportContext, section: Section) -> Section:
    from vaekit.generate.images import sample
    from vaekit.plots import class_names, labelled_grid, prior_title

    per_row, words = 10, ctx.model.prior_words
    names = class_names(Path(ctx.cfg.data.name).name, ctx.num_labels)
    rows = [
        sample(ctx.model, per_row, labels=torch.full((per_row,), k, dtype=torch.long, device=ctx.device))
        for k in range(ctx.num_labels)
    ]
    section.title = "Prior samples, one row per label"
    section.intro = (
        f"The conditional VAE decodes a code z (prior: {words}) together with a label y: each row draws "
        f"{per_row} codes for one label, so the label sets the class and z the style."
    )
    fig = labelled_grid(
        rows,
        f"{ctx.run}: {per_row} samples per label (decoded means E[x|z, y])\n{prior_title(words)}",
        [f"label {name}" for name in names],
        xlabel="independent draws of z, each decoded with the row's label",
    )
    section.figures.append(Figure(figure_png(fig), f"row k: {per_row} codes z (prior: {words}) decoded with label k"))
    return section


def reconstructions_section(ctx: ReportContext) -> Section:
    from vaekit.generate.images import reconstruct
    from vaekit.plots import reconstructions_figure

    section = Section(
        "reconstructions",
        "Reconstructions",
        "Test images, and below each row what the model makes "
        "of them: each image is encoded to its code E[z|x] and decoded again.",
    )
    n = min(16, ctx.x.shape[0])
    x, y = ctx.x[:n], ctx.y_model
    recon = reconstruct(ctx.model, x, None if y is None else y[:n])
    fig = reconstructions_figure(x, recon, ctx.run)
    section.figures.append(Figure(figure_png(fig), f"the first {n} test images; under each row, its reconstructions"))
    return section


def interpolations_section(ctx: ReportContext) -> Section:
    from vaekit.generate.images import interpolate, pairs_of_one_label
    from vaekit.plots import interpolations_figure

    section = Section(
        "interpolations",
        "Interpolations",
        "Walks through the latent space between the codes of two "
        "test images: a smooth change of the decoded image means nearby codes decode to similar images.",
    )
    steps, run, names = 10, ctx.run, None
    try:
        if ctx.num_labels:  # pairs of one label, each path decoded with it: z changes the style, not the class
            ia, ib = pairs_of_one_label(ctx.y, 4)
            names = [f"label {int(k)}" for k in ctx.y[ia]]
            run += ", each pair of one label, its path decoded with that label"
            section.intro += (
                " The conditional VAE walks between two images of one label, decoding the whole path with "
                "that label: what changes is the style z, not the class."
            )
        else:
            ia = torch.arange(0, 2 * min(4, ctx.x.shape[0] // 2), 2)
            ib = ia + 1
        pairs = len(ia)
        a, b = ctx.x[ia.to(ctx.device)], ctx.x[ib.to(ctx.device)]
        ya, yb = (ctx.y_model[ia], ctx.y_model[ib]) if ctx.num_labels else (None, None)
        linear = interpolate(ctx.model, a, b, steps, "linear", ya, yb).view(pairs, steps, *a.shape[1:])
        spherical = interpolate(ctx.model, a, b, steps, "slerp", ya, yb).view(pairs, steps, *a.shape[1:])
    except VaekitError as err:
        section.missing = str(err)
        return section
    fig = interpolations_figure(linear, spherical, a, b, run, names)
    section.figures.append(
        Figure(figure_png(fig), f"{pairs} pairs of test images A, B; {steps} decoded steps from A's code to B's")
    )
    return section


def traversals_section(ctx: ReportContext) -> Section:
    from vaekit.eval.latent import latent_activity
    from vaekit.generate.images import traverse
    from vaekit.plots import traversals_figure

    section = Section(
        "traversals",
        "Latent traversals",
        "One test image's code with one latent at a time swept "
        "from -3 to 3 while the others stay: what each latent controls, the most active first.",
    )
    if ctx.discrete:
        section.missing = "a VQ-VAE's code is a grid of discrete codes, not latents to sweep one at a time"
        return section
    activity = latent_activity(ctx.model, ctx.x, ctx.y_model)
    d = activity.values.shape[0]
    active = [i for i in activity.order() if activity.values[i] >= ACTIVE_KL]
    dims = active[:8]
    if not dims:
        section.missing = f"no latent is in use ({activity.measure} below {ACTIVE_KL:g} for all {d})"
        return section
    steps, span = 9, 3.0
    label = ctx.y_model[:1] if ctx.num_labels else None  # a conditional model: the image's label, held fixed
    grid = traverse(ctx.model, ctx.x, dims, steps=steps, span=span, y=label).view(len(dims), steps, *ctx.x.shape[1:])
    run = ctx.run if label is None else f"{ctx.run}, label {int(label)} held fixed"
    if label is not None:
        section.intro += f" The conditional VAE decodes every cell with the image's label ({int(label)})."
    fig = traversals_figure(
        grid,
        dims,
        [float(activity.values[i]) for i in dims],
        torch.linspace(-span, span, steps).tolist(),
        run,
        activity.measure,
        activity.unit,
        left_out=d - len(active),
        latent_dim=d,
        more_active=len(active) - len(dims),
    )
    section.figures.append(
        Figure(figure_png(fig), f"{len(dims)} of {d} latents, each swept from -{span:g} to +{span:g}")
    )
    return section


def latent_space_section(ctx: ReportContext) -> Section:
    from vaekit.eval.latent import project_2d
    from vaekit.generate.images import posterior_means
    from vaekit.plots import class_names, latent_scatter_figure

    section = Section(
        "latent-space",
        "The latent space",
        "The codes E[z|x] of test images, one dot each, coloured "
        "by their label: images of one class that share a region mean the code captured the class "
        "without being told.",
    )
    if ctx.num_labels:
        section.intro += (
            " The conditional VAE is told the label, so its codes need not separate the classes: "
            "well-mixed colours mean z holds the style alone."
        )
    codes = posterior_means(ctx.model, ctx.x, ctx.y_model).float().cpu()  # (N, D)
    d = codes.shape[1]
    if d == 1:
        section.missing = "the code has one dimension: there is no plane to draw"
        return section
    known = int(ctx.y.max()) + 1 if len(ctx.y) and int(ctx.y.min()) >= 0 else 0
    names = class_names(Path(ctx.cfg.data.name).name, max(ctx.cfg.num_classes, known))
    what = "encoder outputs before quantization, flattened" if ctx.discrete else "posterior means E[z|x]"
    captions = {
        "pca": "PCA: the linear view, distances kept along the two widest directions",
        "tsne": "t-SNE: neighbours kept; distances and axes mean nothing",
    }
    for method in ["pca"] if d == 2 else ["pca", "tsne"]:
        points, y = (codes, ctx.y) if method == "pca" else (codes[:TSNE_POINTS], ctx.y[:TSNE_POINTS])
        xy, axes, how = project_2d(points, method, seed=ctx.seed)
        title = f"{ctx.run}: {what} of {points.shape[0]} test images\n{how}"
        caption = "the 2-D code itself, no projection" if d == 2 else captions[method]
        fig = latent_scatter_figure(xy, y, axes, title, names)
        section.figures.append(Figure(figure_png(fig), f"{caption}; colour: the label"))
    return section


def manifold_section(ctx: ReportContext) -> Section:
    from vaekit.generate.images import posterior_means
    from vaekit.report.figures import manifold_figure

    section = Section(
        "manifold",
        "The decoded manifold",
        "The decoder's output over a regular grid of the 2-D code "
        "(Kingma & Welling 2013, fig. 4): how the images change continuously across the latent plane.",
    )
    codes = posterior_means(ctx.model, ctx.x[:1], ctx.y_model[:1] if ctx.num_labels else None)
    d = codes.shape[1]
    if ctx.discrete or d != 2:
        section.missing = (
            (f"the code has {d} dimensions; the manifold is drawn for 2-D codes (train with --latent-dim 2)")
            if not ctx.discrete
            else "a VQ-VAE's code is a discrete grid"
        )
        return section
    if ctx.num_labels:
        section.missing = "a conditional model's decoder also needs a label; see the samples per label"
        return section
    n = 12
    if ctx.model.has_prior:  # evenly spaced quantiles of N(0, 1), 2.5% to 97.5%
        q = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.025, 0.975, n))
        lo1 = lo2 = q
        where = "z1 and z2 at the 2.5% to 97.5% quantiles of the prior N(0, 1), evenly spaced in probability"
    else:  # no prior: span the test codes
        all_codes = posterior_means(ctx.model, ctx.x).float().cpu()
        lo1, lo2 = (torch.linspace(float(all_codes[:, i].min()), float(all_codes[:, i].max()), n) for i in (0, 1))
        where = "z1 and z2 over the range of the test images' codes (the model has no prior)"
    z2 = lo2.flip(0)  # top row: largest z2
    grid = torch.stack(torch.meshgrid(z2, lo1, indexing="ij"), dim=-1)[..., [1, 0]]  # (n, n, 2) as (z1, z2)
    with torch.no_grad():
        images = ctx.model.decode(grid.reshape(-1, 2).to(ctx.device)).mean.view(n, n, *ctx.x.shape[1:])
    fig = manifold_figure(images.cpu(), lo1.tolist(), z2.tolist(), f"{ctx.run}: decoded means E[x|z] over a grid of z")
    section.figures.append(Figure(figure_png(fig), where))
    return section


def latent_use_section(ctx: ReportContext) -> Section:
    from vaekit.eval.latent import latent_activity
    from vaekit.report.figures import latent_use_figure

    section = Section(
        "latent-use",
        "KL per latent dimension",
        f"How much information about the {ctx.item} each latent "
        f"carries: the average KL(q(z_d|x) || p(z_d)) over test {ctx.item}s. A latent near 0 is ignored by "
        "the decoder (posterior collapse); the KL terms add up to the model's KL.",
    )
    if not ctx.has_code:
        section.missing = NO_CODE
        return section
    if ctx.discrete:
        section.missing = "a VQ-VAE has no Gaussian posterior per latent; see the codebook usage"
        return section
    activity = latent_activity(ctx.model, ctx.x, ctx.y_model)
    values, measure, unit = activity.values, activity.measure, activity.unit
    if measure != "KL":
        section.title = "Use of each latent dimension"
        section.intro = (
            "This model's encoder is deterministic, so there is no KL per latent: the bars show how much "
            f"each latent's code varies across test {ctx.item}s (the variance of E[z_d|x]); near 0: unused."
        )
    fig = latent_use_figure(
        values.tolist(), measure, unit, f"{ctx.run}: {measure} per latent, {ctx.x.shape[0]} test {ctx.item}s", ACTIVE_KL
    )
    caption = (
        f"sum over latents: {float(values.sum()):.3g}{unit}; the table's 'active latents' counts another "
        "test on the same images, Var of E[z_d|x] > 0.01, which a latent can pass while carrying little KL"
    )
    if measure != "KL":
        caption = "variance of each latent's code"
    section.figures.append(Figure(figure_png(fig), caption))
    return section


def codebook_section(ctx: ReportContext) -> Section:
    from vaekit.models.code_prior import encode_codes
    from vaekit.nn.quantize import perplexity
    from vaekit.report.figures import codebook_usage_figure

    section = Section(
        "codebook",
        "Codebook usage",
        "How often the test images' grid cells choose each code of the "
        "VQ-VAE's codebook. Many unused codes (a short bar chart) waste capacity; perplexity is the "
        "number of codes in effective use.",
    )
    if not ctx.discrete:
        section.missing = "only a VQ-VAE has a codebook; this model's code is continuous"
        return section
    k = ctx.model.code_grid.num_codes
    counts = torch.bincount(encode_codes(ctx.model, ctx.x).flatten().cpu(), minlength=k)
    used, ppl = int((counts > 0).sum()), float(perplexity(counts.double()))
    fig = codebook_usage_figure(
        counts.tolist(),
        f"{ctx.run}: codes chosen by {ctx.x.shape[0]} test images ({ctx.model.code_grid.words()} cells each)",
    )
    section.figures.append(Figure(figure_png(fig), f"{used} of {k} codes used, perplexity {ppl:.1f}"))
    return section


SECTIONS = [
    samples_section,
    sample_quality_section,
    reconstructions_section,
    interpolations_section,
    traversals_section,
    latent_space_section,
    manifold_section,
    latent_use_section,
    codebook_section,
]
TEXT_SECTIONS = [  # a run on sentences
    text_samples_section,
    text_reconstructions_section,
    homotopies_section,
    text_latent_space_section,
    latent_use_section,
]
SECTIONS_BY_KIND = {"images": SECTIONS, "sentences": TEXT_SECTIONS}  # a model's data_kind -> its sections
