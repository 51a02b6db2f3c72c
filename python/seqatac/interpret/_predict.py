"""One batched ``predict`` shared by every sequence analysis (ISM, TF activity, denoising).

Models are any ``nn.Module`` mapping one-hot sequences ``(batch, 4, L)`` to outputs ``(batch, ...)``. Inputs
are integer codes ``(n, L)`` (A, C, G, T, N = 0..4, as :func:`seqatac.data.encode_sequence` makes them;
converted to one-hot on the device, batch by batch) or one-hot arrays ``(n, 4, L)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import torch

from .._errors import SeqatacInputError
from .._progress import progress_bar
from ..data import codes_to_onehot


def check_sequences(X) -> tuple[np.ndarray, bool]:
    """Validate sequences for :func:`predict`; returns the array and whether it holds integer codes."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    X = np.asarray(X) if not isinstance(X, np.ndarray) else X
    if np.issubdtype(X.dtype, np.integer) and X.ndim == 2:
        return X, True
    if X.ndim == 3 and X.shape[1] == 4 and (np.issubdtype(X.dtype, np.floating) or X.dtype == bool):
        return X, False
    raise SeqatacInputError(
        f"sequences must be integer codes of shape (n, L) or a one-hot array of shape (n, 4, L), got "
        f"dtype {X.dtype} and shape {X.shape}; encode strings with seqatac.data.encode_sequence."
    )


def _model_device(model: torch.nn.Module) -> torch.device:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextlib.contextmanager
def preserve_model_state(model: torch.nn.Module, device: torch.device | str | None = None):
    """Put ``model`` in eval mode on ``device`` for the block, then restore its device and train flag."""
    was_training, original = model.training, _model_device(model)
    target = torch.device(device) if device is not None else original
    model.eval()
    model.to(target)
    try:
        yield target
    finally:
        model.to(original)
        model.train(was_training)


def _batches(X: np.ndarray, is_codes: bool, batch_size: int, device: torch.device, dtype: torch.dtype):
    for start in range(0, len(X), batch_size):
        block = torch.as_tensor(np.ascontiguousarray(X[start:start + batch_size]), device=device)
        yield start, codes_to_onehot(block, dtype=dtype) if is_codes else block.to(dtype)


def iter_predict(
    model: torch.nn.Module,
    X,
    *,
    batch_size: int = 128,
    device: torch.device | str | None = None,
    precision: str = "fp32",
    verbose: bool = False,
    desc: str = "predict",
) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(start, outputs)`` for consecutive batches of ``X``: the building block of :func:`predict`.

    ``outputs`` is the model's float32 output tensor for rows ``start:start + len(outputs)``, left on the
    device so callers can reduce it before copying.
    """
    from .._torch import autocast, resolve_precision

    X, is_codes = check_sequences(X)
    if int(batch_size) != batch_size or batch_size < 1:
        raise SeqatacInputError(f"batch_size must be a positive integer, got {batch_size!r}.")
    with preserve_model_state(model, device) as target, torch.inference_mode():
        precision = resolve_precision(precision, target)
        with progress_bar(total=len(X), desc=desc, disable=not verbose, unit="seq") as bar:
            for start, batch in _batches(X, is_codes, int(batch_size), target, torch.float32):
                with autocast(target, precision):
                    outputs = model(batch)
                yield start, outputs.float()
                bar.update(len(batch))


def predict(
    model: torch.nn.Module,
    X,
    *,
    batch_size: int = 128,
    device: torch.device | str | None = None,
    precision: str = "fp32",
    reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
    verbose: bool = False,
) -> np.ndarray:
    """Run a sequence model over many sequences in batches, in eval mode and without gradients.

    Parameters
    ----------
    model
        ``nn.Module`` taking one-hot ``(batch, 4, L)``; its device and train/eval mode are restored afterwards.
    X
        Integer codes ``(n, L)`` or one-hot ``(n, 4, L)`` (NumPy, memmap or tensor).
    batch_size
        Sequences per forward pass.
    device
        Where to run; default the model's device.
    precision
        ``"fp32"``, ``"bf16"`` (autocast) or ``"auto"``.
    reduce
        Optional function applied to each batch's output tensor on the device (e.g. to keep a slice).
    verbose
        Show a progress bar.

    Returns
    -------
    float32 array ``(n, ...)``: the (reduced) outputs, in input order.
    """
    parts = []
    for _, outputs in iter_predict(model, X, batch_size=batch_size, device=device, precision=precision,
                                   verbose=verbose):
        parts.append((reduce(outputs) if reduce is not None else outputs).cpu().numpy())
    if not parts:
        raise SeqatacInputError("predict got no sequences; pass at least one.")
    return np.concatenate(parts)
