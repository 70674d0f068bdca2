"""Classical estimators in the scikit-learn style, written on torch (CPU or GPU).

`PCA` is the linear baseline every autoencoder is compared with; `GaussianMixture` (EM) and
`VariationalGaussianMixture` (mean-field VI) are density models, also used as priors fitted to a
trained model's latent codes; `LinearGaussianModel` (probabilistic PCA) is the one latent-variable
model whose log p(x) and posterior are exact, so the ELBO identity can be checked to the digit.
Inputs are NumPy arrays or tensors (n_samples, n_features); work is in float64 by default, on
the input tensor's device.
"""

from vaekit.classical._base import ConvergenceWarning
from vaekit.classical.gmm import GaussianMixture
from vaekit.classical.linear_gaussian import LinearGaussianModel
from vaekit.classical.pca import PCA
from vaekit.classical.vgmm import VariationalGaussianMixture

__all__ = ["PCA", "GaussianMixture", "VariationalGaussianMixture", "LinearGaussianModel", "ConvergenceWarning"]
