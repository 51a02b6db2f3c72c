"""In silico saturation mutagenesis (ISM) for any sequence model (scBasset paper, Methods)."""

from __future__ import annotations

import numpy as np
import torch

from .._errors import SeqatacInputError
from .._progress import progress_bar
from ..data import codes_to_onehot
from ._predict import check_sequences, preserve_model_state


def ism(
    model: torch.nn.Module,
    X,
    *,
    positions=None,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    precision: str = "fp32",
    verbose: bool = False,
) -> np.ndarray:
    """Per-position importance of every output by saturation mutagenesis.

    For each position and each of the three alternative bases, the change of the model output relative
    to the reference sequence is computed. The four values of a position (0 for the reference base) are
    centred to sum to zero, and the centred value of the reference base is the position's importance:
    ``importance = -(Σ_alt Δ_alt) / 4``. Positions without a single reference base (N, padding) score 0.

    Parameters
    ----------
    model
        ``nn.Module`` mapping one-hot ``(batch, 4, L)`` to ``(batch, n_outputs)``; for scBasset the
        depth-normalised logits ``embedding · W`` (no sigmoid, no intercept). State is restored afterwards.
    X
        Sequences: integer codes ``(n, L)`` or ``(L,)``, or one-hot ``(n, 4, L)``.
    positions
        Positions to mutate (indices, a slice or a boolean mask over ``L``); default all.
    batch_size
        Mutant sequences per forward pass.
    device, precision
        Where and how to run (see :func:`seqatac.tl.predict`).
    verbose
        Show a progress bar.

    Returns
    -------
    float32 array ``(n, n_outputs, n_positions)``: importance of each position for each output (cells).
    """
    from .._torch import autocast, resolve_precision

    X = np.asarray(X)
    if X.ndim == 1:
        X = X[None]
    X, is_codes = check_sequences(X)
    length = X.shape[-1]
    selected = np.arange(length)[positions] if positions is not None else np.arange(length)
    if selected.dtype == bool or selected.ndim != 1 or selected.size == 0:
        raise SeqatacInputError(
            f"positions must select at least one of the {length} positions (indices, a slice or a boolean mask)."
        )
    if int(batch_size) != batch_size or batch_size < 3:
        raise SeqatacInputError(f"batch_size must be an integer >= 3, got {batch_size!r}.")
    per_batch = int(batch_size) // 3  # positions per forward pass (three mutants each)
    results = []
    with preserve_model_state(model, device) as target, torch.inference_mode():
        precision = resolve_precision(precision, target)
        total = len(X) * len(selected)
        with progress_bar(total=total, desc="ISM", unit="pos", disable=not verbose) as bar:
            for sequence in X:
                reference = torch.as_tensor(np.ascontiguousarray(sequence), device=target)
                reference = (codes_to_onehot(reference[None]) if is_codes else reference[None].float())[0]
                results.append(_ism_one(model, reference, selected, per_batch, target, precision, autocast, bar))
    return np.stack(results)


def _ism_one(model, reference, selected, per_batch, device, precision, autocast, bar) -> np.ndarray:
    """Importance ``(n_outputs, n_positions)`` of one one-hot sequence ``(4, L)``."""
    with autocast(device, precision):
        reference_output = model(reference[None]).float()[0]
    importance = torch.zeros((reference_output.shape[0], len(selected)), device=device)
    column = reference[:, torch.as_tensor(selected, device=device)]
    has_reference = (column.sum(dim=0) == 1) & (column.max(dim=0).values == 1)
    reference_base = column.argmax(dim=0)
    alternatives = (reference_base[:, None] + torch.arange(1, 4, device=device)) % 4  # (n_pos, 3)
    eye = torch.eye(4, device=device, dtype=reference.dtype)
    for first in range(0, len(selected), per_batch):
        local = torch.arange(first, min(first + per_batch, len(selected)), device=device)
        local = local[has_reference[local]]
        if len(local):
            where = torch.as_tensor(selected, device=device)[local].repeat_interleave(3)
            mutants = reference.expand(len(where), -1, -1).clone()
            mutants[torch.arange(len(where), device=device), :, where] = eye[alternatives[local].reshape(-1)]
            with autocast(device, precision):
                delta = model(mutants).float() - reference_output
            importance.index_add_(1, local.repeat_interleave(3), -delta.T / 4)
        bar.update(min(per_batch, len(selected) - first))
    return importance.cpu().numpy()
