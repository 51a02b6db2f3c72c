"""EpiFoundation's training loop, shared by pre-training and both fine-tuning tasks.

Token-count batches (cells are packed, so a batch costs what its tokens cost), Adam with linear warmup and
cosine decay per optimizer step, gradient accumulation and clipping, bf16 autocast on GPU, checkpoints at
optimizer-step boundaries and an exact resume, DDP under ``torchrun``.

With ``validation_fraction`` a held-in share of the cells is scored after every epoch (same loss, eval
mode, a fixed peak/gene sample); ``patience`` stops a run whose validation loss no longer improves, and the
weights of the best epoch are kept.

Every random draw of a micro-batch (the cells' peak samples, gene samples and dropout masks) comes from a
generator seeded by ``(seed, epoch, batch index)``, and each epoch's cell order from ``(seed, epoch)``:
nothing random has to be carried across a checkpoint, and a resumed run repeats the uninterrupted one.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from ... import _torch
from ..._errors import SeqatacInputError
from ..._progress import progress_bar
from ..._torch import autocast, select_device
from ..._utils import is_whole
from .. import _training as T
from ._data import TokenData, token_batches
from ._module import EpiFoundationModule

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"
_TASK_CODES = {"pretrain": 1, "expression": 2, "annotate": 3}
_VALIDATION_KEY = 2**62  # the "epoch" of the validation sample (never a real epoch)


@dataclass
class TrainingOptions:
    """Arguments of :meth:`EpiFoundation.pretrain` and :meth:`EpiFoundation.fit` (documented there)."""

    max_epochs: int = 10
    lr: float = 1e-4
    min_lr: float = 1e-6
    warmup_fraction: float = 0.05
    max_tokens: int = 16_384
    max_cells: int = 32
    grad_accumulation: int = 1
    grad_clip: float | None = 1.0
    device: str = "auto"
    precision: str = "auto"
    n_threads: int | None = None
    checkpoint_dir: str | None = None
    checkpoint_every: int = 1
    checkpoint_steps: int | None = None
    resume: bool = False
    verbose: bool = True
    max_len: int | None = None
    validation_fraction: float = 0.0
    patience: int | None = None
    class_weight: str | None = None
    label_smoothing: float = 0.0
    encoder_lr_scale: float = 1.0
    head_warmup_epochs: int = 0

    def __post_init__(self):
        for name in ("max_epochs", "max_tokens", "max_cells", "grad_accumulation", "checkpoint_every"):
            value = getattr(self, name)
            if not is_whole(value) or value < 1:
                raise SeqatacInputError(f"{name} must be a positive integer, got {value!r}.")
        if self.checkpoint_steps is not None and (not is_whole(self.checkpoint_steps)
                                                  or self.checkpoint_steps < 1):
            raise SeqatacInputError(f"checkpoint_steps must be a positive integer or None, got {self.checkpoint_steps!r}.")
        if not self.lr > 0 or not 0 <= self.min_lr <= self.lr:
            raise SeqatacInputError(f"need lr > 0 and 0 <= min_lr <= lr, got lr={self.lr!r}, min_lr={self.min_lr!r}.")
        if not 0 <= self.warmup_fraction < 1:
            raise SeqatacInputError(f"warmup_fraction must lie in [0, 1), got {self.warmup_fraction!r}.")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise SeqatacInputError(f"grad_clip must be > 0 or None, got {self.grad_clip!r}.")
        if self.resume and self.checkpoint_dir is None:
            raise SeqatacInputError("resume=True needs checkpoint_dir= (the directory holding checkpoint.pt).")
        if self.max_len is not None and (not is_whole(self.max_len)
                                         or self.max_len < 2):
            raise SeqatacInputError(f"max_len must be an integer >= 2 or None, got {self.max_len!r}.")
        if not 0 <= self.validation_fraction < 1:
            raise SeqatacInputError(f"validation_fraction must lie in [0, 1), got {self.validation_fraction!r}.")
        if self.patience is not None:
            if not is_whole(self.patience) or self.patience < 1:
                raise SeqatacInputError(f"patience must be a positive integer or None, got {self.patience!r}.")
            if self.validation_fraction == 0:
                raise SeqatacInputError("patience (early stopping) needs validation_fraction > 0: the held-in "
                                        "cells it watches.")
        if self.class_weight not in CLASS_WEIGHTS:
            raise SeqatacInputError(f"class_weight must be one of {CLASS_WEIGHTS}, got {self.class_weight!r}.")
        if not 0 <= self.encoder_lr_scale <= 1:
            raise SeqatacInputError(f"encoder_lr_scale must lie in [0, 1], got {self.encoder_lr_scale!r}.")
        if not is_whole(self.head_warmup_epochs) \
                or self.head_warmup_epochs < 0:
            raise SeqatacInputError(f"head_warmup_epochs must be an integer >= 0, got {self.head_warmup_epochs!r}.")
        if not 0 <= self.label_smoothing < 1:
            raise SeqatacInputError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing!r}.")

    @classmethod
    def for_task(cls, task: str, given: dict, preset: str = "reference") -> TrainingOptions:
        """Options of ``task`` for a model of ``preset``: ``given`` over the task's defaults
        (:data:`TASK_DEFAULTS`) over the preset's learning rate (:data:`PRESET_LR`) over the fields'."""
        unknown = sorted(set(given) - {f.name for f in fields(cls)})
        if unknown:
            raise SeqatacInputError(f"unknown training option(s) {unknown}; valid: {[f.name for f in fields(cls)]}.")
        options = {"lr": PRESET_LR.get(preset, cls.lr), **TASK_DEFAULTS.get(task, {}), **given}
        if task != "annotate":
            for name in ("class_weight", "label_smoothing"):
                if options.get(name):
                    raise SeqatacInputError(f"{name} applies to fit(mode='annotate') only, not to {task!r}.")
        return cls(**options)


#: Options that do not change what a run computes (where and how it runs, its checkpoints, its output):
#: every other option is part of a checkpoint's fingerprint, so a resume with another value is refused.
_NOT_FINGERPRINTED = frozenset({"device", "precision", "n_threads", "checkpoint_dir", "checkpoint_every",
                                "checkpoint_steps", "resume", "verbose"})

#: ``class_weight`` values: None (every cell counts once) or "balanced" (scikit-learn's n / (k · n_class)).
CLASS_WEIGHTS = (None, "balanced")

#: Learning rate of pre-training and expression fine-tuning by architecture preset (annotation has its own,
#: :data:`TASK_DEFAULTS`). The paper's 1e-4 is for its reference model on GPUs; the CPU-sized presets learn at
#: 3e-3, the rate of benchmarks/epifoundation.py and the demo (pre-training loss on the simulator's ``small``
#: data, "small" preset, after 2 epochs: 0.500 at 3e-3, 0.500 at 1e-3, 0.621 at 1e-4).
PRESET_LR: dict[str, float] = {"reference": 1e-4, "small": 3e-3, "tiny": 3e-3}

#: Defaults of fit(mode="annotate") for the options a caller leaves out (the fields' defaults are those of
#: pre-training and expression). Measured on the two real sets without paired RNA, CPU, "small" preset
#: (benchmarks/realdata_epifoundation.py); the head warm-up applies to an LSI start only (fit() sets 0 over a
#: pre-trained encoder, where it stayed at chance: benchmarks/epifoundation.py).
TASK_DEFAULTS: dict[str, dict] = {
    "annotate": dict(lr=1e-3, max_epochs=30, max_len=512, validation_fraction=0.1, patience=5,
                     class_weight="balanced", label_smoothing=0.1, head_warmup_epochs=5),
}


def learning_rate(step: int, total_steps: int, *, lr: float, min_lr: float, warmup_steps: int) -> float:
    """Learning rate of optimizer step ``step`` (0-based): linear warmup to ``lr``, then cosine to ``min_lr``."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    span = max(total_steps - warmup_steps, 1)
    progress = min((step - warmup_steps) / span, 1.0)
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def batch_seed(seed: int, task: str, *keys: int) -> np.random.SeedSequence:
    """Seed sequence of one epoch (``keys = (epoch,)``) or micro-batch (``(epoch, batch)``) of a task."""
    return np.random.SeedSequence([int(seed), _TASK_CODES[task], *map(int, keys)])


