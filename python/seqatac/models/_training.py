"""Training utilities shared by the seqatac models.

Thread control, a streaming per-output auROC, early stopping, atomic
checkpoints with everything needed for an exact resume (RNG states included), and DDP helpers for runs
launched with ``torchrun`` (NCCL on GPUs, gloo on CPUs).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from .._errors import SeqatacInputError
from .._settings import settings
from .._utils import atomic_path, is_whole
from ._persistence import read_weights

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT_VERSION = 1
@contextlib.contextmanager
def num_threads(n: int | None):
    """Set torch's intra-op threads for the block (``None`` leaves them alone), then restore them."""
    if n is None:
        yield
        return
    if not is_whole(n) or n < 1:
        raise SeqatacInputError(f"n_threads must be a positive integer or None, got {n!r}.")
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def deterministic_algorithms(enabled: bool | None = None):
    """Deterministic kernels only within the block (``None``: ``seqatac.settings.deterministic``), then restore.

    Turns on ``torch.use_deterministic_algorithms`` (a kernel without a deterministic version raises a
    RuntimeError), sets cuDNN to deterministic without benchmarking and, when unset, sets
    ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` for the rest of the process (cuBLAS reads it when a handle is
    made: set it in the shell, before any CUDA work, to be sure). On CPU, seqatac's kernels are
    deterministic for a fixed thread count anyway; this matters on GPU. See docs/determinism.md.
    """
    if enabled is None:
        enabled = settings.deterministic
    if not enabled:
        yield
        return
    previous = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
                torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # kept afterwards: cuBLAS handles are cached
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = previous[2], previous[3]


def torch_generator(seed: int, device: torch.device) -> torch.Generator:
    """A local torch generator on ``device`` seeded with ``seed`` (never the global one)."""
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    return generator


def child_seed(rng: np.random.Generator) -> int:
    """Draw a 63-bit seed from a NumPy generator (to seed torch generators reproducibly)."""
    return int(rng.integers(0, 2**63 - 1))


# ----------------------------------------------------------------------------------------- metrics


_AUROC_BLOCK = 1 << 24  # logits binned at a time by BinnedAUROC.update


class BinnedAUROC:
    """Streaming auROC of every output column, from per-column histograms of the logits.

    Logits are clipped to ``[-limit, limit]`` and binned into ``n_bins`` equal bins; ties within a bin
    count half (trapezoid rule), so the value matches the exact auROC up to the bin width. Memory is
    ``2 · n_outputs · n_bins`` int32 counts, whatever the number of rows seen (Keras' ``AUC`` metric
    works alike with thresholds on probabilities).

    Parameters
    ----------
    n_outputs
        Number of columns (cells).
    n_bins, limit
        Histogram resolution over the logit range.
    device
        Where the counts live (the device of the logits).
    """

    def __init__(self, n_outputs: int, *, n_bins: int = 200, limit: float = 10.0, device="cpu"):
        self.n_outputs, self.n_bins, self.limit = int(n_outputs), int(n_bins), float(limit)
        self.counts = torch.zeros((2, self.n_outputs * self.n_bins), dtype=torch.int32, device=device)

    def reset(self) -> None:
        """Forget all rows seen."""
        self.counts.zero_()

    @torch.no_grad()
    def update(self, logits: torch.Tensor, targets: torch.Tensor, columns: torch.Tensor | None = None) -> None:
        """Add rows: ``logits`` and 0/1 ``targets`` of shape ``(rows, m)``; ``columns`` (m,) their output ids.

        Runs over blocks of about ``2**24`` entries: the temporary memory does not grow with the batch or
        the number of outputs (every entry is counted as negative, then positives move to the other row).
        """
        column = (columns if columns is not None else torch.arange(logits.shape[1], device=logits.device))
        offset = (column.to(logits.device) * self.n_bins).unsqueeze(0)
        one = torch.ones((), dtype=self.counts.dtype, device=self.counts.device)
        step = max(1, _AUROC_BLOCK // max(1, logits.shape[1]))
        for start in range(0, logits.shape[0], step):
            part = logits[start:start + step].float().clamp(-self.limit, self.limit)
            flat = part.add_(self.limit).mul_(self.n_bins / (2 * self.limit)).long().clamp_(max=self.n_bins - 1)
            flat = flat.add_(offset).reshape(-1)
            positive = flat[targets[start:start + step].reshape(-1).bool()]
            self.counts[0].index_add_(0, flat, one.expand(len(flat)))
            self.counts[0].index_add_(0, positive, one.neg().expand(len(positive)))
            self.counts[1].index_add_(0, positive, one.expand(len(positive)))

    def per_output(self) -> np.ndarray:
        """auROC of each output, ``(n_outputs,)``; NaN where no positive or no negative was seen."""
        counts = self.counts.cpu().numpy().astype(np.float64).reshape(2, self.n_outputs, self.n_bins)
        negative, positive = counts[0], counts[1]
        below = np.cumsum(negative, axis=1) - negative
        n_pos, n_neg = positive.sum(axis=1), negative.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            auroc = (positive * (below + 0.5 * negative)).sum(axis=1) / (n_pos * n_neg)
        return np.where((n_pos > 0) & (n_neg > 0), auroc, np.nan)

    def mean(self) -> float:
        """Mean auROC over outputs with both classes (NaN if none)."""
        values = self.per_output()
        return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")

    def all_reduce(self) -> None:
        """Sum the counts over DDP ranks (no-op outside a process group)."""
        if is_distributed():
            dist.all_reduce(self.counts)


# ----------------------------------------------------------------------------------------- early stopping


@dataclass
class EarlyStopping:
    """Stop when a monitored value has not improved by ``min_delta`` for ``patience`` epochs (Keras semantics).

    Attributes
    ----------
    patience, min_delta, mode
        ``mode="max"``: improvement means ``value > best + min_delta``.
    best, best_epoch, wait
        State, saved in checkpoints.
    """

    patience: int = 50
    min_delta: float = 1e-6
    mode: str = "max"
    best: float | None = None
    best_epoch: int = -1
    wait: int = 0

    def __post_init__(self):
        if self.mode not in ("max", "min"):
            raise SeqatacInputError(f"early stopping mode must be 'max' or 'min', got {self.mode!r}.")
        if not is_whole(self.patience) or self.patience < 0:
            raise SeqatacInputError(f"patience must be an integer >= 0, got {self.patience!r}.")

    def update(self, value: float, epoch: int) -> bool:
        """Record an epoch's value; True when it is the best so far."""
        sign = 1.0 if self.mode == "max" else -1.0
        improved = np.isfinite(value) and (self.best is None or sign * (value - self.best) > self.min_delta)
        if improved:
            self.best, self.best_epoch, self.wait = float(value), int(epoch), 0
        else:
            self.wait += 1
        return bool(improved)

    @property
    def should_stop(self) -> bool:
        """True once ``patience`` epochs passed without improvement."""
        return self.wait >= self.patience

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)


