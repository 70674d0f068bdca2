"""The model side of `vaekit explore`: a loaded run, its test codes, and decoding one code to a PNG.

Everything the web app does with the model goes through `Explorer`, which checks every request's
numbers against this run (how many latents, the range of each, which labels, which test images)
and bounds the work: one image is decoded per request, under a lock, so a flood of requests
queues instead of piling up on the CPU. A request that does not fit raises `RequestError`, which
the app answers with a 422 and the error's message.
"""

from __future__ import annotations

import base64
import io
import threading
from dataclasses import asdict, dataclass

import numpy as np
import torch

from vaekit.errors import VaekitError
from vaekit.eval.code_use import ACTIVE_VARIANCE, CodeUse
from vaekit.generate.text import READABLE, decode_texts

PRIOR_SPAN = 3.0  # sliders of a N(0, I) prior cover [-3, 3] at least: nearly all of its mass
MAX_POINTS = 1000  # test codes sent for the 2-D canvas
MAX_PICKS = 48  # test images offered to pick from
MAX_CODES = 2000  # test images encoded to find each latent's activity and range


class RequestError(ValueError):
    """A request whose values do not fit this run (the message says which value and the allowed range)."""


@dataclass(frozen=True)
class LatentAxis:
    """One latent dimension as the page shows it: a slider from low to high."""

    index: int
    activity: float  # variance over test images of E[z_d|x]: ~0 for a dimension the model does not use
    kl: float | None  # average KL(q(z_d|x) || p(z_d)) in nats; None without a Gaussian q(z|x)
    low: float
    high: float


