"""A trained image model as ONNX graphs: the encoder and the decoder, sampling left outside.

    encoder.onnx   x (B, C, H, W) [, y (B,) int64]  ->  the parameters of q(z|x)   (loc, scale)
    decoder.onnx   z (B, D)       [, y (B,) int64]  ->  the parameters of p(x|z)   (logits | loc, scale)
    onnx.json      shapes, input and output names, the likelihood, the prior (and prior.npz for
                   learned prior parameters)

A graph holds only deterministic maps from inputs to distribution parameters: drawing z from q or
p, and x from p(x|z), is the caller's one line of numpy (`loc + scale * eps`). That is what makes
the export work where a naive `torch.onnx.export(model)` fails on the sampling step. The batch
dimension is dynamic. A model with two stochastic layers (hvae) adds `prior-second.onnx`
(z2 -> p(z1|z2)) and `encoder-second.onnx` (z1 -> q(z2|z1)).

Parameters are read from the distributions by type, as torch.distributions dispatches KL
(`PARAMETERS` below); a distribution without an entry cannot be exported, and the error says so.
The export checks itself: ONNX Runtime must reproduce PyTorch on random inputs (`max_abs_difference`
in onnx.json).
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.distributions import Bernoulli, Distribution, Independent, MixtureSameFamily, Normal

from vaekit.errors import VaekitError
from vaekit.io import atomic_write_bytes, atomic_write_text
from vaekit.nn.distributions import Stages, peel, stages
from vaekit.nn.heads import PointMass

OPSET = 17
META = "onnx.json"
INSTALL = "ONNX export needs onnxruntime: pip install 'vaekit[onnx]'"

# distribution type -> its parameters by name (the graph's outputs)
PARAMETERS = {
    Normal: lambda d: {"loc": d.loc, "scale": d.scale},
    Bernoulli: lambda d: {"logits": d.logits},
    PointMass: lambda d: {"loc": d.loc},
    Independent: lambda d: parameters(d.base_dist),
}


def parameters(dist: Distribution) -> dict[str, torch.Tensor]:
    """The named parameters of a distribution vaekit's models return; of a code drawn in two stages
    (`vaekit.nn.distributions.stages`) those of the layer drawn first: the second is its own graph."""
    split = stages(dist)
    if split is not None:
        return parameters(split[0])
    for kind in type(dist).__mro__:
        if kind in PARAMETERS:
            return PARAMETERS[kind](dist)
    raise VaekitError(f"a {type(dist).__name__} has no ONNX form in vaekit (known: {', '.join(_names())})")


def _names() -> list[str]:
    return [*(k.__name__ for k in PARAMETERS), "a code drawn in two stages"]


class _Graph(nn.Module):
    """fn(*inputs) -> a Distribution, as a module returning its parameters (a tuple, in a fixed order)."""

    def __init__(self, fn, owner: nn.Module):
        super().__init__()
        self.fn, self.owner = fn, owner  # owner: so the traced graph holds its weights
        self.eval()  # the exporter restores the mode it found: eval, or batch norm would turn to training

    def forward(self, *inputs):
        return tuple(parameters(self.fn(*inputs)).values())


def check_exportable(cfg) -> None:
    """Raises VaekitError, in one line, when a run cannot be exported (text) or onnxruntime is missing."""
    if cfg.vocab_size:
        raise VaekitError(
            "ONNX export is for image models: a text model's decoder runs a loop over words (greedy or "
            "beam search) that stays in vaekit; nothing was exported"
        )
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise VaekitError(INSTALL) from None


def export_onnx(model: nn.Module, cfg, out: Path, source: str = "") -> dict:
    """Writes the ONNX graphs and onnx.json of an image `model` (in eval mode) into the folder `out`
    (which must exist and be empty); returns onnx.json's content."""
    check_exportable(cfg)
    model = model.eval()
    c, h, w = cfg.image_shape
    labels = model.num_labels
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, c, h, w, generator=gen)  # (3, C, H, W): a batch of 3 shows the batch is not baked in
    y = torch.randint(labels, (3,), generator=gen) if labels else None
    with torch.no_grad():
        q = model.encode(x, y)
        z = q.mean
    latent_dim = z.shape[-1]
    graphs = {
        "encoder": (_Graph(model.encode, model), {"x": x, **({"y": y} if labels else {})}),
        "decoder": (_Graph(model.decode, model), {"z": z, **({"y": y} if labels else {})}),
    }
    split = stages(q)
    if split is not None:  # z = (z1, z2): q(z2|z1) is a graph of its own
        graphs["encoder-second"] = (_Graph(split[1], model), {"z_first": split[0].mean})
    prior, arrays, second = describe_prior(model)
    if second is not None:
        first, then = second
        graphs["prior-second"] = (_Graph(then, model), {"z_first": first.sample((3,))})
    meta = {
        "format": "vaekit-onnx/1",
        "source": source,
        "model": cfg.model.name,
        "data": cfg.data.name,
        "image_shape": [c, h, w],
        "latent_dim": int(latent_dim),
        "num_labels": int(labels),
        "likelihood": cfg.model.likelihood,
        "fused": bool(cfg.model.fused),
        "opset": OPSET,
        "graphs": {},
        "prior": prior,
    }
    worst = 0.0
    for name, (graph, inputs) in graphs.items():
        meta["graphs"][name], diff = _write_graph(graph, inputs, Path(out) / f"{name}.onnx")
        worst = max(worst, diff)
    meta["max_abs_difference"] = worst
    if arrays:
        buffer = io.BytesIO()
        np.savez(buffer, **{k: v.detach().cpu().numpy().astype(np.float32) for k, v in arrays.items()})
        atomic_write_bytes(Path(out) / "prior.npz", buffer.getvalue())
    atomic_write_text(Path(out) / META, json.dumps(meta, indent=2) + "\n")
    return meta