# ----------------------------------------------------------------------------------------- checkpoints


def numpy_rng_state(rng: np.random.Generator) -> str:
    """JSON text of a NumPy generator's state (restore with :func:`set_numpy_rng_state`)."""
    return json.dumps(rng.bit_generator.state)


def set_numpy_rng_state(rng: np.random.Generator, state: str) -> None:
    """Restore a state saved by :func:`numpy_rng_state`."""
    rng.bit_generator.state = json.loads(state)


def save_checkpoint(state: dict, path: str | os.PathLike) -> None:
    """Write a training checkpoint atomically (tensors, numbers, strings, lists and dicts only)."""
    with atomic_path(path) as tmp:
        torch.save({"format_version": CHECKPOINT_FORMAT_VERSION, **state}, tmp)


def load_checkpoint(path: str | os.PathLike, *, fingerprint: str | None = None,
                    covers: str = "model, data or training options", map_location="cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``: no code is unpickled).

    ``fingerprint`` is the resuming run's (None: no check, e.g. to inspect a file); a checkpoint saved with
    another one is refused, the error naming what the fingerprint ``covers``.
    """
    path = Path(path)
    if not path.is_file():
        raise SeqatacInputError(f"no checkpoint at {str(path)!r}; train without resume=True first.")
    state = read_weights(path, map_location=map_location)  # refuses (never runs) pickled code, clear errors
    if state.get("format_version") != CHECKPOINT_FORMAT_VERSION:
        raise SeqatacInputError(
            f"checkpoint {str(path)!r} has format_version {state.get('format_version')!r}, this seqatac "
            f"reads {CHECKPOINT_FORMAT_VERSION}; start a new run (resume=False) or use the seqatac that wrote it."
        )
    saved = state.get("fingerprint")
    if fingerprint is not None and saved != fingerprint:
        if isinstance(saved, dict) and isinstance(fingerprint, dict):
            changed = sorted(key for key in set(saved) | set(fingerprint) if saved.get(key) != fingerprint.get(key))
            detail = f"changed: {', '.join(changed)}"
        else:
            detail = f"{saved} vs {fingerprint}"
        raise SeqatacInputError(
            f"the checkpoint {str(path)!r} belongs to a different {covers} ({detail}); it resumes only the run "
            "that wrote it. Fix: rerun with the same data, genome, seed and options, or use a new checkpoint "
            "directory (or resume=False) to start afresh."
        )
    return state


def data_digest(*arrays) -> str:
    """SHA-256 of arrays' shapes, dtypes and bytes (memory-mapped ones read in blocks): a checkpoint's data key."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.asarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        if array.dtype == object:
            digest.update("\0".join(map(str, array.ravel())).encode())
            continue
        flat = array.reshape(-1)
        block = max(1, (1 << 24) // max(1, flat.itemsize))
        for start in range(0, flat.size, block):
            digest.update(np.ascontiguousarray(flat[start:start + block]).tobytes())
    return digest.hexdigest()


def cpu_state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a module's state dict (contiguous, so it saves and compares portably)."""
    return {key: value.detach().to("cpu", copy=True).contiguous() for key, value in module.state_dict().items()}


# ----------------------------------------------------------------------------------------- DDP


def is_distributed() -> bool:
    """True inside an initialised process group with more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_and_world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed(device: torch.device) -> bool:
    """Join the process group that ``torchrun`` describes in the environment (``WORLD_SIZE`` > 1).

    Uses NCCL on CUDA and gloo on CPU. Returns True when this call created the group (the caller then
    destroys it with :func:`finish_distributed`), False when there is nothing to do or it already exists.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or not dist.is_available() or dist.is_initialized():
        return False
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)
    logger.info("joined DDP group: rank %d of %d (%s)", dist.get_rank(), dist.get_world_size(), backend)
    return True


def finish_distributed(created: bool) -> None:
    """Destroy the process group if :func:`init_distributed` created it."""
    if created and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum floats over ranks (identity outside a process group)."""
    if not is_distributed():
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def barrier() -> None:
    """Synchronise ranks (no-op outside a process group)."""
    if is_distributed():
        dist.barrier()
