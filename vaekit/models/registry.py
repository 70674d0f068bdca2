"""The model registry: a name -> how to build the network and which objective trains it.

Each model module registers its own entries (`MODELS["vae"] = ModelSpec(...)`), and
`vaekit/models/__init__.py` imports every model module once. Adding a model is one model file
(or one objective) plus its entry; the registry-driven tests then cover it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from vaekit.errors import VaekitError


@dataclass(frozen=True)
class ModelSpec:
    build: Callable[..., Any]  # (ModelConfig, image_shape (C, H, W), num_classes) -> nn.Module
    objective: Callable[..., Any]  # (**options) -> objective(model, x, y, progress) -> LossOutput
    options: dict[str, Any] = field(default_factory=dict)  # option name -> default value
    summary: str = ""


MODELS: dict[str, ModelSpec] = {}


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise VaekitError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    return MODELS[name]


def resolve_options(name: str, given: dict[str, Any]) -> dict[str, Any]:
    """The model's options: its defaults overridden by `given`; unknown names are errors."""
    spec = get_spec(name)
    unknown = sorted(set(given) - set(spec.options))
    if unknown:
        known = ", ".join(spec.options) or "none"
        raise VaekitError(f"option(s) {', '.join(unknown)} do not apply to model {name!r} (its options: {known})")
    return {**spec.options, **given}


def build_model(cfg, image_shape, num_classes: int):
    """The network for a ModelConfig, on the CPU, in float32."""
    return get_spec(cfg.name).build(cfg, image_shape, num_classes)


def build_objective(cfg):
    """The objective for a ModelConfig, with its options."""
    return get_spec(cfg.name).objective(**resolve_options(cfg.name, cfg.options))
