"""Pictures of what a model learned, as matplotlib figures that say what they show.

Each `*_figure` function takes tensors or arrays and words and returns a Figure; `save_figure`
writes one atomically as PNG. Nothing here imports the models, the trainer or the datasets: the
commands and the HTML report compute the images and hand them over.

    samples_figure          prior samples, titled with model, data, prior and temperature
    reconstructions_figure  aligned rows of originals and reconstructions, for any count
    interpolations_figure   linear and spherical walks between two test images, ends marked
    traversals_figure       one row per latent with its KL, most active first
    latent_scatter_figure   codes in 2-D with named axes and a legend of labels
    curves_figure           training curves
    labelled_grid           rows of images with a title, row and column labels (samples per label, a manifold)
    image_grid              images pasted into one array, for a caller's own matplotlib axes
    attention_figure        a translation's attention weights: source tokens across, target tokens down
    bleu_by_length_figure   corpus BLEU by source sentence length, one bar per model
"""

from vaekit.plots._files import figure_png, save_figure
from vaekit.plots.canvas import Frame, image_grid, labelled_grid
from vaekit.plots.curves import curves_figure
from vaekit.plots.images import (
    ACTIVE_KL,
    interpolations_figure,
    prior_title,
    reconstructions_figure,
    run_title,
    samples_figure,
    traversals_figure,
)
from vaekit.plots.latents import class_names, latent_scatter_figure
from vaekit.plots.translation import attention_figure, bleu_by_length_figure

__all__ = [
    "ACTIVE_KL",
    "Frame",
    "attention_figure",
    "bleu_by_length_figure",
    "class_names",
    "curves_figure",
    "figure_png",
    "image_grid",
    "interpolations_figure",
    "labelled_grid",
    "latent_scatter_figure",
    "prior_title",
    "reconstructions_figure",
    "run_title",
    "samples_figure",
    "save_figure",
    "traversals_figure",
]
