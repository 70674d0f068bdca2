"""The training loop: data on the device, batches drawn by index there, no host sync per step.

A Python DataLoader per batch, a `.item()` per step and a per-step progress print are what make
small models slow in popular libraries. Here the whole dataset is moved to the device once;
each epoch draws a permutation on the device, and the step itself (`vaekit.train.step`) indexes
its batch out of it, keeps running sums of the loss terms on the device, and on a GPU is replayed
from one captured CUDA graph. The host reads the sums only every `log_every` steps and at epoch end.

Every epoch is reproducible from (seed, epoch) alone: the permutation, the binarization draws
and the reparameterization noise are all seeded from it, so `--resume` after a kill replays
exactly the epochs the uninterrupted run would have. Under torchrun the same loop runs on every
rank with DistributedDataParallel (see `vaekit.train.distributed`).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from vaekit.config import RunConfig
from vaekit.data.pairs import SOURCE_VOCAB
from vaekit.data.splits import DataSplits
from vaekit.data.text import bucketed_order, pair_lengths, sentence_lengths, trim_padding
from vaekit.errors import VaekitError
from vaekit.models import build_objective
from vaekit.options import batch_steps
from vaekit.precision import precision
from vaekit.train import checkpoint as ckpt
from vaekit.train import distributed, lock, tracking
from vaekit.train.average import WeightAverage
from vaekit.train.metrics import read_metrics
from vaekit.train.setup import network, resolve_device, training_config
from vaekit.train.step import (
    GraphedStep,
    ObjectiveLoss,
    StepProgram,
    compiled,
    epoch_seed,
    log_linear_lr,
    make_optimizer,
    set_lr,
)

VOCAB = "vocab.json"  # a text run's vocabulary (vaekit.data.vocab.Vocabulary); a translation run's target one


class Trainer:
    """Trains the model a RunConfig describes on a DataSplits, writing into `run_dir`.

    `model` trains a network you made instead of the one `cfg.model` names, provided that one is
    the same network (the run holds weights only, and must open again from its config.json).
    Nothing is written until `fit`, and `fit` refuses a `run_dir` that holds a run unless
    `overwrite` is set or `resume()` was called: an existing run is never replaced unasked.
    `resume()` and `fit` take the run's lock (`vaekit.train.lock`): one writer per run folder,
    until `fit` returns or raises.
    """

    def __init__(
        self,
        cfg: RunConfig,
        data: DataSplits,
        run_dir: Path,
        show_progress: bool = True,
        overwrite: bool = False,
        *,
        model: nn.Module | None = None,
        hooks: tuple[tracking.TrainHook, ...] = (),
    ):
        cfg = training_config(cfg, data)  # checked, with what depends on the data filled in
        self.cfg, self.data, self.run_dir = cfg, data, Path(run_dir)
        self.overwrite, self.resumed, self.locked = overwrite, False, False
        self.world = distributed.current_world()
        self.hooks = tuple(hooks) if self.world.is_main else ()  # vaekit.train.tracking: the trackers
        distributed.init(self.world, cfg.train.device)
        self.show_progress = show_progress and self.world.is_main
        self.device = resolve_device(cfg.train.device, self.world.local_rank)
        later = batch_steps(cfg.train.batch_schedule) if cfg.train.batch_schedule else ()
        self.batches = ((0.0, cfg.train.batch_size), *later)  # (from this fraction of the run, batch size)
        for _, size in self.batches:  # every batch of the schedule shards over the processes
            distributed.shard_size(self.world, size)
        torch.manual_seed(cfg.train.seed)  # identical initial weights on every rank
        self.model = network(cfg, model).to(self.device)
        self.objective = build_objective(cfg.model)
        check = getattr(self.objective, "check", None)  # what it needs of the model, said before any run is made
        if check is not None:
            check(self.model)
        self.step_fn = ObjectiveLoss(self.model, self.objective)
        if self.world.active:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.step_fn = nn.parallel.DistributedDataParallel(self.step_fn, device_ids=ids)
        # One CUDA graph per step where it can work: on a GPU, in one process (DDP's bucketed
        # all-reduce is left to run eagerly).
        # Sentences have a batch-dependent length, so text steps run eagerly.
        self.graphed = (
            cfg.train.cuda_graph and self.device.type == "cuda" and not self.world.active and not data.is_text
        )
        self.optimizer = make_optimizer(self.model.parameters(), cfg.train.lr, self.device, capturable=self.graphed)
        self.average = WeightAverage(self.model, cfg.train.ema) if cfg.train.ema else None  # --ema
        self.history: list[dict] = []
        self.start_epoch, self.best_val = 0, math.inf
        self.elapsed_before = 0.0  # training seconds of earlier invocations (a resumed run)
        self.steps_before = 0  # optimizer steps taken before the current epoch (the trackers' x axis)
        self._place_data(data)
        self.step_loss = compiled(self.step_fn, self.graphed) if cfg.train.compile else self.step_fn
        self._use_batch(cfg.train.batch_size)

    def _place_data(self, data: DataSplits) -> None:
        """The dataset on the device, from here on; sentences sorted by length for validation."""
        self.train_x, self.train_y = data.train_x.to(self.device), data.train_y.to(self.device)
        self.val_x, self.val_y = data.val_x.to(self.device), data.val_y.to(self.device)
        self.lengths, self.vocab, self.pairs = None, data.vocab, data.pairs
        if data.is_text:  # batches of like lengths, padding trimmed per batch: see vaekit.data.text
            lengths = pair_lengths if data.is_pairs else lambda x, _: sentence_lengths(x)
            self.lengths = lengths(self.train_x, self.train_y)
            by_length = torch.argsort(lengths(self.val_x, self.val_y))
            self.val_x, self.val_y = self.val_x[by_length], self.val_y[by_length]

    def _use_batch(self, global_batch: int) -> None:
        """The training step over the device-resident data at this batch size (compiled when asked;
        a compiled step compiles once more for a new batch shape, a graphed one is captured again)."""
        t = self.cfg.train
        self.local_batch = distributed.shard_size(self.world, global_batch)
        self.program = StepProgram(
            self.step_loss,
            self.model,
            self.optimizer,
            self.train_x,
            self.train_y,
            local_batch=self.local_batch,
            rank=self.world.rank,
            world_size=self.world.size,
            binarize=self.data.dynamic_binarize,
            grad_clip=t.grad_clip,
            precision_name=t.precision,
            trim_padding=self.data.is_text,
        )
        self.run_step = GraphedStep(self.program) if self.graphed else self.program

    # -- schedule ---------------------------------------------------------------------------
    def lr_at(self, epoch: int, elapsed: float = 0.0) -> float:
        """Constant, or log-linear from lr to lr_end (Burda et al.'s schedule shape): over the epochs,
        or with a time budget over the seconds, as a function of `elapsed` (the epoch count is then a cap)."""
        t = self.cfg.train
        if t.time_budget is not None:
            return t.lr * (self.lr_end / t.lr) ** min(1.0, elapsed / t.time_budget)
        return log_linear_lr(t.lr, t.lr_end, epoch, t.epochs)

    def fraction(self, epoch: int, elapsed: float) -> float:
        """How far the run is: the share of its epochs, or with a time budget of its clock, as the
        learning rate's schedule counts it."""
        t = self.cfg.train
        return min(1.0, elapsed / t.time_budget) if t.time_budget is not None else epoch / t.epochs

    def batch_at(self, fraction: float) -> int:
        """The batch size --batch-schedule gives at this point of the run (--batch-size before it)."""
        return [size for start, size in self.batches if fraction >= start][-1]

    def _schedule_batch(self, epoch: int, elapsed: float) -> float:
        """Moves to the batch size of this point of the run; returns the learning rate's factor there,
        the square root of the batch's ratio to --batch-size (1 without a schedule)."""
        size = self.batch_at(self.fraction(epoch, elapsed))
        factor = math.sqrt(size / self.cfg.train.batch_size)
        if size != self.program.global_batch:
            self._use_batch(size)
            if self.show_progress:
                tqdm.write(f"epoch {epoch + 1}: batch size {size}, learning rate x{factor:.3g} (--batch-schedule)")
        return factor

    def _schedule_objective(self, epoch: int, elapsed: float) -> None:
        """Tells an objective that changes over the run (IWAE's late_k) how far the run is."""
        at_fraction = getattr(self.objective, "at_fraction", None)
        if at_fraction is None:
            return
        said = at_fraction(self.fraction(epoch, elapsed))
        if said is None:
            return
        if self.graphed:  # the captured graph replays the old shapes: capture the step again
            self.run_step = GraphedStep(self.program)
        if self.show_progress:
            tqdm.write(f"epoch {epoch + 1}: {said}")

    @property
    def lr_end(self) -> float:
        """Where the schedule ends: --lr-end, or with a time budget and none given, a tenth of --lr."""
        t = self.cfg.train
        if t.lr_end is not None:
            return t.lr_end
        return t.lr / 10 if t.time_budget is not None else t.lr

    # -- resume -----------------------------------------------------------------------------
    def resume(self) -> None:
        """Continues from the last finished epoch; a run killed before its first one starts over."""
        self.resumed = True
        self._lock()
        try:
            self._load_resume_state()
        except BaseException:
            self._unlock()
            raise

    def _load_resume_state(self) -> None:
        if not (self.run_dir / ckpt.OPTIMIZER).is_file():
            return
        if not ckpt.holds_weights(self.run_dir / ckpt.OPTIMIZER):  # written before the weights moved in
            ckpt.load_weights(self.run_dir / ckpt.LAST, self.model)
        state = ckpt.load_optimizer(self.run_dir / ckpt.OPTIMIZER, self.optimizer, self.model, self.average)
        self.start_epoch, self.best_val = state["epoch"], state["best_val"]
        self.history = read_metrics(self.run_dir)["epochs"][: self.start_epoch]
        self.elapsed_before = self.history[-1].get("elapsed", 0.0) if self.history else 0.0
        # a run written before records counted their steps had one batch size throughout
        unrecorded = self.start_epoch * (self.train_x.shape[0] // self.cfg.train.batch_size)
        self.steps_before = self.history[-1].get("step", unrecorded) if self.history else 0

    # -- one epoch --------------------------------------------------------------------------
    def train_epoch(self, epoch: int, bar, deadline: float = math.inf) -> dict[str, float]:
        """One pass over the training split; at a log point past `deadline` (perf_counter seconds)
        it stops early, and the record's 'steps' says how far it got."""
        seed, rank, program = self.cfg.train.seed, self.world.rank, self.program
        order = torch.Generator(self.device).manual_seed(epoch_seed(seed, epoch))  # alike on every rank
        perm = torch.randperm(self.train_x.shape[0], device=self.device, generator=order)
        if self.lengths is not None:
            perm = bucketed_order(perm, self.lengths, program.global_batch, order)
        torch.manual_seed(epoch_seed(seed, epoch, rank))  # this rank's own binarization and noise
        program.start_epoch(perm, epoch)
        steps, every = program.steps_per_epoch, self.cfg.train.log_every
        self.model.train()
        done = steps
        for step in range(steps):
            self.run_step()
            if self.average is not None:
                self.average.update()
            if (step + 1) % every == 0 or step + 1 == steps:
                self._report(
                    bar, epoch, step, program.names, program.sums / (step + 1), (step % every) + 1, program.global_batch
                )
                if time.perf_counter() >= deadline and not self.world.active:  # ranks must agree: DDP runs whole epochs
                    done = step + 1
                    break
        means = distributed.all_mean(self.world, program.sums / done).tolist()
        return {**dict(zip(program.names, means)), "steps": done}

    def _report(self, bar, epoch: int, step: int, names, means: torch.Tensor, steps_done: int, batch: int) -> None:
        values = dict(zip(names, means.tolist()))  # the one host sync every log_every steps
        bad = [f"{k} = {v}" for k, v in values.items() if not math.isfinite(v)]
        if not bad and not all(torch.isfinite(p).all() for p in self.model.parameters()):
            bad = ["a gradient (the weights are no longer finite)"]
        if bad:
            self._diverged(f"{', '.join(bad)} in epoch {epoch + 1}, steps {step + 2 - steps_done}-{step + 1}")
        tracking.notify(self.hooks, "on_log", self, epoch, step + 1, values)
        if bar is not None:
            bar.update(steps_done)
            shown = {k: f"{v:.2f}" for k, v in values.items() if k in ("loss", "kl", "recon", "nll")}
            rate = bar.format_dict.get("rate") or 0.0
            speed = "sent/s" if self.lengths is not None else "img/s"
            bar.set_postfix(shown | {speed: f"{rate * batch:,.0f}"}, refresh=False)

    def validate(self) -> dict[str, float]:
        """The objective at its end-of-schedule weights (with --ema, at the weight average), averaged
        over the validation split."""
        if self.average is not None:
            with self.average.applied():
                return self._validate()
        return self._validate()

    @torch.no_grad()
    def _validate(self) -> dict[str, float]:
        self.model.eval()
        torch.manual_seed(self.cfg.train.seed)
        done = torch.tensor(float(self.cfg.train.epochs), device=self.device)
        sums, names, n = None, None, self.val_x.shape[0]
        for start in range(0, n, 1000):
            x, y = self.val_x[start : start + 1000], self.val_y[start : start + 1000]
            if self.lengths is not None:
                x = trim_padding(x)
            with precision(self.cfg.train.precision, self.device):
                out = self.objective(self.model, x, y, done)
            values = torch.stack([out.loss * x.shape[0], *(v.sum() for v in out.terms.values())])
            sums = values if sums is None else sums + values
            names = names or ["loss", *out.terms]
        return dict(zip(names, (sums / n).tolist()))

    # -- the loop ---------------------------------------------------------------------------
    def fit(self) -> list[dict]:
        """Trains to the epoch count or, with a time budget, until the budget is spent: the last epoch
        is cut short at a log point so that it, its validation and its checkpoint end within the budget.
        Holds the run's lock throughout, and gives it back however it ends."""
        self._lock()
        try:
            self._start()
            return self._train()
        finally:
            self._unlock()

    def _lock(self) -> None:
        if self.world.is_main and not self.locked:
            lock.acquire(self.run_dir)
            self.locked = True

    def _unlock(self) -> None:
        if self.locked:
            self.locked = False
            lock.release(self.run_dir)

    def _train(self) -> list[dict]:
        t = self.cfg.train
        budget = math.inf if t.time_budget is None else t.time_budget
        n = self.train_x.shape[0]
        steps_left = sum(n // self.batch_at(self.fraction(e, 0.0)) for e in range(self.start_epoch, t.epochs))
        total = None if t.time_budget is not None else steps_left
        bar = tqdm(
            total=total, unit="step", dynamic_ncols=True, mininterval=1.0, disable=not self.show_progress or total == 0
        )
        started = time.perf_counter() - self.elapsed_before  # the run's clock, across --resume
        closing = 0.0  # seconds the last validation + checkpoint took: kept free at the budget's end
        chunk = 0.0  # seconds between two deadline checks (log points) in the last epoch
        try:
            for epoch in range(self.start_epoch, t.epochs):
                elapsed, closing, chunk = self._agreed(time.perf_counter() - started, closing, chunk)
                if elapsed + 2 * (closing + chunk) >= budget:  # not even one stretch to a check would fit, with margin
                    break
                clock = f"{epoch + 1} ({elapsed / 60:.1f}/{budget / 60:.1f} min)"
                bar.set_description(f"epoch {clock if t.time_budget else f'{epoch + 1}/{t.epochs}'}", refresh=False)
                lr = self.lr_at(epoch, elapsed) * self._schedule_batch(epoch, elapsed)
                set_lr(self.optimizer, lr)
                self._schedule_objective(epoch, elapsed)
                began = time.perf_counter()
                deadline = started + budget - 2 * closing - chunk  # past it at a log point the next stretch may not fit
                train = self.train_epoch(epoch, bar if self.show_progress else None, deadline=deadline)
                seconds = time.perf_counter() - began
                chunk = seconds * min(1.0, self.cfg.train.log_every / self.program.steps_per_epoch)
                steps = train.get("steps", self.program.steps_per_epoch)
                cut_short = steps < self.program.steps_per_epoch
                now, closing, chunk = self._agreed(time.perf_counter() - started, closing, chunk)
                out_of_time = cut_short or now + 2 * (closing + chunk) >= budget
                if (epoch + 1) % t.eval_every == 0 or epoch + 1 == t.epochs or out_of_time:
                    self._end_epoch(epoch, train, self.validate(), seconds, lr, started)
                    closing = time.perf_counter() - began - seconds
                self.steps_before += steps
                if out_of_time:
                    break
        finally:
            bar.close()
        if self.average is not None:  # the model one goes on to use is the one validated and saved
            self.average.copy_to_model()
        distributed.barrier(self.world)
        return self.history

    def _agreed(self, *seconds: float) -> list[float]:
        """Clock readings every rank shares: under torchrun each rank's clock reads a little differently,
        and a rank that stopped at the time budget one epoch before the others would leave them waiting
        in an all-reduce for ever. So the budget, the schedule and the stop read the slowest rank's."""
        if not self.world.active:
            return list(seconds)
        return distributed.all_max(self.world, torch.tensor(seconds, dtype=torch.float64, device=self.device)).tolist()

    def _diverged(self, where: str) -> None:
        t = self.cfg.train
        kept = (
            f"the checkpoint of epoch {self.history[-1]['epoch']} is kept in {self.run_dir}"
            if self.history
            else "no checkpoint was written"
        )
        raise VaekitError(
            f"training diverged: {where}; try a lower --lr (now {t.lr:g}), --grad-clip 10"
            f"{'' if t.grad_clip is None else ' or lower'}, or --kl-warmup 10; {kept}"
        )

    def _start(self) -> None:
        """Makes the run folder and writes config.json, once the whole setup has worked."""
        if not self.world.is_main:
            return
        if not self.resumed:
            ckpt.prepare_run_dir(self.run_dir, self.overwrite, resume=False)
        for torn in self.run_dir.glob(".*.*.tmp"):  # a write cut short by a kill (see vaekit.io)
            torn.unlink(missing_ok=True)
        if not (self.run_dir / "config.json").is_file():
            self.cfg.save(self.run_dir / "config.json")
        if self.vocab is not None:  # the run carries its vocabulary: sentences in and out need no dataset
            ckpt.atomic_write_text(self.run_dir / VOCAB, self.vocab.to_json() + "\n")
        if self.pairs is not None:  # and a translation run its source vocabulary too
            ckpt.atomic_write_text(self.run_dir / SOURCE_VOCAB, self.pairs.source_vocab.to_json() + "\n")

    def _end_epoch(self, epoch: int, train: dict, val: dict, seconds: float, lr: float, started: float) -> None:
        if not all(math.isfinite(v) for v in val.values()):
            bad = ", ".join(f"{k} = {v}" for k, v in val.items() if not math.isfinite(v))
            self._diverged(f"the validation {bad} after epoch {epoch + 1}")
        steps = train.pop("steps", self.program.steps_per_epoch)
        record = {
            "epoch": epoch + 1,
            "lr": lr,
            "seconds": seconds,
            "elapsed": time.perf_counter() - started,  # the run's training seconds so far, validations included
            "step": self.steps_before + steps,  # optimizer steps so far
            **({"steps": steps} if steps < self.program.steps_per_epoch else {}),
            **({"batch": self.program.global_batch} if self.cfg.train.batch_schedule else {}),
            **{f"train_{k}": v for k, v in train.items()},
            **{f"val_{k}": v for k, v in val.items()},
        }
        self.history.append(record)
        improved = val["loss"] < self.best_val
        self.best_val = min(self.best_val, val["loss"])
        if self.world.is_main:
            ckpt.save_epoch(
                self.run_dir, self.model, self.optimizer, self.history, self.best_val, improved, self.average
            )
        tracking.notify(self.hooks, "on_epoch", self, record)