def epoch_batches(data: TokenData, cells: np.ndarray, *, seed: int, task: str, epoch: int,
                  options: TrainingOptions, world: int) -> list[np.ndarray]:
    """The global micro-batches of one epoch (a seeded shuffle cut by token count; a multiple of ``world``)."""
    order = np.random.default_rng(batch_seed(seed, task, epoch)).permutation(cells)
    batches = token_batches(data.lengths(), order, max_tokens=options.max_tokens, max_cells=options.max_cells)
    if len(batches) < world:
        raise SeqatacInputError(
            f"only {len(batches)} batch(es) per epoch for {world} DDP processes; lower max_cells/max_tokens "
            "or use fewer processes."
        )
    return batches[: len(batches) - len(batches) % world]


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"auto"`` → bf16 autocast on CUDA (when supported), fp32 on CPU (bf16 there is not faster here and
    costs accuracy); explicit values pass through :func:`seqatac._torch.resolve_precision`."""
    if precision == "auto" and device.type == "cpu":
        return "fp32"
    return _torch.resolve_precision(precision, device)


def to_tensors(batch: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    """NumPy batch → tensors on ``device``."""
    return {key: torch.from_numpy(np.ascontiguousarray(value)).to(device) for key, value in batch.items()}


def validation_split(cells: np.ndarray, labels: np.ndarray | None, fraction: float, *,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-in validation cells: ``fraction`` of each label (rounded, at least 1 of a label with
    2+ cells, never its last cell), or of all cells without labels; seeded, returned sorted."""
    if fraction == 0:
        return np.sort(cells), np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 99]))
    groups = [cells] if labels is None else [cells[labels == label] for label in np.unique(labels)]
    held = []
    for group in groups:
        n = min(max(int(round(fraction * len(group))), 1), len(group) - 1)
        held.append(rng.permutation(group)[:n] if n > 0 else group[:0])
    held = np.sort(np.concatenate(held)).astype(np.int64)
    if len(held) == 0 or len(held) == len(cells):
        raise SeqatacInputError(f"validation_fraction={fraction:g} of {len(cells)} cells leaves no validation "
                                "or no training cells; use more cells or validation_fraction=0.")
    return np.setdiff1d(cells, held), held


