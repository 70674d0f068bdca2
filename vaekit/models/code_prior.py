"""A prior over a VQ-VAE's code grid: a small causal transformer, autoregressive in raster order.

    p(k) = prod_{i=1}^{h*w} p(k_i | k_1, ..., k_{i-1})

The paper (van den Oord et al. 2017) fits a PixelCNN; a causal transformer over the h*w cells
(49 for a 7x7 grid) does the same job in less code: cell i sees exactly the cells before it in
raster order, through a causal attention mask, and a start token stands in for "nothing yet".
It is fitted after the VQ-VAE, on the codes of the training images (`vaekit train-prior`), and
saved beside the run as `prior.safetensors` (weights, with the config in the header) plus a
readable `prior.json` (config and fitting record). `load_run` attaches it to the model, whose
`prior()` is then a `CodeGridPrior` (a torch Distribution), and `vaekit sample` draws code grids
from it and decodes them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn
from torch.distributions import Distribution, constraints

from vaekit.errors import VaekitError
from vaekit.io import atomic_write_text, load_tensors, save_tensors
from vaekit.nn.distributions import register_tempered

PRIOR_WEIGHTS, PRIOR_RECORD = "prior.safetensors", "prior.json"


class CodePrior(nn.Module):
    """A causal transformer over code grids (B, h, w) with values in [0, num_codes)."""

    def __init__(
        self,
        num_codes: int,
        grid_hw: tuple[int, int],
        dim: int = 128,
        layers: int = 2,
        heads: int = 4,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.config = {
            "num_codes": num_codes,
            "grid_hw": list(grid_hw),
            "dim": dim,
            "layers": layers,
            "heads": heads,
            "dropout": dropout,
        }
        self.num_codes, self.grid_hw = num_codes, tuple(grid_hw)
        length = grid_hw[0] * grid_hw[1]
        self.token = nn.Embedding(num_codes + 1, dim)  # the last index is the start token
        self.position = nn.Parameter(0.02 * torch.randn(1, length, dim))
        block = nn.TransformerEncoderLayer(
            dim, heads, 4 * dim, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, num_codes)
        self.register_buffer("causal", nn.Transformer.generate_square_subsequent_mask(length), persistent=False)

    def _logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Token inputs (B, T) (start token first) -> next-code logits (B, T, K)."""
        t = inputs.shape[1]
        h = self.token(inputs) + self.position[:, :t]  # (B, T, dim)
        h = self.blocks(h, mask=self.causal[:t, :t], is_causal=True)
        return self.head(self.norm(h))

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """Logits of p(k_i | k_<i) for every cell: codes (B, h, w) -> (B, h*w, K)."""
        seq = codes.flatten(1)  # (B, T)
        start = torch.full_like(seq[:, :1], self.num_codes)
        return self._logits(torch.cat([start, seq[:, :-1]], dim=1))

    def log_prob(self, codes: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """log p(k) in nats for code grids (B, h, w) -> (B,); each cell drawn from softmax(logits / temperature)."""
        logits = self(codes)  # (B, T, K)
        if temperature != 1.0:
            logits = logits / temperature
        return -nn.functional.cross_entropy(logits.transpose(1, 2), codes.flatten(1), reduction="none").sum(1)

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0) -> torch.Tensor:
        """n code grids (n, h, w), one cell at a time (global torch RNG)."""
        device = self.position.device
        seq = torch.full((n, 1), self.num_codes, dtype=torch.long, device=device)  # (n, 1) start tokens
        for _ in range(self.grid_hw[0] * self.grid_hw[1]):
            logits = self._logits(seq)[:, -1] / temperature  # (n, K)
            nxt = torch.multinomial(torch.softmax(logits, -1), 1)  # (n, 1)
            seq = torch.cat([seq, nxt], dim=1)
        return seq[:, 1:].view(n, *self.grid_hw)


class CodeGridPrior(Distribution):
    """p(z) of a VQ-VAE with a code prior, as a distribution over flattened code vectors (D*h*w,).

    A draw is a code grid k ~ p(k) (the causal transformer, cell by cell) replaced by its codebook
    vectors: z = e_k, (D, h, w) flattened. `log_prob(z)` is log p(k(z)) in nats, k(z) the nearest
    codes of z: the code grid's log-likelihood. The distribution is discrete (its support is the
    K^(h*w) codebook grids), so that is a probability, not a density; for z drawn from it, k(z) = k.
    With temperature T every cell is drawn from softmax(logits / T), in `sample` and `log_prob` alike.
    """

    arg_constraints: dict = {}
    support = constraints.real_vector

    def __init__(
        self, code_prior: CodePrior, quantizer: nn.Module, grid: tuple[int, int, int], temperature: float = 1.0
    ):
        self.code_prior, self.quantizer, self.grid, self.temperature = code_prior, quantizer, tuple(grid), temperature
        super().__init__(torch.Size(), torch.Size([math.prod(grid)]), validate_args=False)

    def tempered(self, temperature: float) -> CodeGridPrior:
        """The same prior drawing each code from softmax(logits / temperature)."""
        return CodeGridPrior(self.code_prior, self.quantizer, self.grid, self.temperature * temperature)

    @torch.no_grad()
    def sample(self, sample_shape=torch.Size()) -> torch.Tensor:
        n = math.prod(sample_shape) if len(sample_shape) else 1
        codes = self.code_prior.sample(n, self.temperature)  # (n, h, w)
        z = self.quantizer.lookup(codes).flatten(1)  # (n, D*h*w)
        return z.reshape(*sample_shape, z.shape[-1])

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """log p(k(z)) for z (..., D*h*w) -> (...,)."""
        lead = value.shape[:-1]
        codes = self.quantizer.quantize(value.reshape(-1, *self.grid))  # (N, h, w)
        return self.code_prior.log_prob(codes, self.temperature).reshape(lead)


