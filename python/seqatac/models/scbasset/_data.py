"""scBasset's data pipeline: peak filters and splits, minibatches, augmentation.

Nothing here densifies a cells × peaks matrix: targets are a peak-major :class:`~seqatac.models._targets.PeakTargets`
pattern (built once in bounded memory) and each minibatch densifies just its ``batch_size`` rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..._errors import SeqatacInputError
from ...data import N_CODE, PAD_CODE
from .._targets import PeakTargets

# complement of codes A, C, G, T, N, padding
_COMPLEMENT = np.array([3, 2, 1, 0, N_CODE, PAD_CODE], dtype=np.int8)
#: chromosomes the authors keep: chr1-22, X, Y (with or without the "chr" prefix)
STANDARD_CHROMOSOMES = frozenset(
    [str(i) for i in range(1, 23)] + ["X", "Y"] + [f"chr{i}" for i in range(1, 23)] + ["chrX", "chrY"]
)


# ------------------------------------------------------------------------------------------ peaks


def split_peaks(n_peaks: int, *, train_fraction: float = 0.9, random_state=None) -> dict[str, np.ndarray]:
    """Random train/validation/test split of peak indices (the authors': 90 % train, the rest halved).

    Returns
    -------
    ``{"train", "val", "test"}`` → sorted ``int64`` index arrays; ``val`` gets ``floor(n_holdout / 2)`` peaks.
    """
    from ..._utils import check_random_state

    if not 0 < train_fraction <= 1:
        raise SeqatacInputError(f"train_fraction must lie in (0, 1], got {train_fraction!r}.")
    order = check_random_state(random_state).permutation(n_peaks)
    n_holdout = int(n_peaks * (1 - train_fraction) + 1e-9)  # 1000 · (1 - 0.9) is 99.99999...: keep 100
    n_val = n_holdout // 2
    return {
        "train": np.sort(order[n_holdout:]),
        "val": np.sort(order[:n_val]),
        "test": np.sort(order[n_val:n_holdout]),
    }


def peak_filter(regions: pd.DataFrame, targets: PeakTargets, *, min_cell_fraction: float = 0.0,
                standard_chromosomes: bool = False) -> np.ndarray:
    """Boolean mask of the peaks to model, with the authors' optional filters.

    Parameters
    ----------
    regions
        Peak table (``chrom``, ``start``, ``end``).
    targets
        Peak-major targets.
    min_cell_fraction
        Keep peaks open in at least this fraction of cells (authors: 0.01 Buenrostro2018, 0.05 10x).
    standard_chromosomes
        Keep only chr1-22, X and Y.
    """
    if not 0 <= min_cell_fraction <= 1:
        raise SeqatacInputError(f"min_cell_fraction must lie in [0, 1], got {min_cell_fraction!r}.")
    keep = targets.n_open_cells() >= np.ceil(min_cell_fraction * targets.n_cells - 1e-9)
    if standard_chromosomes:
        keep &= regions["chrom"].astype(str).isin(STANDARD_CHROMOSOMES).to_numpy()
    if not keep.any():
        raise SeqatacInputError(
            "the peak filters (min_cell_fraction, standard_chromosomes) leave no peak to train on; relax them."
        )
    return keep


# ------------------------------------------------------------------------------------------ batches


def augment_codes(codes: np.ndarray, *, reverse: bool, shift: int) -> np.ndarray:
    """The authors' augmentation of a batch: optional reverse complement, then a shift padded with 0.25 columns.

    Parameters
    ----------
    codes
        ``(batch, L)`` integer codes.
    reverse
        Reverse-complement every sequence.
    shift
        Positive: move right by ``shift`` bp; negative: left. Vacated positions get :data:`PAD_CODE`
        (a uniform 0.25 one-hot column).

    Returns
    -------
    New ``int8`` array ``(batch, L)``.
    """
    out = _COMPLEMENT[codes[:, ::-1]] if reverse else np.array(codes, dtype=np.int8)
    if shift > 0:
        out[:, shift:] = out[:, :-shift].copy()
        out[:, :shift] = PAD_CODE
    elif shift < 0:
        out[:, :shift] = out[:, -shift:].copy()
        out[:, shift:] = PAD_CODE
    return out


def epoch_batches(n_items: int, batch_size: int, *, min_last: int = 2) -> list[slice]:
    """Slices of consecutive batches over ``n_items``; a last batch smaller than ``min_last`` is dropped.

    BatchNorm needs at least two rows; in DDP each rank needs that many, so callers pass
    ``2 · world_size``. The permutation differs each epoch, so no peak is always left out.
    """
    slices = [slice(start, min(start + batch_size, n_items)) for start in range(0, n_items, batch_size)]
    if slices and slices[-1].stop - slices[-1].start < min_last:
        slices.pop()
    return slices