def class_weights(labels: np.ndarray, n_classes: int, method: str) -> np.ndarray:
    """Cross-entropy weight of each class, scikit-learn's ``compute_class_weight`` (``"balanced"``:
    ``n_cells / (n_present_classes · n_cells_of_class)``); a class absent from ``labels`` gets 1."""
    from sklearn.utils.class_weight import compute_class_weight

    weights = np.ones(n_classes, dtype=np.float64)
    present = np.unique(labels)
    weights[present] = compute_class_weight(method, classes=present, y=labels)
    return weights


class Trainer:
    """One run of one task over a :class:`TokenData` (a fresh start or a resume).

    Parameters
    ----------
    module
        The network (trained in place; left in eval mode on the CPU).
    data
        Inputs and targets.
    cells
        Indices of the training cells in ``data``.
    task
        ``"pretrain"``, ``"expression"`` or ``"annotate"``.
    options
        :class:`TrainingOptions` (``max_len`` resamples the cells' peaks per step; ``validation_fraction``
        holds cells out of ``cells``, stratified by label when annotating).
    seed
        Seed of the run (cell order, samples, dropout, validation split).
    """

    def __init__(self, module: EpiFoundationModule, data: TokenData, cells: np.ndarray, task: str,
                 options: TrainingOptions, seed: int):
        if options.max_len is not None:
            data = replace(data, max_len=int(options.max_len))
        if options.max_tokens < data.max_len:
            raise SeqatacInputError(
                f"max_tokens={options.max_tokens} is below max_len={data.max_len} (peaks per cell): a long cell "
                "would not fit in a batch. Fix: raise max_tokens or lower max_len (on the command line: "
                "--max-tokens, --train-max-len)."
            )
        if len(cells) == 0:
            raise SeqatacInputError(f"no training cells for task {task!r}.")
        self.module, self.data, self.task = module, data, task
        self.options, self.seed = options, int(seed)
        labels = data.labels[np.asarray(cells)] if task == "annotate" else None
        self.cells, self.validation = validation_split(np.asarray(cells), labels, options.validation_fraction,
                                                       seed=self.seed)
        self.class_weights = None
        if task == "annotate" and options.class_weight is not None:
            self.class_weights = class_weights(data.labels[self.cells], module.config.n_cell_types,
                                               options.class_weight)
        self.device = select_device(options.device)
        self.precision = resolve_precision(options.precision, self.device)

    def summary(self) -> dict:
        """What the run used beyond its options: training/validation cells and the class weights."""
        summary = {"n_training_cells": int(len(self.cells)), "n_validation_cells": int(len(self.validation))}
        if self.class_weights is not None:
            summary["class_weights"] = [round(float(w), 6) for w in self.class_weights]
        return summary

    def _fingerprint(self) -> dict:
        options = {key: value for key, value in asdict(self.options).items() if key not in _NOT_FINGERPRINTED}
        return {"config": self.module.config.to_dict(), "task": self.task, "seed": self.seed,
                "n_cells": int(len(self.cells) + len(self.validation)), "options": options}

    def run(self) -> list[dict]:
        """Train; returns one record per epoch (loss, learning rate, throughput, accuracy when annotating)."""
        with T.num_threads(self.options.n_threads), T.deterministic_algorithms():
            created = T.init_distributed(self.device)
            try:
                return self._run()
            finally:
                for parameter in self.module.parameters():
                    parameter.requires_grad_(True)
                self.module.eval()
                self.module.to("cpu")
                T.finish_distributed(created)

    # ------------------------------------------------------------------------------------- loop

    def _run(self) -> list[dict]:
        options, module = self.options, self.module
        rank, world = T.rank_and_world()
        trained = {id(p) for p in module.task_parameters(self.task)}
        head = {id(p) for p in module.head_parameters(self.task)}
        parameters, groups = [], ({"params": [], "scale": 1.0, "encoder": False},
                                  {"params": [], "scale": options.encoder_lr_scale, "encoder": True})
        for parameter in module.parameters():
            parameter.requires_grad_(id(parameter) in trained)
            if id(parameter) in trained:
                parameters.append(parameter)
                groups[id(parameter) not in head]["params"].append(parameter)
        module.to(self.device)
        optimizer = torch.optim.Adam([g for g in groups if g["params"]], lr=options.lr,
                                     fused=self.device.type in ("cpu", "cuda"))
        plans = [epoch_batches(self.data, self.cells, seed=self.seed, task=self.task, epoch=epoch,
                               options=options, world=world) for epoch in range(options.max_epochs)]
        steps_per_epoch = [math.ceil(len(plan) // world / options.grad_accumulation) for plan in plans]
        total_steps = sum(steps_per_epoch)
        warmup = int(options.warmup_fraction * total_steps)

        state = {"epoch": 0, "position": 0, "step": 0, "history": [], "sums": [0.0, 0, 0, 0],
                 "stopper": T.EarlyStopping(patience=options.patience or options.max_epochs, mode="min"),
                 "best": None}
        path = Path(options.checkpoint_dir) / CHECKPOINT_NAME if options.checkpoint_dir else None
        if options.resume and path.is_file():
            state = self._restore(path, optimizer)
        elif options.resume:
            logger.info("no checkpoint in %s yet: starting a new run", options.checkpoint_dir)
        net = module
        if T.is_distributed():
            net = DistributedDataParallel(module, device_ids=[self.device.index] if self.device.type == "cuda" else None)

        show = options.verbose and rank == 0
        bar = progress_bar(total=options.max_epochs, initial=state["epoch"], unit="epoch",
                           desc=f"EpiFoundation {self.task}", disable=not show)
        try:
            while state["epoch"] < options.max_epochs and not state["stopper"].should_stop:
                epoch = state["epoch"]
                local = plans[epoch][rank::world]
                groups = [list(range(start, min(start + options.grad_accumulation, len(local))))
                          for start in range(0, len(local), options.grad_accumulation)]
                started = time.perf_counter()
                inner = progress_bar(total=len(local), initial=state["position"], leave=False, unit="batch",
                                     desc=f"epoch {epoch + 1}", disable=not show)
                module.train()
                probing = epoch < options.head_warmup_epochs  # the head alone learns: a linear probe first
                for group in groups:
                    if group[0] < state["position"]:
                        continue
                    lr = learning_rate(state["step"], total_steps, lr=options.lr, min_lr=options.min_lr,
                                       warmup_steps=warmup)
                    for param_group in optimizer.param_groups:
                        param_group["lr"] = 0.0 if probing and param_group["encoder"] else lr * param_group["scale"]
                    optimizer.zero_grad(set_to_none=True)
                    for index in group:
                        sync = index == group[-1] or not T.is_distributed()
                        with contextlib.nullcontext() if sync else net.no_sync():
                            self._micro_batch(net, local[index], epoch, index * world + rank, len(group), state)
                        inner.update(1)
                    if options.grad_clip is not None:
                        torch.nn.utils.clip_grad_norm_(parameters, options.grad_clip)
                    self._optimizer_step(optimizer)
                    state["step"] += 1
                    state["position"] = group[-1] + 1
                    sums = state["sums"]
                    inner.set_postfix(loss=f"{sums[0] / max(sums[1], 1):.4f}", lr=f"{lr:.2e}")
                    if (options.checkpoint_steps and state["step"] % options.checkpoint_steps == 0
                            and state["position"] < len(local)):
                        self._save(path, optimizer, state)
                inner.close()
                record = self._end_epoch(state, lr=optimizer.param_groups[0]["lr"],
                                         seconds=time.perf_counter() - started)
                bar.update(1)
                bar.set_postfix({key: f"{value:.4f}" for key, value in record.items()
                                 if key in ("loss", "accuracy", "val_loss")})
                done = state["epoch"] == options.max_epochs or state["stopper"].should_stop
                if state["epoch"] % options.checkpoint_every == 0 or done:
                    self._save(path, optimizer, state)
        finally:
            bar.close()
        if state["best"] is not None:
            module.load_state_dict(state["best"])
            logger.info("%s: kept the weights of epoch %d (validation loss %.4f)", self.task,
                        state["stopper"].best_epoch, state["stopper"].best)
        return state["history"]

    @torch.no_grad()
    def _validate(self) -> dict:
        """Loss (and accuracy when annotating) of the validation cells in eval mode, with a fixed sample."""
        module, options = self.module, self.options
        was_training = module.training
        module.eval()
        batches = token_batches(self.data.lengths(), self.validation, max_tokens=options.max_tokens,
                                max_cells=options.max_cells)
        rng = np.random.default_rng(batch_seed(self.seed, self.task, _VALIDATION_KEY))
        loss_sum, correct = 0.0, 0
        for cells in batches:
            batch = to_tensors(self.data.training_batch(cells, self.task, rng), self.device)
            targets, mask = batch.pop("targets"), batch.pop("mask", None)
            with autocast(self.device, self.precision):
                outputs = module(**batch, task=self.task)
            loss_sum += float(self._loss(outputs, targets, mask)) * len(cells)
            if self.task == "annotate":
                correct += int((outputs["cell_type_logits"].argmax(1) == targets).sum())
        module.train(was_training)
        record = {"val_loss": loss_sum / len(self.validation)}
        if self.task == "annotate":
            record["val_accuracy"] = correct / len(self.validation)
        return record

    def _loss(self, outputs, targets, mask):
        weights = None if self.class_weights is None else torch.as_tensor(self.class_weights, dtype=torch.float32,
                                                                          device=targets.device)
        return EpiFoundationModule.loss(outputs, targets, self.task, mask, class_weights=weights,
                                        label_smoothing=self.options.label_smoothing)

    def _micro_batch(self, net, cells: np.ndarray, epoch: int, batch_index: int, group_size: int,
                     state: dict) -> None:
        sequence = batch_seed(self.seed, self.task, epoch, batch_index)
        rng = np.random.default_rng(sequence)
        generator = T.torch_generator(int(sequence.generate_state(1, dtype=np.uint64)[0]) >> 1, self.device)
        batch = to_tensors(self.data.training_batch(cells, self.task, rng), self.device)
        targets, mask = batch.pop("targets"), batch.pop("mask", None)
        with autocast(self.device, self.precision):
            outputs = net(**batch, task=self.task, generator=generator)
        loss = self._loss(outputs, targets, mask)
        (loss / group_size).backward()
        sums = state["sums"]  # loss·cells, cells, tokens, correct
        sums[0] += float(loss.detach()) * len(cells)
        sums[1] += len(cells)
        sums[2] += int(batch["tokens"].numel())
        if self.task == "annotate":
            sums[3] += int((outputs["cell_type_logits"].argmax(1) == targets).sum())

    def _optimizer_step(self, optimizer) -> None:
        """One optimizer step (a separate method so that tests can interrupt training between steps)."""
        optimizer.step()

    def _end_epoch(self, state: dict, *, lr: float, seconds: float) -> dict:
        loss_sum, cells, tokens, correct = T.all_reduce_sum(state["sums"], self.device)
        record = {"epoch": state["epoch"] + 1, "loss": loss_sum / max(cells, 1), "lr": lr, "seconds": seconds,
                  "cells_per_s": cells / seconds if seconds > 0 else float("nan"),
                  "tokens_per_s": tokens / seconds if seconds > 0 else float("nan")}
        if self.task == "annotate":
            record["accuracy"] = correct / max(cells, 1)
        if len(self.validation):
            record |= self._validate()
            if state["stopper"].update(record["val_loss"], state["epoch"] + 1):
                state["best"] = T.cpu_state_dict(self.module)
        logger.debug("%s epoch %d: %s", self.task, record["epoch"], record)
        state["history"].append(record)
        state["epoch"] += 1
        state["position"] = 0
        state["sums"] = [0.0, 0, 0, 0]
        return record

    # ------------------------------------------------------------------------------------- checkpoints

    def _save(self, path: Path | None, optimizer, state: dict) -> None:
        if path is None:
            return
        sums = T.all_reduce_sum(state["sums"], self.device) if T.is_distributed() else state["sums"]
        if T.rank_and_world()[0] == 0:
            T.save_checkpoint({
                "fingerprint": self._fingerprint(),
                "model": T.cpu_state_dict(self.module),
                "optimizer": optimizer.state_dict(),
                "epoch": state["epoch"], "position": state["position"], "step": state["step"],
                "history": state["history"], "sums": [float(value) for value in sums],
                "stopper": state["stopper"].state_dict(), "best": state["best"],
            }, path)
        T.barrier()

    def _restore(self, path: Path, optimizer) -> dict:
        saved = T.load_checkpoint(path, fingerprint=self._fingerprint(), covers="model, task, data or training options")
        self.module.load_state_dict(saved["model"])
        self.module.to(self.device)
        optimizer.load_state_dict(saved["optimizer"])
        rank = T.rank_and_world()[0]
        sums = [float(value) for value in saved["sums"]] if rank == 0 else [0.0, 0, 0, 0]
        logger.info("resumed %s from %s at epoch %d, optimizer step %d", self.task, path, saved["epoch"], saved["step"])
        stopper = T.EarlyStopping(mode="min")
        stopper.load_state_dict(saved["stopper"])
        return {"epoch": int(saved["epoch"]), "position": int(saved["position"]), "step": int(saved["step"]),
                "history": list(saved["history"]), "sums": sums, "stopper": stopper, "best": saved["best"]}