@register_tempered(CodeGridPrior)
def _tempered_code_prior(prior: CodeGridPrior, temperature: float) -> CodeGridPrior:
    return prior.tempered(temperature)


@torch.no_grad()
def encode_codes(model, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """The code grids of images x (N, C, H, W) under a VQ-VAE -> (N, h, w) int64, on x's device."""
    model.eval()
    return torch.cat([model.codes(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)])


def fit_code_prior(
    prior: CodePrior,
    train: torch.Tensor,
    val: torch.Tensor,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    bar=None,
) -> list[dict]:
    """Fits `prior` by maximum likelihood on code grids train (N, h, w); returns per-epoch records
    with the train and validation NLL in nats per image. `bar` (a tqdm) is advanced per step."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(prior.parameters(), lr=lr)
    steps = max(1, train.shape[0] // batch_size)
    history = []
    for epoch in range(epochs):
        prior.train()
        perm = torch.randperm(train.shape[0], device=train.device)
        total = torch.zeros((), device=train.device)
        for step in range(steps):
            nll = -prior.log_prob(train[perm[step * batch_size : (step + 1) * batch_size]]).mean()
            opt.zero_grad(set_to_none=True)
            nll.backward()
            nn.utils.clip_grad_norm_(prior.parameters(), 1.0)
            opt.step()
            total += nll.detach()
            if bar is not None and (step + 1) % 20 == 0:
                bar.update(20)
                bar.set_postfix({"nll": f"{float(total) / (step + 1):.2f}"}, refresh=False)
        if bar is not None:
            bar.update(steps % 20)
        history.append({"epoch": epoch + 1, "train_nll": float(total) / steps, "val_nll": code_nll(prior, val)})
    prior.eval()
    return history


@torch.no_grad()
def code_nll(prior: CodePrior, codes: torch.Tensor, batch_size: int = 1000) -> float:
    """Mean -log p(k) in nats per image over code grids (N, h, w)."""
    prior.eval()
    total = sum(float(-prior.log_prob(codes[i : i + batch_size]).sum()) for i in range(0, codes.shape[0], batch_size))
    return total / max(1, codes.shape[0])


def save_code_prior(run_dir: Path, prior: CodePrior, record: dict) -> Path:
    """Writes prior.safetensors (weights + config, one atomic file) and prior.json (a readable record)."""
    run_dir = Path(run_dir)
    save_tensors(run_dir / PRIOR_WEIGHTS, prior.state_dict(), {"config": prior.config})
    atomic_write_text(run_dir / PRIOR_RECORD, json.dumps({"config": prior.config, **record}, indent=2) + "\n")
    return run_dir / PRIOR_WEIGHTS


def load_code_prior(run_dir: Path, device: str | torch.device = "cpu") -> CodePrior | None:
    """The code prior saved in run_dir, in eval mode, or None when the run has none."""
    path = Path(run_dir) / PRIOR_WEIGHTS
    if not path.is_file():
        return None
    tensors, meta = load_tensors(path, device)
    if not meta or "config" not in meta:
        raise VaekitError(f"{path} has no prior config in its header: fit it again with 'vaekit train-prior {run_dir}'")
    try:
        prior = CodePrior(**meta["config"]).to(device)
        missing, unexpected = prior.load_state_dict(tensors, strict=False)
    except (TypeError, ValueError, RuntimeError) as err:  # a hand-edited header, a tensor of the wrong shape
        raise VaekitError(
            f"{path} does not fit its config ({str(err).splitlines()[-1].strip()[:200]}): "
            f"fit it again with 'vaekit train-prior {run_dir}'"
        ) from None
    if missing or unexpected:
        raise VaekitError(f"{path} does not fit its config (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return prior.eval()


def bits_per_code(nll_per_image: float, grid_hw) -> float:
    """nats per image -> bits per code cell."""
    return nll_per_image / (grid_hw[0] * grid_hw[1]) / math.log(2)
