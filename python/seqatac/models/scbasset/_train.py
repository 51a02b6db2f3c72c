"""scBasset's training loop: peak-major minibatches, augmentation, per-cell auROC, checkpoints, DDP."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from ..._errors import SeqatacInputError
from ..._progress import progress_bar
from ..._torch import autocast, resolve_precision, select_device
from ..._utils import is_whole
from ...data import codes_to_onehot
from .. import _training as T
from ._data import augment_codes, epoch_batches
from ._recipes import FAST_HEAD_LR_FRACTION, RECIPES, head_lr_factor, initialise_cell_head, recipe_defaults

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class TrainingOptions:
    """Arguments of :meth:`ScBasset.fit` (documented there)."""

    max_epochs: int = 1000
    max_steps: int | None = None
    batch_size: int = 128
    cell_batch_size: int | None = None
    lr: float = 0.01
    early_stopping: bool = True
    patience: int = 50
    min_delta: float = 1e-6
    restore_best: bool = True
    reverse_complement: bool = True
    shift_max: int = 3
    checkpoint_dir: str | None = None
    checkpoint_every: int = 1
    checkpoint_steps: int | None = None
    resume: bool = False
    device: str = "auto"
    precision: str = "auto"
    n_threads: int | None = None
    verbose: bool = True
    recipe: str = "authors"
    cell_init: str | None = None
    head_lr: float | None = None
    head_warmup_epochs: float | None = None

    def __post_init__(self):
        if self.recipe not in RECIPES:
            raise SeqatacInputError(f"recipe must be one of {RECIPES}, got {self.recipe!r}.")
        for name, value in recipe_defaults(self.recipe).items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        if self.cell_init not in ("random", "lsi"):
            raise SeqatacInputError(f"cell_init must be 'random' or 'lsi', got {self.cell_init!r}.")
        if self.head_lr is not None and not self.head_lr > 0:
            raise SeqatacInputError(f"head_lr must be > 0 or None, got {self.head_lr!r}.")
        if not self.head_warmup_epochs >= 0:
            raise SeqatacInputError(f"head_warmup_epochs must be >= 0, got {self.head_warmup_epochs!r}.")
        for name in ("max_epochs", "batch_size", "checkpoint_every"):
            value = getattr(self, name)
            if not is_whole(value) or value < 1:
                raise SeqatacInputError(f"{name} must be a positive integer, got {value!r}.")
        for name in ("max_steps", "cell_batch_size", "checkpoint_steps"):
            value = getattr(self, name)
            if value is not None and (not is_whole(value) or value < 1):
                raise SeqatacInputError(f"{name} must be a positive integer or None, got {value!r}.")
        if not self.lr > 0:
            raise SeqatacInputError(f"lr must be > 0, got {self.lr!r}.")
        if self.recipe == "fast" and self.head_lr is None:
            self.head_lr = self.lr * FAST_HEAD_LR_FRACTION
        if not is_whole(self.shift_max) or self.shift_max < 0:
            raise SeqatacInputError(f"shift_max must be an integer >= 0, got {self.shift_max!r}.")
        if self.resume and self.checkpoint_dir is None:
            raise SeqatacInputError("resume=True needs checkpoint_dir= (the directory holding checkpoint.pt).")


class Trainer:
    """One training run of an :class:`~seqatac.models.ScBasset` (a fresh start or a resume)."""

    def __init__(self, model, options: TrainingOptions):
        self.model, self.options = model, options
        self.device = select_device(options.device)
        self.precision = resolve_precision(options.precision, self.device)
        self.module = model.module
        self.targets = model._training_targets()
        self.codes = model._peak_codes()
        self.seed, self._data_digest = None, None
        self.train_peaks, self.val_peaks = model.splits["train"], model.splits["val"]
        if len(self.train_peaks) < 2:
            raise SeqatacInputError(
                f"only {len(self.train_peaks)} training peak(s); scBasset needs at least 2 (BatchNorm). "
                "Use more peaks or relax the peak filters."
            )
        n_cells = model.config.n_cells
        if options.cell_batch_size is not None and options.cell_batch_size > n_cells:
            raise SeqatacInputError(f"cell_batch_size={options.cell_batch_size} exceeds the {n_cells} cells.")

    # ------------------------------------------------------------------------------------- state

    def _fresh_state(self, seed: int, rank: int) -> None:
        seeds = np.random.SeedSequence(seed).spawn(2)
        self.rng = np.random.default_rng(seeds[0])  # shuffles, augmentation, cell samples: same on all ranks
        self.dropout_generator = T.torch_generator(int(seeds[1].generate_state(1)[0]) + rank, self.device)
        self.epoch, self.position, self.permutation = 0, 0, None
        self.history: list[dict] = []
        self.stopper = T.EarlyStopping(patience=self.options.patience, min_delta=self.options.min_delta)
        self.best_state: dict | None = None
        self.finished = False
        self.train_auroc = T.BinnedAUROC(self.model.config.n_cells, device=self.device)
        self.loss_sum, self.rows = 0.0, 0

    def _fingerprint(self) -> dict:
        """What a checkpoint must share with this run to resume it: architecture, data, sequences, seed, batching."""
        if self._data_digest is None:  # the peaks' sequences stand for the genome and the regions together
            self._data_digest = T.data_digest(self.targets.indptr, self.targets.indices, self.codes,
                                              np.asarray(self.model.cell_names, dtype=object), self.train_peaks)
        return {
            "config": self.model.config.to_dict(),
            "seed": self.seed,
            "data_sha256": self._data_digest,
            "n_peaks": len(self.model.regions),
            "n_train": len(self.train_peaks),
            "batch_size": self.options.batch_size,
            "cell_batch_size": self.options.cell_batch_size,
            **self._recipe_fingerprint(),
        }

    def _recipe_fingerprint(self) -> dict:
        """Recipe options in the fingerprint, only when not the authors' (older checkpoints stay resumable)."""
        options = self.options
        if (options.cell_init, options.head_lr, options.head_warmup_epochs) == ("random", None, 0.0):
            return {}
        return {"cell_init": options.cell_init, "head_lr": options.head_lr,
                "head_warmup_epochs": options.head_warmup_epochs}

    def _checkpoint_state(self) -> dict:
        counts = self.train_auroc.counts.clone()
        loss_sum, rows = T.all_reduce_sum([self.loss_sum, self.rows], self.device)
        if T.is_distributed():  # a mid-epoch checkpoint keeps the summed partial metrics on rank 0
            torch.distributed.all_reduce(counts)
        permutation = self.permutation if self.permutation is not None else np.empty(0, dtype=np.int64)
        return {
            "fingerprint": self._fingerprint(),
            "model": T.cpu_state_dict(self.module),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "position": self.position,
            "permutation": torch.from_numpy(np.asarray(permutation, dtype=np.int64)),
            "numpy_rng": T.numpy_rng_state(self.rng),
            "dropout_rng": self.dropout_generator.get_state(),
            "history": self.history,
            "early_stopping": self.stopper.state_dict(),
            "best_state": self.best_state or {},
            "finished": self.finished,
            "train_counts": counts.cpu(),
            "train_loss_sum": float(loss_sum),
            "train_rows": int(rows),
        }

    def _save(self) -> None:
        if self.options.checkpoint_dir is None:
            return
        state = self._checkpoint_state()  # collective: every rank takes part
        if T.rank_and_world()[0] == 0:
            T.save_checkpoint(state, Path(self.options.checkpoint_dir) / CHECKPOINT_NAME)
        T.barrier()

    def _restore(self, path: Path, rank: int) -> None:
        state = T.load_checkpoint(path, fingerprint=self._fingerprint(), covers="model, data, genome, seed or batch size")
        self.module.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self.permutation = state["permutation"].numpy() if state["permutation"].numel() else None
        T.set_numpy_rng_state(self.rng, state["numpy_rng"])
        if rank == 0:  # other DDP ranks keep a fresh dropout stream (exact resume is for single-process runs)
            self.dropout_generator.set_state(state["dropout_rng"])
        self.history = list(state["history"])
        self.stopper.load_state_dict(state["early_stopping"])
        self.best_state = state["best_state"] or None
        self.finished = bool(state["finished"])
        if rank == 0:
            self.train_auroc.counts.copy_(state["train_counts"].to(self.device))
            self.loss_sum, self.rows = float(state["train_loss_sum"]), int(state["train_rows"])
        logger.info("resumed from %s at epoch %d, step %d", path, self.epoch, self.position)

    # ------------------------------------------------------------------------------------- loop

    def run(self, seed: int) -> list[dict]:
        options = self.options
        with T.num_threads(options.n_threads), T.deterministic_algorithms():
            created = T.init_distributed(self.device)
            try:
                return self._run(seed)
            finally:
                T.finish_distributed(created)

    def _run(self, seed: int) -> list[dict]:
        options = self.options
        rank, world = T.rank_and_world()
        self.module.to(self.device)
        self.module.train()
        head = [self.module.cell_head.weight, self.module.cell_head.bias]
        head_ids = {id(p) for p in head}
        self.head_lr = options.head_lr if options.head_lr is not None else options.lr
        groups = self.module.parameters()  # the authors' recipe: one group (and older checkpoints' layout)
        if options.head_lr is not None or options.head_warmup_epochs:
            groups = [{"params": [p for p in self.module.parameters() if id(p) not in head_ids], "lr": options.lr},
                      {"params": head, "lr": self.head_lr}]
        self.optimizer = torch.optim.Adam(
            groups, lr=options.lr, betas=(0.95, 0.9995), eps=1e-7, fused=self.device.type in ("cpu", "cuda"),
        )
        self.seed = int(seed)
        self._fresh_state(seed, rank)
        self.steps_per_epoch = len(epoch_batches(len(self.train_peaks), options.batch_size, min_last=2 * world))
        self.head_warmup_steps = round(options.head_warmup_epochs * self.steps_per_epoch)
        path = Path(options.checkpoint_dir) / CHECKPOINT_NAME if options.checkpoint_dir else None
        if options.cell_init == "lsi" and not self.model.is_trained:  # a resume overwrites it just below
            initialise_cell_head(self.module, self.targets, self.train_peaks, seed=self.seed)
        if options.resume and path.is_file():
            self._restore(path, rank)
        elif options.resume:
            logger.info("no checkpoint in %s yet: starting a new run", options.checkpoint_dir)
        net = self.module
        if T.is_distributed():
            net = DistributedDataParallel(self.module, device_ids=[self.device.index] if self.device.type == "cuda"
                                          else None)
        show = options.verbose and rank == 0
        epochs_bar = progress_bar(total=options.max_epochs, initial=min(self.epoch, options.max_epochs),
                                  unit="epoch", desc="scBasset", disable=not show)
        try:
            while self.epoch < options.max_epochs and not self.finished and self._steps_left():
                started = time.perf_counter()
                self._train_epoch(net, rank, world, show)
                if self.position < self.steps_per_epoch:  # cut short by max_steps: no validation, no record
                    self._save()
                    break
                record = self._end_epoch(rank, world, time.perf_counter() - started)
                epochs_bar.update(1)
                epochs_bar.set_postfix(loss=f"{record['train_loss']:.4f}", auroc=f"{record['train_auroc']:.4f}",
                                       val_auroc=f"{record['val_auroc']:.4f}")
        finally:
            epochs_bar.close()
        self.module.train(False)
        if options.restore_best and self.best_state is not None:
            self.module.load_state_dict(self.best_state)
        return self.history

    def _train_epoch(self, net, rank: int, world: int, show: bool) -> None:
        options, module = self.options, self.module
        if self.permutation is None:
            self.permutation = self.rng.permutation(self.train_peaks)  # a true global shuffle
        slices = epoch_batches(len(self.permutation), options.batch_size, min_last=2 * world)
        steps = progress_bar(total=len(slices), initial=self.position, leave=False, unit="step",
                             desc=f"epoch {self.epoch + 1}", disable=not show)
        module.train()
        l2 = dict(l2_cell=self.model.params["l2_cell"], l2_batch=self.model.params["l2_batch"])
        while self.position < len(slices) and self._steps_left():
            batch = self.permutation[slices[self.position]]
            reverse = bool(self.rng.random() < 0.5) if options.reverse_complement else False
            shift = int(self.rng.integers(-options.shift_max, options.shift_max + 1)) if options.shift_max else 0
            cells = None
            if options.cell_batch_size is not None:
                cells = np.sort(self.rng.choice(self.model.config.n_cells, options.cell_batch_size, replace=False))
            local = np.sort(np.array_split(batch, world)[rank])
            x, y = self._tensors(local, cells, reverse=reverse, shift=shift)
            cell_index = torch.from_numpy(cells).to(self.device) if cells is not None else None
            with autocast(self.device, self.precision):
                outputs = net(x, cell_index=cell_index, dropout_generator=self.dropout_generator)
            # scale so that DDP's gradient average equals the gradient of the global batch mean
            losses = module.loss(outputs, y, bce_scale=len(local) * world / len(batch), **l2)
            self.optimizer.zero_grad(set_to_none=True)
            if self.head_warmup_steps:
                step = self.epoch * self.steps_per_epoch + self.position
                self.optimizer.param_groups[1]["lr"] = self.head_lr * head_lr_factor(step, self.head_warmup_steps)
            losses["loss"].backward()
            self.optimizer.step()
            self.loss_sum += float(losses["bce"]) * len(local)
            self.rows += len(local)
            self.train_auroc.update(outputs["logits"].detach(), y, cell_index)
            self.position += 1
            steps.update(1)
            steps.set_postfix(loss=f"{self.loss_sum / self.rows:.4f}")
            if options.checkpoint_steps and self.position % options.checkpoint_steps == 0 \
                    and self.position < len(slices):
                self._save()
        steps.close()

    def _steps_left(self) -> bool:
        """Whether ``max_steps`` (counted from the start of training, over all epochs) allows another step."""
        done = self.epoch * self.steps_per_epoch + self.position
        return self.options.max_steps is None or done < self.options.max_steps

    def _tensors(self, peaks, cells, *, reverse=False, shift=0):
        codes = augment_codes(np.asarray(self.codes[peaks]), reverse=reverse, shift=shift)
        x = codes_to_onehot(torch.from_numpy(codes).to(self.device))
        y = torch.from_numpy(self.targets.dense_rows(peaks, cells)).to(self.device)
        return x, y

    @torch.no_grad()
    def _validate(self, rank: int, world: int) -> tuple[float, float]:
        peaks = self.val_peaks[rank::world]
        metric = T.BinnedAUROC(self.model.config.n_cells, device=self.device)
        module, loss_sum = self.module, 0.0
        module.eval()
        for start in range(0, len(peaks), self.options.batch_size):
            part = peaks[start:start + self.options.batch_size]
            x, y = self._tensors(part, None)
            with autocast(self.device, self.precision):
                outputs = module(x)
            loss_sum += float(module.loss(outputs, y)["bce"]) * len(part)
            metric.update(outputs["logits"], y)
        module.train()
        loss_sum, rows = T.all_reduce_sum([loss_sum, len(peaks)], self.device)
        metric.all_reduce()
        return (loss_sum / rows if rows else float("nan")), (metric.mean() if rows else float("nan"))

    def _end_epoch(self, rank: int, world: int, seconds: float) -> dict:
        loss_sum, rows = T.all_reduce_sum([self.loss_sum, self.rows], self.device)
        self.train_auroc.all_reduce()
        train_auroc = self.train_auroc.mean()
        val_loss, val_auroc = self._validate(rank, world)
        record = {
            "epoch": self.epoch + 1, "train_loss": loss_sum / max(rows, 1), "train_auroc": train_auroc,
            "val_loss": val_loss, "val_auroc": val_auroc, "seconds": seconds,
        }
        self.history.append(record)
        logger.debug("epoch %(epoch)d: loss %(train_loss).4f auROC %(train_auroc).4f val auROC %(val_auroc).4f",
                     record)
        if self.stopper.update(train_auroc, self.epoch) and self.options.restore_best:
            self.best_state = T.cpu_state_dict(self.module)
        self.epoch += 1
        self.position, self.permutation = 0, None
        self.train_auroc.reset()
        self.loss_sum, self.rows = 0.0, 0
        if self.options.early_stopping and self.stopper.should_stop:
            self.finished = True
            logger.info("early stopping after epoch %d: training auROC did not improve for %d epochs",
                        self.epoch, self.options.patience)
        if self.epoch % self.options.checkpoint_every == 0 or self.finished or self.epoch == self.options.max_epochs:
            self._save()
        return record
