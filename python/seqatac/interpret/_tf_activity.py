"""TF activity by motif insertion into dinucleotide-shuffled backgrounds (scBasset paper, Methods)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from .._errors import SeqatacInputError
from .._progress import progress_bar
from .._utils import check_random_state
from ..data import Motif, check_codes, dinucleotide_shuffle, motif_columns
from ._predict import iter_predict

logger = logging.getLogger(__name__)


def shuffled_backgrounds(codes, *, n: int = 1000, random_state=None) -> np.ndarray:
    """Background sequences: dinucleotide-shuffled copies of ``n`` randomly chosen sequences.

    Parameters
    ----------
    codes
        Integer codes ``(n_sequences, L)`` of the data's own peaks: an array, a memmap, or any object with
        ``len()`` whose ``[indices]`` returns those rows (only the chosen rows are read).
    n
        Number of backgrounds; sampled without replacement when there are enough sequences, else with.
    random_state
        Seed or ``np.random.Generator``.

    Returns
    -------
    ``int8`` codes ``(n, L)``.
    """
    if int(n) != n or n < 1:
        raise SeqatacInputError(f"n (backgrounds) must be a positive integer, got {n!r}.")
    if len(codes) == 0:
        raise SeqatacInputError("codes must hold at least one sequence.")
    rng = check_random_state(random_state)
    chosen = rng.choice(len(codes), size=int(n), replace=int(n) > len(codes))
    rows = np.asarray(codes[np.sort(chosen)])[np.argsort(np.argsort(chosen))]  # sorted read, original order
    if rows.ndim != 2:
        raise SeqatacInputError(f"codes must be (n_sequences, L) integer codes, got rows of shape {rows.shape}.")
    return dinucleotide_shuffle(rows.astype(np.int8), random_state=rng)


def tf_activity(
    model: torch.nn.Module,
    backgrounds,
    motifs: Sequence[Motif],
    *,
    zscore: bool = True,
    output_names: Sequence[str] | None = None,
    random_state=None,
    batch_size: int = 128,
    device: torch.device | str | None = None,
    precision: str = "fp32",
    verbose: bool = False,
) -> pd.DataFrame:
    """Activity of each motif in each output (cell) by motif insertion.

    For every motif, one instance per background is sampled from its PFM (one base per column by its
    probabilities) and written over the centre of the background (from ``L // 2 - w // 2``). The raw
    activity of an output is the mean over backgrounds of ``model(with motif) - model(background)``;
    it is then z-scored across outputs.

    Parameters
    ----------
    model
        ``nn.Module`` mapping one-hot ``(batch, 4, L)`` to ``(batch, n_outputs)``; for scBasset the denoised
        accessibility ``sigmoid(embedding · W)`` (as the authors' ``motif_score``).
    backgrounds
        Integer codes ``(n_backgrounds, L)``, e.g. from :func:`shuffled_backgrounds`.
    motifs
        :class:`~seqatac.data.Motif` list (from :func:`~seqatac.data.jaspar` or
        :func:`~seqatac.data.read_motifs`).
    zscore
        z-score each motif's activities across outputs (population sd); False returns the raw differences.
    output_names
        Row labels (e.g. cell names); default ``0..n_outputs-1``.
    random_state
        Seed or ``np.random.Generator`` for the motif instances.
    batch_size, device, precision, verbose
        As :func:`seqatac.tl.predict`.

    Returns
    -------
    DataFrame ``(n_outputs, n_motifs)``; columns from :func:`seqatac.data.motif_columns`.
    """
    backgrounds = np.asarray(backgrounds)
    if backgrounds.ndim != 2 or len(backgrounds) == 0 or not np.issubdtype(backgrounds.dtype, np.integer):
        raise SeqatacInputError(
            f"backgrounds must be integer codes of shape (n_backgrounds, L), got {backgrounds.dtype} "
            f"{backgrounds.shape}; make them with seqatac.tl.shuffled_backgrounds."
        )
    check_codes(backgrounds)
    motifs = list(motifs)
    if not motifs or not all(isinstance(m, Motif) for m in motifs):
        raise SeqatacInputError("motifs must be a non-empty list of seqatac.data.Motif objects.")
    length = backgrounds.shape[1]
    too_long = [m.id for m in motifs if m.length > length]
    if too_long:
        raise SeqatacInputError(f"motifs {too_long[:5]} are longer than the {length} bp backgrounds; drop them.")
    rng = check_random_state(random_state)
    options = dict(batch_size=batch_size, device=device, precision=precision)

    def mean_output(codes: np.ndarray) -> torch.Tensor:
        total = None
        for _, outputs in iter_predict(model, codes, **options):
            part = outputs.sum(dim=0, dtype=torch.float64)
            total = part if total is None else total + part
        return total / len(codes)

    baseline = mean_output(backgrounds)
    raw = np.empty((baseline.shape[0], len(motifs)), dtype=np.float64)
    for k, motif in enumerate(progress_bar(motifs, desc="TF activity", unit="motif", disable=not verbose)):
        inserted = backgrounds.copy()
        start = length // 2 - motif.length // 2
        inserted[:, start:start + motif.length] = motif.sample(n=len(backgrounds), random_state=rng)
        raw[:, k] = (mean_output(inserted) - baseline).cpu().numpy()
    if zscore:
        sd = raw.std(axis=0)
        raw = np.divide(raw - raw.mean(axis=0), sd, out=np.zeros_like(raw), where=sd > 0)
    index = pd.Index(output_names if output_names is not None else np.arange(raw.shape[0]).astype(str))
    if len(index) != raw.shape[0]:
        raise SeqatacInputError(f"output_names has {len(index)} names for {raw.shape[0]} outputs.")
    return pd.DataFrame(raw.astype(np.float32), index=index, columns=motif_columns(motifs))