def _write_graph(graph: _Graph, inputs: dict[str, torch.Tensor], path: Path) -> tuple[dict, float]:
    """Exports one graph with a dynamic batch, then runs it in ONNX Runtime against PyTorch."""
    import onnxruntime as ort

    with torch.no_grad():
        expected = graph(*inputs.values())
    outputs = list(parameters(graph.fn(*inputs.values())).keys())
    dynamic = {name: {0: "batch"} for name in [*inputs, *outputs]}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(
            graph,
            tuple(inputs.values()),
            buffer,
            dynamo=False,  # the TorchScript exporter: no onnxscript needed, seconds instead of a minute
            input_names=list(inputs),
            output_names=outputs,
            dynamic_axes=dynamic,
            opset_version=OPSET,
        )
    atomic_write_bytes(path, buffer.getvalue())
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    got = session.run(None, {k: v.numpy() for k, v in inputs.items()})
    diff = max(float(np.abs(g - e.numpy()).max()) for g, e in zip(got, expected))
    spec = {
        "file": path.name,
        "inputs": {
            k: {"shape": ["batch", *v.shape[1:]], "dtype": str(v.dtype).removeprefix("torch.")}
            for k, v in inputs.items()
        },
        "outputs": {k: ["batch", *e.shape[1:]] for k, e in zip(outputs, expected)},
    }
    return spec, diff


def describe_prior(model) -> tuple[dict, dict[str, torch.Tensor], Stages | None]:
    """(onnx.json's "prior", arrays for prior.npz, a two-layer prior whose second layer needs a graph)."""
    if not model.has_prior:
        return (
            {"type": "none", "why": "the model has no prior p(z) (an autoencoder, or a VQ-VAE before train-prior)"},
            {},
            None,
        )
    with torch.no_grad():
        if model.num_labels:
            p = model.prior(torch.arange(model.num_labels))  # p(z|y) for every label: batch (L,)
            loc, scale = p.base_dist.loc, p.base_dist.scale
            if loc.dim() == 2:
                return (
                    {"type": "normal", "per_label": True, "arrays": ["loc", "scale"]},
                    {"loc": loc, "scale": scale},
                    None,
                )
        if model.code_kind == "grid":  # its prior is an autoregressive model over code grids
            return {"type": "none", "why": NOT_EXPORTED_CODE_PRIOR}, {}, None
        p = model.prior()
        split = stages(p)
        if split is not None:  # p(z2) p(z1|z2): the second stage is a graph of its own
            top = peel(split[0])
            desc = {"type": "two-layer", "first": _normal(top.loc, top.scale), "second": "prior-second.onnx"}
            return desc, {}, split
        if isinstance(p, MixtureSameFamily):
            base = p.component_distribution.base_dist
            weights = torch.softmax(p.mixture_distribution.logits, -1)
            arrays = {"weights": weights, "loc": base.loc, "scale": base.scale}
            return {"type": "mixture", "arrays": list(arrays)}, arrays, None
        base = p.base_dist
        return _normal(base.loc, base.scale), {}, None


NOT_EXPORTED_CODE_PRIOR = (
    "the VQ-VAE's code prior is an autoregressive model over code grids: it is not exported "
    "(sample codes with 'vaekit sample', or encode images); encoder and decoder are"
)


def _normal(loc: torch.Tensor, scale: torch.Tensor) -> dict:
    if bool((loc == 0).all()) and bool((scale == 1).all()):
        return {"type": "normal", "loc": 0.0, "scale": 1.0}
    return {"type": "normal", "loc": loc.tolist(), "scale": scale.tolist()}


__all__ = ["META", "PARAMETERS", "check_exportable", "describe_prior", "export_onnx", "parameters"]
