"""How close a training step comes to its matrix products alone, per reference model and thread count.

The arithmetic of an MLP VAE's step is matrix products; everything else (element-wise passes,
the optimizer, drawing and binarizing the batch, per-op dispatch) is overhead. For each model:

1. one step under torch.profiler records the shape of every aten::mm / addmm it runs (forward
   and backward, the VampPrior's pseudo-inputs and mixture density included);
2. `matmul` = the time torch.mm / addmm take at exactly those shapes, on fresh tensors, back to back;
3. `step` = the time vaekit's training step (`StepProgram`: gather, binarize, forward, backward,
   fused Adam) takes on binarized MNIST, batch 100;
4. `adam` = the fused Adam update of the model's parameters alone;
5. ratio = step / (matmul + adam), measured in alternating rounds (median), so that the load of a
   shared machine hits all alike; then the profile's self time by category says where the rest goes.

    VAEKIT_DATA_DIR=../shared/data python benchmarks/matmul_rate.py [--threads 1 2] \
        [--models ref elu hvae burda vamp] [--compile]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile

from vaekit.config import ModelConfig, RunConfig, TrainConfig
from vaekit.data import load_dataset
from vaekit.train.trainer import Trainer

MODELS = {  # name -> (vaekit model, ModelConfig fields): the benchmarks' reference networks
    "ref": ("vae", dict(hidden=(512,), latent_dim=16, activation="relu")),  # issue 5's 784-512-16
    "burda": ("vae", dict(hidden=(200, 200), latent_dim=50, activation="tanh")),  # Burda et al. 2015
    "elu": ("vae", dict(hidden=(300, 300), latent_dim=40, activation="elu")),  # the 60-minute network
    "hvae": ("hvae", dict(hidden=(300, 300), latent_dim=40, activation="elu", options={"top_dim": 20})),
    "vamp": ("vampprior", dict(hidden=(300, 300), latent_dim=40, activation="elu", options={"pseudo_inputs": 500})),
}
MATMULS = ("aten::mm", "aten::addmm")
# With one torch thread: CPU seconds of this thread, not wall-clock, so that on a shared machine
# the time a thread waits for a core is not counted (on a quiet core the two agree); with more
# threads, wall-clock.
clock = time.thread_time


def make_trainer(name: str, data, batch: int = 100, compile: bool = False) -> Trainer:
    model, fields = MODELS[name]
    cfg = RunConfig(
        model=ModelConfig(name=model, likelihood="bernoulli", **fields),
        train=TrainConfig(epochs=1, batch_size=batch, device="cpu", compile=compile),
    )
    trainer = Trainer(cfg, data, tempfile.mkdtemp(prefix="vaekit-matmul-"), show_progress=False)
    perm = torch.randperm(trainer.train_x.shape[0])
    trainer.program.start_epoch(perm, 0)
    trainer.model.train()
    return trainer


def step_profile(trainer: Trainer, steps: int = 20):
    """(matmul shapes of one step, self CPU microseconds per step by op name)."""
    program = trainer.program
    for _ in range(3):
        program()  # warm: Adam's state exists, allocator settled
    program.pos.zero_()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(steps):
            program()
    program.pos.zero_()
    shapes, self_us = [], defaultdict(float)
    for event in prof.events():
        self_us[event.name] += event.self_cpu_time_total / steps
        if event.name in MATMULS and event.input_shapes:
            shapes.append((event.name, tuple(tuple(s) for s in event.input_shapes[:3])))
    per_step = len(shapes) // steps
    return shapes[:per_step], dict(self_us)


def matmul_inputs(shapes):
    made = []
    for name, dims in shapes:
        if name == "aten::mm":
            made.append(("mm", torch.randn(dims[0]), torch.randn(dims[1]), None))
        else:  # addmm(bias, mat1, mat2)
            made.append(("addmm", torch.randn(dims[1]), torch.randn(dims[2]), torch.randn(dims[0])))
    return made


def time_matmuls(inputs, repeats: int) -> float:
    began = clock()
    for _ in range(repeats):
        for kind, a, b, bias in inputs:
            torch.mm(a, b) if kind == "mm" else torch.addmm(bias, a, b)
    return (clock() - began) / repeats


def time_steps(trainer: Trainer, steps: int) -> float:
    program = trainer.program
    program.pos.zero_()
    began = clock()
    for _ in range(steps):
        program()
    return (clock() - began) / steps


def time_adam(model, steps: int) -> float:
    """Seconds per fused Adam update of `model`'s parameters alone (copies, with random gradients)."""
    params = [p.detach().clone().requires_grad_() for p in model.parameters()]
    for p in params:
        p.grad = torch.randn_like(p)
    opt = torch.optim.Adam(params, lr=1e-3, fused=True)
    opt.step()
    began = clock()
    for _ in range(steps):
        opt.step()
    return (clock() - began) / steps


