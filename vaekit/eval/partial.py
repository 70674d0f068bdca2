"""Long evaluations that survive being stopped: the running sums kept on disk, continued by the same command.

An importance-sampled NLL at K = 1000 over the Penn Treebank test set takes hours of one CPU core.
The loops of `vaekit.eval.likelihood` and `vaekit.eval.text` go block by block; after each block,
`Partial.add` writes what they have summed so far, the posterior means seen, and the random
generators' states to RUN_DIR/eval-...partial.safetensors (atomically: a kill mid-write leaves the
previous one). The same command finds the file, checks that the same evaluation made it (checkpoint
SHA-256, split, K, seed, block size, precision...), restores the generators and goes on from the
next block, so the continued evaluation draws the same z as an unbroken one and ends at the same
number. The finished result deletes the file.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import torch

from vaekit.errors import VaekitError, VaekitWarning
from vaekit.io import load_tensors, save_tensors


class Partial:
    """The running state of one evaluation: blocks done, data points done, (3,) float64 sums, the
    posterior means of the blocks done and each data point's -log p(x) (`per_example`). `path` None
    keeps it in memory only (a library call)."""

    def __init__(self, path: Path | None = None, identity: dict | None = None):
        self.path, self.identity = (Path(path) if path is not None else None), dict(identity or {})
        self.blocks, self.done = 0, 0
        self.totals = torch.zeros(3, dtype=torch.float64)
        self.means: list[torch.Tensor] = []
        self.nll: list[torch.Tensor] = []  # per data point, float64, in the order the blocks came
        self.index: list[torch.Tensor] = []  # where each of those sits in the data
        self._rng: dict[str, torch.Tensor] = {}

    @classmethod
    def open(cls, path: Path, identity: dict) -> Partial:
        """The state saved at `path` by the same evaluation, or a fresh one (a file left by a different
        evaluation is said and replaced when the first block is saved)."""
        state = cls(path, identity)
        if not state.path.is_file():
            return state
        try:
            tensors, meta = load_tensors(state.path)
        except VaekitError as err:
            print(f"starting afresh: {err}", file=sys.stderr)
            return state
        if (meta or {}).get("identity") != identity:
            print(
                f"starting afresh: {state.path.name} was left by a different evaluation (another checkpoint, "
                f"K, seed or block size); it is replaced",
                file=sys.stderr,
            )
            return state
        state.blocks, state.done = int(meta["blocks"]), int(meta["done"])
        state.totals = tensors["totals"]
        state.means, state.nll, state.index = ([tensors[k]] if k in tensors else [] for k in ("means", "nll", "index"))
        state._rng = {k: v for k, v in tensors.items() if k.startswith("rng_")}
        print(
            f"continuing an interrupted evaluation from {state.path.name}: {state.done:,} data points done",
            file=sys.stderr,
        )
        return state

    def seed(self, seed: int, device: torch.device) -> None:
        """Seeds the generators for a fresh evaluation, or puts back those saved after the last block."""
        torch.manual_seed(seed)
        if "rng_cpu" in self._rng:
            torch.set_rng_state(self._rng["rng_cpu"])
        if device.type == "cuda" and "rng_cuda" in self._rng:
            torch.cuda.set_rng_state(self._rng["rng_cuda"], device)

    def add(
        self, sums: torch.Tensor, means: torch.Tensor | None, nll: torch.Tensor, index: torch.Tensor, device
    ) -> None:
        """One more block: its (3,) sums, (B, D) posterior means (None without a code), each data
        point's -log p(x) (B,) and their positions in the data (B,); then saved."""
        self.totals += sums.double().cpu()
        if means is not None:
            self.means.append(means.detach().cpu())
        self.nll.append(nll.detach().double().cpu())
        self.index.append(index.detach().long().cpu())
        self.blocks, self.done = self.blocks + 1, self.done + len(index)
        if self.path is not None:
            self._save(device)

    def _save(self, device: torch.device) -> None:
        self._rng = {"rng_cpu": torch.get_rng_state()}
        if device.type == "cuda":
            self._rng["rng_cuda"] = torch.cuda.get_rng_state(device)
        for name in ("means", "nll", "index"):  # one tensor each on disk and in memory
            if len(getattr(self, name)) > 1:
                setattr(self, name, [torch.cat(getattr(self, name))])
        listed = {name: getattr(self, name)[0] for name in ("means", "nll", "index") if getattr(self, name)}
        tensors = {"totals": self.totals, **self._rng, **listed}
        meta = {"identity": self.identity, "blocks": self.blocks, "done": self.done}
        try:
            save_tensors(self.path, tensors, meta)
        except OSError as err:  # a read-only run folder: the evaluation goes on, it just cannot be continued
            warnings.warn(
                f"could not save {self.path} ({err.strerror}): this evaluation cannot be continued if stopped",
                VaekitWarning,
                stacklevel=2,
            )
            self.path = None

    def code_means(self) -> torch.Tensor:
        return torch.cat(self.means)

    def per_example(self, n: int) -> torch.Tensor:
        """(n,) float64: each data point's -log p(x) in the data's order (NaN where not yet evaluated)."""
        out = torch.full((n,), float("nan"), dtype=torch.float64)
        if self.nll:
            out[torch.cat(self.index)] = torch.cat(self.nll)
        return out

    def finish(self) -> None:
        """The evaluation is complete: its result is written elsewhere, the running state is not needed."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
