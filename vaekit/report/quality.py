"""The report's "Sample quality" section: how close prior samples are to real images, as numbers.

The numbers come from `vaekit.eval.sample_quality` (the same as `vaekit eval --fid-samples N`): the
Fréchet distance between the features of real test images and of prior samples in vaekit's own
MNIST or Fashion-MNIST classifier, beside the distance between two sets of real images (the floor a
perfect model would reach at this number of images), and the classifier's Inception-style score.
They exist only where a classifier of the run's kind of images does; the section says so otherwise.
"""

from __future__ import annotations

from pathlib import Path

from vaekit.errors import VaekitError
from vaekit.report.context import ReportContext
from vaekit.report.html import Section

CLASSIFIER_SHAPE = (1, 28, 28)  # what vaekit's classifiers read


def sample_quality_section(ctx: ReportContext) -> Section:
    from vaekit.eval.sample_quality import CLASSIFIER_FOR, measure

    section = Section(
        "sample-quality",
        "Sample quality",
        "How close prior samples are to real test images, as numbers. FID: the Fréchet distance between "
        "the features of real images and of samples in vaekit's own classifier of the dataset (lower is "
        "better; it is biased upwards for few images, so compare it with the distance between two sets of "
        "real images of the same size, the floor). Classifier score: exp(E KL(p(y|x) || p(y))) of the "
        "samples, high when each sample is clearly one class and all classes appear (at most the number "
        "of classes). These compare models on generation, not on likelihood; they are not comparable "
        "with FIDs published with Inception features.",
    )
    data = Path(ctx.cfg.data.name).name
    if ctx.counts.fid_samples == 0:
        section.missing = "switched off (--fid-samples 0)"
        return section
    if data not in CLASSIFIER_FOR:
        section.missing = (
            f"the numbers need a classifier trained on the run's kind of images, and vaekit has classifiers of "
            f"MNIST and Fashion-MNIST only ({', '.join(sorted(CLASSIFIER_FOR))}); this run is on {data}"
        )
        return section
    if tuple(ctx.cfg.image_shape or ()) != CLASSIFIER_SHAPE:
        shape = "x".join(str(s) for s in ctx.cfg.image_shape or ())
        section.missing = f"the classifier reads 28x28 grey images; this run's images are {shape}"
        return section
    try:
        result = measure(
            ctx.model, data, n=ctx.counts.fid_samples, seed=ctx.seed, data_dir=ctx.data_dir, device=ctx.device
        )
    except VaekitError as err:
        section.missing = str(err)
        return section
    accuracy = result.get("classifier_test_accuracy")
    accuracy = f"{accuracy:.2%}" if isinstance(accuracy, float) else "unknown"
    per_label = ", the labels 0, 1, ... in turn" if ctx.num_labels else ""
    rows = [
        ("FID: prior samples vs real test images", f"{result['fid']:.2f}"),
        ("FID: real training vs real test images (the floor)", f"{result['fid_real']:.2f}"),
        ("classifier score of the samples", f"{result['inception_score']:.2f}"),
        ("classifier score of real test images", f"{result['inception_score_real']:.2f}"),
        ("prior samples compared", f"{result['samples']:,} (prior: {ctx.model.prior_words}, temperature 1{per_label})"),
        ("real test images compared", f"{result['real_images']:,}"),
        ("classifier (features: its 128 penultimate activations)", result["classifier"]),
        ("the classifier's test accuracy", accuracy),
    ]
    if ctx.discrete:
        rows[4] = ("prior samples compared", f"{result['samples']:,} (through the code prior, temperature 1)")
    section.tables.append((f"{ctx.run}: prior samples against real images", rows))
    section.notes.append(
        f"{result['samples']:,} samples against {result['real_images']:,} real test images; "
        f"the classifier of {result['classifier'].removesuffix('-cnn')} scores {accuracy} on its test set. "
        "The same numbers: vaekit eval RUN_DIR --fid-samples N."
    )
    return section