def category(op: str) -> str:
    if op in MATMULS:
        return "matmul"
    if "adam" in op.lower():
        return "optimizer (fused Adam)"
    if op in ("aten::bernoulli_", "aten::bernoulli", "aten::index_select", "aten::randperm"):
        return "batch: gather + binarize"
    if op.startswith("aten::") or op.startswith("autograd::"):
        return "other ops (element-wise, reductions, views, autograd)"
    return "python / dispatch (" + op.split("::")[0] + ")"


def measure(name: str, data, rounds: int, steps: int, steps_per_epoch: int, compile: bool = False) -> None:
    """Alternating rounds of: the step's matmuls alone, its fused Adam alone, the whole step; medians.
    compile: the step under --compile (torch.compile of the objective, forward and backward); the
    matmul shapes and the profile are the eager step's, the compile time is reported apart."""
    torch.manual_seed(0)
    trainer = make_trainer(name, data)
    shapes, self_us = step_profile(trainer)
    if compile:
        trainer = make_trainer(name, data, compile=True)
        began = time.perf_counter()
        for _ in range(3):  # the first call compiles (Inductor's cache on disk makes a repeat quicker)
            trainer.program()
        print(f"\n{name}: compiled in {time.perf_counter() - began:.0f} s wall-clock (first 3 steps)")
    inputs = matmul_inputs(shapes)
    time_matmuls(inputs, 5)
    t = defaultdict(list)
    for _ in range(rounds):
        t["mm"].append(time_matmuls(inputs, steps))
        t["adam"].append(time_adam(trainer.model, steps))
        t["step"].append(time_steps(trainer, steps))
    base = [m + a for m, a in zip(t["mm"], t["adam"])]
    flops = sum(
        2 * (d[0][0] * d[0][1] * d[1][1] if k == "aten::mm" else d[1][0] * d[1][1] * d[2][1]) for k, d in shapes
    )
    med = {k: statistics.median(v) for k, v in t.items()}
    print(
        f"\n{name} ({MODELS[name][0]}{', --compile' if compile else ''}), {torch.get_num_threads()} thread(s): "
        f"{len(shapes)} matmuls per step, "
        f"{flops / 1e6:.0f} MFLOP, {flops / med['mm'] / 1e9:.1f} GFLOP/s in torch.mm; medians of {rounds} rounds:"
    )
    print(f"  matmuls {med['mm'] * 1e3:.2f} ms + fused Adam {med['adam'] * 1e3:.2f} ms per step")
    ratios = [s / b for s, b in zip(t["step"], base)]
    print(
        f"  step {med['step'] * 1e3:.2f} ms: ratio to matmuls + Adam {statistics.median(ratios):.2f} "
        f"(rounds {', '.join(f'{r:.2f}' for r in ratios)}); to matmuls alone {med['step'] / med['mm']:.2f}; "
        f"epoch {med['step'] * steps_per_epoch:.1f} s"
    )
    by_cat = defaultdict(float)
    for op, us in self_us.items():
        by_cat[category(op)] += us
    total = sum(by_cat.values())
    print("  profile, self CPU time per step (profiler on):")
    for cat, us in sorted(by_cat.items(), key=lambda kv: -kv[1]):
        print(f"    {cat:55s} {us / 1e3:7.2f} ms  {100 * us / total:5.1f}%")
    top = sorted(((us, op) for op, us in self_us.items() if category(op) != "matmul"), reverse=True)[:10]
    print("  top non-matmul ops: " + ", ".join(f"{op.replace('aten::', '')} {us / 1e3:.2f}" for us, op in top))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=50, help="training steps timed per round")
    p.add_argument("--compile", action="store_true", help="also time each model's step under --compile")
    args = p.parse_args()
    data = load_dataset("binarized-mnist")
    steps_per_epoch = data.train_x.shape[0] // 100
    print(f"torch {torch.__version__}; binarized MNIST, batch 100, {steps_per_epoch} steps per epoch")
    global clock
    for threads in args.threads:
        torch.set_num_threads(threads)
        clock = time.thread_time if threads == 1 else time.perf_counter
        print(f"\n{threads} thread(s), timed by {'CPU time of the thread' if threads == 1 else 'wall-clock'}")
        for name in args.models:
            measure(name, data, args.rounds, args.steps, steps_per_epoch)
            if args.compile:
                measure(name, data, args.rounds, args.steps, steps_per_epoch, compile=True)


if __name__ == "__main__":
    main()
