"""The one exception type users see.

Anything that is the user's fault (a bad flag, a missing file, a checksum that does not match)
raises `VaekitError` with a one-line message that says what was wrong and how to fix it. The CLI
prints that line and exits with status 2; library users can catch it.
"""


class VaekitError(Exception):
    """A user-facing error: bad input, missing data, a run directory that already exists."""


class NoPrior(VaekitError):
    """A model without p(z) (an AE, a VQ-VAE before `train-prior`) was asked to sample; the
    message says what to do instead. `model.has_prior` tells beforehand."""


class VaekitWarning(UserWarning):
    """Something vaekit changed for the user (e.g. a batch size larger than the data, clamped);
    the CLI prints it as one line."""
