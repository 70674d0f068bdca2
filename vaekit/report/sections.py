"""The report's picture sections: each takes the `ReportContext` and returns a `Section`.

A section that does not apply to the run (prior samples of an autoencoder, traversals of a
conditional model, a codebook of a Gaussian VAE, ...) comes back with `missing` saying why in
words, usually the same message the matching `vaekit` command would give.
"""

from __future__ import annotations

import torch

from vaekit.errors import VaekitError
from vaekit.report.context import ReportContext
from vaekit.report.html import Figure, Section
from vaekit.report.latents import ACTIVE, latent_use, project_2d
from vaekit.report.pictures import figure_png, grid_png, reconstructions_png, scatter_png

TSNE_POINTS = 1000  # t-SNE is quadratic in the points; 1000 shows the clusters in seconds


def samples_section(ctx: ReportContext) -> Section:
    from vaekit.generate import sample

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
    prior = "the code prior fitted by vaekit train-prior" if ctx.discrete else "the prior N(0, I)"
    section.figures.append(Figure(grid_png(images, 8), f"{ctx.run}: 64 codes drawn from {prior}, decoded"))
    return section


def _samples_per_label(ctx: ReportContext, section: Section) -> Section:
    from vaekit.generate import sample

    per_row = 10
    rows = [
        sample(ctx.model, per_row, labels=torch.full((per_row,), k, dtype=torch.long, device=ctx.device))
        for k in range(ctx.num_labels)
    ]
    section.title = "Prior samples, one row per label"
    section.intro = (
        "The conditional VAE decodes a code z ~ N(0, I) together with a label y: each row draws "
        f"{per_row} codes for one label, so the label sets the class and z the style."
    )
    section.figures.append(
        Figure(
            grid_png(torch.cat(rows), per_row),
            f"{ctx.run}: row k holds {per_row} samples "
            f"of label k, from label 0 at the top to label {ctx.num_labels - 1}",
        )
    )
    return section


def reconstructions_section(ctx: ReportContext) -> Section:
    from vaekit.generate import reconstruct

    section = Section(
        "reconstructions",
        "Reconstructions",
        "Test images, and below each row what the model makes "
        "of them: each image is encoded to its code E[z|x] and decoded again.",
    )
    n = min(16, ctx.x.shape[0])
    x, y = ctx.x[:n], ctx.y_model
    recon = reconstruct(ctx.model, x, None if y is None else y[:n])
    section.figures.append(
        Figure(
            reconstructions_png(x, recon, 8),
            f"{ctx.run}: the first {n} test images, 8 to a "
            "row; under each row of originals, the row of their reconstructions",
        )
    )
    return section


