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
"""

from vaekit.plots._files import figure_png, save_figure
from vaekit.plots.canvas import Frame, labelled_grid
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
from vaekit.plots.legacy import image_grid, plot_curves, plot_latent_scatter, save_grid, save_png, save_reconstructions

__all__ = [
    "ACTIVE_KL",
    "Frame",
    "class_names",
    "curves_figure",
    "figure_png",
    "interpolations_figure",
    "labelled_grid",
    "latent_scatter_figure",
    "prior_title",
    "reconstructions_figure",
    "run_title",
    "samples_figure",
    "save_figure",
    "traversals_figure",
    # the first, untitled functions (vaekit.plots.legacy)
    "image_grid",
    "plot_curves",
    "plot_latent_scatter",
    "save_grid",
    "save_png",
    "save_reconstructions",
]