def png_data_uri(image: torch.Tensor) -> str:
    """One image (C, H, W) in [0, 1] -> an 8-bit PNG data URI at its own resolution (the page scales it)."""
    from PIL import Image

    array = (image.detach().float().clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)  # (C, H, W)
    if array.shape[0] == 1:
        picture = Image.fromarray(array[0], "L")
    else:
        picture = Image.fromarray(array[:3].transpose(1, 2, 0), "RGB")
    buf = io.BytesIO()
    picture.save(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class Explorer:
    """A trained run ready to decode codes sent by the page.

    model: in eval mode on its device; test_x (N, C, H, W) and test_y (N,) from the run's dataset.
    A run on sentences gives `vocab` (its Vocabulary) and test_x (N, T) token ids: codes are then
    decoded greedily into a sentence instead of an image.
    """

    def __init__(self, model, cfg, test_x: torch.Tensor, test_y: torch.Tensor, title: str = "", vocab=None):
        from vaekit.eval.latent import active_units, latent_activity
        from vaekit.generate.images import posterior_means

        if model.code_kind == "none":
            raise VaekitError(
                "a language model (lm) has no latent code z to explore: 'vaekit sample RUN' draws its sentences "
                "and 'vaekit report RUN' shows them"
            )
        if cfg.vocab_size and vocab is None:
            raise VaekitError("a text run needs its vocabulary (vocab.json) to show sentences")
        self.model, self.cfg, self.title, self.vocab = model.eval(), cfg, title, vocab
        self.device = next(model.parameters()).device
        self.lock = threading.Lock()
        self.num_labels = model.num_labels
        self.discrete = model.code_kind == "grid"  # z is a grid of encoder outputs, decoded through the codebook
        x, y = test_x[:MAX_CODES].to(self.device), test_y[:MAX_CODES].to(self.device)
        self.codes = posterior_means(model, x, y).float().cpu()  # (N, D)
        self.labels = test_y[:MAX_CODES].cpu()
        self.pick_x, self.pick_y = test_x[:MAX_PICKS].cpu(), test_y[:MAX_PICKS].cpu()
        use = None if self.discrete else latent_activity(model, x, y)
        kl = use.values if use is not None and use.measure == "KL" else None
        self.axes = self._axes(kl)
        self.code_use = None  # KL and active units, for the collapse warning (vaekit.eval.code_use)
        if kl is not None and self.codes.shape[0] > 1:
            active = active_units(self.codes, ACTIVE_VARIANCE)
            self.code_use = CodeUse(float(kl.sum()), active, self.latent_dim, self.text)
        by_index = sorted(self.axes, key=lambda a: a.index)
        self.low = torch.tensor([a.low for a in by_index])  # (D,)
        self.high = torch.tensor([a.high for a in by_index])  # (D,)

    # -- what the page needs to draw itself -----------------------------------------------------
    def _axes(self, kl: torch.Tensor | None) -> list[LatentAxis]:
        """Latent dimensions, most active first, each with its slider range."""
        activity = self.codes.var(dim=0) if self.codes.shape[0] > 1 else torch.zeros(self.codes.shape[1])
        lo, hi = self.codes.min(dim=0).values, self.codes.max(dim=0).values
        margin = 0.1 * (hi - lo) + 1e-3
        lo, hi = lo - margin, hi + margin
        if self.gaussian_prior:
            lo, hi = lo.clamp(max=-PRIOR_SPAN), hi.clamp(min=PRIOR_SPAN)
        # Most active first by the number each slider shows: the KL where there is one, else the variance.
        order = (activity if kl is None else kl).argsort(descending=True, stable=True).tolist()
        return [
            LatentAxis(
                d,
                round(float(activity[d]), 6),
                None if kl is None else round(float(kl[d]), 6),
                round(float(lo[d]), 4),
                round(float(hi[d]), 4),
            )
            for d in order
        ]

    @property
    def latent_dim(self) -> int:
        return self.codes.shape[1]

    @property
    def gaussian_prior(self) -> bool:
        return self.model.has_prior and not self.discrete

    def prior_note(self) -> str:
        """Why 'random sample' does not work, or '' when it does."""
        if self.model.has_prior:
            return ""
        try:
            self.model.prior()
        except VaekitError as err:
            return str(err)
        return ""

    @property
    def text(self) -> bool:
        """A run on sentences: codes decode to words."""
        return self.vocab is not None

    def info(self) -> dict:
        shape = [] if self.text else list(self.cfg.image_shape)
        return {
            "title": self.title,
            "model": self.cfg.model.name,
            "data": self.cfg.data.name,
            "latent_dim": self.latent_dim,
            "image_shape": shape,
            "text": self.text,
            "discrete": self.discrete,
            "num_labels": self.num_labels,
            "has_prior": not self.prior_note(),
            "prior_note": self.prior_note(),
            "collapse": (self.code_use.warning() or "") if self.code_use is not None else "",
            "axes": [asdict(a) for a in self.axes],
            "picks": int(self.pick_x.shape[0]),
            "grid": list(self.model.code_grid.shape) if self.discrete else [],
        }

    def points(self, dim_x: int, dim_y: int) -> list[list[float]]:
        """Test codes projected on two latent dimensions, with labels: [[z_x, z_y, label], ...]."""
        for d in (dim_x, dim_y):
            if not 0 <= d < self.latent_dim:
                raise RequestError(
                    f"dimension {d} does not exist: this model has latent dimensions 0 to {self.latent_dim - 1}"
                )
        c = self.codes[:MAX_POINTS]
        return [
            [round(float(a), 4), round(float(b), 4), int(y)]
            for a, b, y in zip(c[:, dim_x], c[:, dim_y], self.labels[:MAX_POINTS])
        ]

    def picks(self) -> list[dict]:
        """The test images (or sentences) offered for the walk between two of them."""
        if self.text:
            from vaekit.generate.text import decode_texts

            texts = decode_texts(self.vocab, self.pick_x)
            return [{"index": i, "label": int(y), "text": t} for i, (t, y) in enumerate(zip(texts, self.pick_y))]
        return [
            {"index": i, "label": int(y), "png": png_data_uri(x)}
            for i, (x, y) in enumerate(zip(self.pick_x, self.pick_y))
        ]

    # -- checking a request against the run -----------------------------------------------------
    def check_code(self, z: list[float]) -> torch.Tensor:
        if len(z) != self.latent_dim:
            raise RequestError(f"z has {len(z)} values but this model has {self.latent_dim} latent dimensions")
        code = torch.tensor(z, dtype=torch.float32)
        outside = ((code < self.low) | (code > self.high)).nonzero().flatten().tolist()
        if outside:
            d = outside[0]
            raise RequestError(
                f"z[{d}] = {z[d]:g} is out of range: allowed from {float(self.low[d]):g} to "
                f"{float(self.high[d]):g}" + (f" ({len(outside)} values are outside)" if len(outside) > 1 else "")
            )
        return code

    def check_label(self, label: int | None) -> torch.Tensor | None:
        if not self.num_labels:
            if label is not None:
                raise RequestError("this model is not conditional: send no label")
            return None
        if label is None or not 0 <= label < self.num_labels:
            raise RequestError(
                f"this model is conditional: label must be a class from 0 to {self.num_labels - 1}, got {label}"
            )
        return torch.tensor([label], device=self.device)

    def check_pick(self, index: int) -> int:
        if not 0 <= index < self.pick_x.shape[0]:
            raise RequestError(f"test image {index} is not offered: choose from 0 to {self.pick_x.shape[0] - 1}")
        return index

    # -- the work: one decoded image per request ------------------------------------------------
    @torch.no_grad()
    def decode(self, z: list[float], label: int | None = None) -> dict:
        code, y = self.check_code(z), self.check_label(label)
        return self._decoded(code, y)

    def _decoded(self, code: torch.Tensor, y: torch.Tensor | None) -> dict:
        z = [round(float(v), 5) for v in code]
        if self.text:  # the greedy decode: the most likely word at each step, the typical sentence of z
            with self.lock:
                tokens = self.model.decode(code[None].to(self.device)).greedy(**READABLE.kwargs())  # (1, T)
            return {"z": z, "text": decode_texts(self.vocab, tokens)[0]}
        with self.lock:
            image = self.model.decode(code[None].to(self.device), y).mean[0]  # (C, H, W)
        return {"z": z, "png": png_data_uri(image)}

    @torch.no_grad()
    def sample(self, label: int | None = None, temperature: float = 1.0, seed: int = 0) -> dict:
        """A code drawn from the prior (a VQ-VAE: through its code prior), and its decoding."""
        from vaekit.nn.distributions import tempered

        y = self.check_label(label)
        note = self.prior_note()
        if note:
            raise RequestError(note)
        with self.lock, torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(seed)
            prior = self.model.prior(y)  # a cvae's learned p(z|y): batch (1,)
            prior = tempered(prior, temperature) if temperature != 1.0 else prior
            code = prior.sample((1,)).reshape(-1).float().cpu()  # (D,)
        return self._decoded(self._clamped(code), y)

    @torch.no_grad()
    def encode(self, index: int, label: int | None = None) -> dict:
        """A test image's code E[z|x] (through the image's own label for a conditional model) and its decoding."""
        i = self.check_pick(index)
        y = self.check_label(label)
        with self.lock:
            own = self.pick_y[i : i + 1].to(self.device) if self.num_labels else None
            code = self.model.encode(self.pick_x[i : i + 1].to(self.device), own).mean[0].float().cpu()
        return self._decoded(self._clamped(code), y)

    @torch.no_grad()
    def interpolate(self, a: int, b: int, t: float, spherical: bool = False, label: int | None = None) -> dict:
        """The code a fraction t of the way from test image a's code to b's, and its decoding."""
        from vaekit.generate.images import slerp

        ia, ib, y = self.check_pick(a), self.check_pick(b), self.check_label(label)
        with self.lock:
            x = self.pick_x[[ia, ib]].to(self.device)
            own = self.pick_y[[ia, ib]].to(self.device) if self.num_labels else None
            za, zb = self.model.encode(x, own).mean.float().cpu()  # (D,) each
        if spherical:
            code = slerp(za[None], zb[None], torch.tensor([t]))[0, 0]
        else:
            code = za + t * (zb - za)
        return self._decoded(self._clamped(code), y)

    def _clamped(self, code: torch.Tensor) -> torch.Tensor:
        """A code kept inside the sliders' ranges, so the page can show it and send it back."""
        return torch.maximum(torch.minimum(code, self.high), self.low)
