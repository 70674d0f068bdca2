"""Structural re-parameterization: train a convolution as a sum of branches, run it as one.

RepVGG (Ding et al. 2021) trains a block as a 3x3 convolution + batch norm, plus a 1x1
convolution + batch norm, plus a batch norm on the identity where the shapes allow (stride 1,
as many outputs as inputs). ACNet (Ding et al. 2019) trains a 3x3, a 1x3 and a 3x1 convolution,
each with batch norm. In eval mode every branch is linear in the block's input:

    conv then eval-mode BN   = one conv with each output channel's kernel scaled by
                               gamma / sqrt(var + eps) and bias (b - mean) * that + beta
    a 1x1, 1x3 or 3x1 kernel = a 3x3 kernel that is zero around it (the paddings keep the centres
                               aligned, for stride 1 and 2 and odd or even sizes alike)
    the identity             = a 3x3 "Dirac" kernel: 1 at the centre of channel c -> c
    a sum of convolutions    = one convolution with the summed kernel and summed bias
                               (same input, same stride, same output grid)

so `fuse()` returns one plain `nn.Conv2d` (3x3, with bias) whose outputs equal the block's up to
float rounding. Folding uses PyTorch's own `fuse_conv_bn_eval` / `fuse_conv_bn_weights` and
`nn.init.dirac_`. In training mode batch norm divides by each batch's own statistics, which no
fixed convolution reproduces, so fusing then is refused.

This is not the VAE's reparameterization trick (z = mu + sigma * eps); the two are set side by
side in docs/reparameterization.md.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.functional import pad
from torch.nn.utils import fuse_conv_bn_eval, fuse_conv_bn_weights

from vaekit.errors import VaekitError

# branch name -> (kernel size, padding that centres it on the 3x3 window)
CONV_BRANCHES: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "3x3": ((3, 3), (1, 1)),
    "1x1": ((1, 1), (0, 0)),
    "1x3": ((1, 3), (0, 1)),
    "3x1": ((3, 1), (1, 0)),
}
# block kind -> its training-time branches; "identity" is kept only where the shapes allow it
BLOCKS: dict[str, tuple[str, ...]] = {
    "plain": ("3x3",),  # conv + BN: the baseline with the same inference-time shape
    "repvgg": ("3x3", "1x1", "identity"),  # Ding et al. 2021
    "acnet": ("3x3", "1x3", "3x1"),  # Ding et al. 2019 (asymmetric convolution blocks)
}


class BranchedConv2d(nn.Module):
    """A 3x3 convolution trained as a sum of branches, each ending in batch norm.

    `branches` names them: any of "3x3", "1x1", "1x3", "3x1" (a convolution + BN) and "identity"
    (BN on the input; needs stride 1 and in_channels == out_channels). (B, C_in, H, W) ->
    (B, C_out, ceil(H / stride), ceil(W / stride)), like `nn.Conv2d(C_in, C_out, 3, stride, 1)`.
    """

    def __init__(self, in_channels: int, out_channels: int, branches, stride: int = 1, groups: int = 1):
        super().__init__()
        branches = tuple(branches)
        unknown = sorted(set(branches) - {*CONV_BRANCHES, "identity"})
        if unknown or not branches:
            raise VaekitError(
                f"unknown branch(es) {unknown or 'none given'}: choose from {', '.join(CONV_BRANCHES)}, identity"
            )
        if "identity" in branches and (stride != 1 or in_channels != out_channels):
            raise VaekitError(
                f"an identity branch needs stride 1 and in == out channels, got stride {stride}, "
                f"{in_channels} -> {out_channels}"
            )
        if in_channels % groups or out_channels % groups:
            raise VaekitError(
                f"groups={groups} must divide both {in_channels} input and {out_channels} output channels"
            )
        self.in_channels, self.out_channels, self.stride, self.groups = in_channels, out_channels, stride, groups
        self.branches = nn.ModuleDict()
        for name in branches:
            if name == "identity":
                self.branches[name] = nn.BatchNorm2d(out_channels)
            else:
                size, padding = CONV_BRANCHES[name]
                conv = nn.Conv2d(in_channels, out_channels, size, stride, padding, groups=groups, bias=False)
                self.branches[name] = nn.Sequential(conv, nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(branch(x) for branch in self.branches.values())  # (B, C_out, H', W')

    @torch.no_grad()
    def fuse(self) -> nn.Conv2d:
        """The equivalent 3x3 `nn.Conv2d` with bias (eval mode only: see the module docstring)."""
        if self.training:
            raise VaekitError(
                "fuse() needs eval mode: call .eval() first. In training mode batch norm uses each "
                "batch's own statistics, so a fused convolution would not match the block's outputs"
            )
        like = next(self.parameters())  # the dtype and device of the result
        weight = like.new_zeros(self.out_channels, self.in_channels // self.groups, 3, 3)  # (C_out, C_in/g, 3, 3)
        bias = weight.new_zeros(self.out_channels)
        for name, branch in self.branches.items():
            if name == "identity":
                dirac = nn.init.dirac_(torch.empty_like(weight), groups=self.groups)  # channel c -> c, centre tap
                w, b = fuse_conv_bn_weights(
                    dirac, None, branch.running_mean, branch.running_var, branch.eps, branch.weight, branch.bias
                )
            else:
                folded = fuse_conv_bn_eval(*branch)  # conv + BN -> conv with bias
                (kh, kw), _ = CONV_BRANCHES[name]
                w = pad(folded.weight, ((3 - kw) // 2,) * 2 + ((3 - kh) // 2,) * 2)  # zero-pad to 3x3
                b = folded.bias
            weight += w
            bias += b
        fused = nn.Conv2d(self.in_channels, self.out_channels, 3, self.stride, 1, groups=self.groups, bias=True)
        fused = fused.to(device=weight.device, dtype=weight.dtype)
        fused.weight.copy_(weight)
        fused.bias.copy_(bias)
        return fused.eval()


def make_block(
    kind: str, in_channels: int, out_channels: int, stride: int = 1, groups: int = 1, fused: bool = False
) -> nn.Module:
    """A block of `kind` (a key of BLOCKS); identity dropped where shapes forbid it.

    With `fused` it is the plain 3x3 `nn.Conv2d` the block fuses into: the skeleton an exported
    run's weights are loaded into.
    """
    if kind not in BLOCKS:
        raise VaekitError(f"unknown block {kind!r}: choose one of {', '.join(BLOCKS)}")
    if fused:
        return nn.Conv2d(in_channels, out_channels, 3, stride, 1, groups=groups, bias=True)
    allows_identity = stride == 1 and in_channels == out_channels
    branches = [b for b in BLOCKS[kind] if b != "identity" or allows_identity]
    return BranchedConv2d(in_channels, out_channels, branches, stride, groups)


def fuse_blocks(model: nn.Module) -> nn.Module:
    """A copy of `model` (in eval mode) with every BranchedConv2d replaced by its fused Conv2d.

    The fused convolution takes the block's place, so its weights are named `<block path>.weight`
    and `<block path>.bias`; the original model is left as it was.
    """
    if model.training:
        raise VaekitError(
            "fuse_blocks() needs a model in eval mode: call model.eval() first (training-mode batch "
            "norm uses batch statistics that no fused convolution can reproduce)"
        )
    fused = copy.deepcopy(model)
    for parent in list(fused.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, BranchedConv2d):
                setattr(parent, name, child.fuse())
    return fused


def count_blocks(model: nn.Module) -> int:
    """How many branched blocks `model` holds (0 once fused)."""
    return sum(isinstance(m, BranchedConv2d) for m in model.modules())
