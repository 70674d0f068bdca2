"""vaekit: autoencoders, variational autoencoders and the mathematics under them."""

from vaekit.errors import VaekitError

__version__ = "0.1.0"
__all__ = ["VaekitError", "__version__"]