def interpolations_section(ctx: ReportContext) -> Section:
    from vaekit.generate import interpolate

    section = Section(
        "interpolations",
        "Interpolations",
        "Walks through the latent space between the codes of two "
        "test images: a smooth change of the decoded image means nearby codes decode to similar images.",
    )
    pairs, steps = min(4, ctx.x.shape[0] // 2), 10
    a, b = ctx.x[0 : 2 * pairs : 2], ctx.x[1 : 2 * pairs : 2]
    try:
        linear = interpolate(ctx.model, a, b, steps, "linear").view(pairs, steps, *a.shape[1:])
        spherical = interpolate(ctx.model, a, b, steps, "slerp").view(pairs, steps, *a.shape[1:])
    except VaekitError as err:
        section.missing = str(err)
        return section
    rows = torch.stack([linear, spherical], dim=1).flatten(0, 2)  # (pairs * 2 * steps, C, H, W)
    section.figures.append(
        Figure(
            grid_png(rows, steps),
            f"{ctx.run}: {pairs} pairs of test images A, B; for each "
            f"pair a row along the straight line, then a row along the great circle (slerp), "
            f"{steps} steps from A's code (left) to B's (right)",
        )
    )
    return section


def traversals_section(ctx: ReportContext) -> Section:
    from vaekit.generate import traverse

    section = Section(
        "traversals",
        "Latent traversals",
        "One test image's code with one latent at a time swept "
        "from -3 to 3 while the others stay: what each latent controls, the most active first.",
    )
    if ctx.discrete:
        section.missing = "a VQ-VAE's code is a grid of discrete codes, not latents to sweep one at a time"
        return section
    if ctx.num_labels:
        section.missing = "traversals of a conditional model need a label per row; not supported yet"
        return section
    values, measure, unit = latent_use(ctx.model, ctx.x, ctx.y_model)
    d = values.shape[0]
    active = [i for i in values.argsort(descending=True).tolist() if values[i] >= ACTIVE]
    dims = active[:8]
    if not dims:
        section.missing = f"no latent is in use ({measure} below {ACTIVE:g} for all {d})"
        return section
    steps, span = 9, 3.0
    grid = traverse(ctx.model, ctx.x, dims, steps=steps, span=span).view(len(dims), steps, *ctx.x.shape[1:])
    rows = ", ".join(f"z{i + 1} ({measure} {float(values[i]):.2f}{unit})" for i in dims)
    left_out = f"; {d - len(active)} inactive latents left out" if d > len(active) else ""
    section.figures.append(
        Figure(
            grid_png(grid.flatten(0, 1), steps),
            f"{ctx.run}: one row per latent, top to bottom: {rows}; columns from -{span:g} to +{span:g}{left_out}",
        )
    )
    return section


def latent_space_section(ctx: ReportContext) -> Section:
    from vaekit.generate import posterior_means

    section = Section(
        "latent-space",
        "The latent space",
        "The codes E[z|x] of test images, one dot each, coloured "
        "by their label: images of one class that share a region mean the code captured the class "
        "without being told.",
    )
    codes = posterior_means(ctx.model, ctx.x, ctx.y_model).float().cpu()  # (N, D)
    d = codes.shape[1]
    if d == 1:
        section.missing = "the code has one dimension: there is no plane to draw"
        return section
    what = "encoder outputs before quantization, flattened" if ctx.discrete else "posterior means E[z|x]"
    methods = ["pca"] if d == 2 else ["pca", "tsne"]
    for method in methods:
        points, y = (codes, ctx.y) if method == "pca" else (codes[:TSNE_POINTS], ctx.y[:TSNE_POINTS])
        if d == 2:
            xy, how = points, "the 2-D code itself (across: z1, up: z2)"
        else:
            xy, how = project_2d(points, method, seed=ctx.seed)
        title = f"{ctx.run}: {points.shape[0]} test images"
        caption = (
            "PCA: the linear view, distances kept along the two widest directions"
            if method == "pca"
            else "t-SNE: neighbours kept; distances and axes mean nothing"
        )
        section.figures.append(
            Figure(
                scatter_png(xy, y if bool((y >= 0).all()) else None, title),
                f"{what}: {how}; {caption if d > 2 else 'no projection'}; colour: the label",
            )
        )
    return section


def manifold_section(ctx: ReportContext) -> Section:
    from vaekit.generate import posterior_means
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
    from vaekit.report.figures import latent_use_figure

    section = Section(
        "latent-use",
        "KL per latent dimension",
        "How much information about the image each latent "
        "carries: the average KL(q(z_d|x) || p(z_d)) over test images. A latent near 0 is ignored by "
        "the decoder (posterior collapse); the KL terms add up to the model's KL.",
    )
    if ctx.discrete:
        section.missing = "a VQ-VAE has no Gaussian posterior per latent; see the codebook usage"
        return section
    values, measure, unit = latent_use(ctx.model, ctx.x, ctx.y_model)
    if measure != "KL":
        section.title = "Use of each latent dimension"
        section.intro = (
            "This model's encoder is deterministic, so there is no KL per latent: the bars show how much "
            "each latent's code varies across test images (the variance of E[z_d|x]); near 0: unused."
        )
    fig = latent_use_figure(
        values.tolist(), measure, unit, f"{ctx.run}: {measure} per latent, {ctx.x.shape[0]} test images", ACTIVE
    )
    caption = f"sum over latents: {float(values.sum()):.3g}{unit}"
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
    k = ctx.model.quantizer.num_codes
    counts = torch.bincount(encode_codes(ctx.model, ctx.x).flatten().cpu(), minlength=k)
    used, ppl = int((counts > 0).sum()), float(perplexity(counts.double()))
    fig = codebook_usage_figure(
        counts.tolist(),
        f"{ctx.run}: codes chosen by {ctx.x.shape[0]} test images "
        f"({'x'.join(str(s) for s in ctx.model.grid[1:])} cells each)",
    )
    section.figures.append(Figure(figure_png(fig), f"{used} of {k} codes used, perplexity {ppl:.1f}"))
    return section


def text_section(ctx: ReportContext) -> Section | None:
    """The hook for a text run's sentences (samples, homotopies): None for image runs, which leaves the
    section out. Text runs are refused by `open_context` until their sections are written."""
    return None


SECTIONS = [
    samples_section,
    reconstructions_section,
    interpolations_section,
    traversals_section,
    latent_space_section,
    manifold_section,
    latent_use_section,
    codebook_section,
    text_section,
]
