"""Motif scanning: exact p-value score thresholds, best scores and matches per sequence."""

from __future__ import annotations

import logging

import numpy as np
from scipy import sparse

from .._errors import SeqatacInputError
from ._motifs import Motif, check_background
from ._sequence import check_codes, one_hot

logger = logging.getLogger(__name__)

_SCORE_RESOLUTION = 0.01  # bits; grid for p-value thresholds (the MOODS / TFM-Pvalue discretisation)
_SCAN_BUDGET = 2**25  # float32 elements of convolution output held at once (128 MiB)
_MOTIFS_PER_CONV = 128


def score_threshold(motif: Motif, *, p_value: float = 5e-5, background=None) -> float:
    """Log-odds score threshold at which a random sequence matches with probability at most ``p_value``.

    The PWM (``motif.pwm(background=background)``) is rounded to a grid of 0.01 bits, and the exact
    distribution of the window score under i.i.d. ``background`` bases is computed by dynamic programming
    over that grid (the TFM-Pvalue / MOODS approach). The threshold is the lowest achievable score ``t``
    with ``P(score >= t) <= p_value``; when even the best score is more frequent than that (short motifs),
    it is the best score, so only best-scoring words match. :func:`motif_matches` scans with the same
    rounded PWM, so the p-value is exact for the scores it compares.

    Returns
    -------
    float threshold in bits (a multiple of the grid step).
    """
    if not 0 < p_value < 1:
        raise SeqatacInputError(f"p_value must be in (0, 1), got {p_value}; chromVAR's default is 5e-5.")
    background = check_background(background)
    return _threshold_units(_grid_pwm(motif, background), background, p_value) * _SCORE_RESOLUTION


def _grid_pwm(motif: Motif, background: np.ndarray) -> np.ndarray:
    """PWM in integer units of ``_SCORE_RESOLUTION`` bits, ``(L, 4)`` int64."""
    return np.round(motif.pwm(background=background) / _SCORE_RESOLUTION).astype(np.int64)


def _threshold_units(scores: np.ndarray, background: np.ndarray, p_value: float) -> int:
    offset = 0
    probability = np.ones(1)  # probability[k] = P(score of the prefix == offset + k)
    for row in scores:
        low = row.min()
        grown = np.zeros(probability.size + row.max() - low)
        for base in range(4):
            shift = row[base] - low
            grown[shift:shift + probability.size] += probability * background[base]
        probability, offset = grown, offset + low
    tail = np.cumsum(probability[::-1])[::-1]  # tail[k] = P(score >= offset + k)
    passing = np.flatnonzero((tail <= p_value * (1 + 1e-9)) & (probability > 0))
    if passing.size == 0:
        logger.debug("motif too short for p=%g: threshold set to its best score", p_value)
        return int(offset + probability.size - 1)
    return int(offset + passing[0])


def _resolve_background(background, codes: np.ndarray) -> np.ndarray:
    if isinstance(background, str):
        if background != "subject":
            raise SeqatacInputError(f"background={background!r} is not supported; pass 'subject', None or 4 "
                                    "frequencies for A, C, G, T.")
        counts = np.bincount(codes.ravel(), minlength=5)[:4] + 1.0
        return counts / counts.sum()
    return check_background(background)


def _as_code_matrix(codes) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim == 1:
        codes = codes[None]
    if codes.ndim != 2:
        raise SeqatacInputError(f"codes must have shape (n, L) or (L,), got {codes.shape}; "
                                "encode sequences with seqatac.data.encode_sequence or Genome.encode_regions.")
    check_codes(codes)
    return codes


def _scan_max(codes: np.ndarray, pwms: list[np.ndarray], batch_size: int) -> np.ndarray:
    """Best score over positions and both strands, ``(n, len(pwms))`` float32.

    Motifs are grouped by length and zero-padded to the longest in their group; sequences are padded on
    the right, and window starts past ``L - length`` are masked, so no window runs past the sequence end.
    An N position (an all-zero one-hot column) contributes 0. A motif longer than the sequence scores -inf.
    """
    import torch

    n, seq_len = codes.shape
    lengths = np.array([p.shape[0] for p in pwms])
    result = np.full((n, len(pwms)), -np.inf, dtype=np.float32)
    order = np.argsort(lengths, kind="stable")
    if n == 0 or seq_len == 0:
        return result
    with torch.inference_mode():
        for group in np.array_split(order, max(1, -(-len(order) // _MOTIFS_PER_CONV))):
            if group.size == 0:
                continue
            width = int(lengths[group].max())
            weight = np.zeros((2 * group.size, 4, width), dtype=np.float32)
            for k, m in enumerate(group):
                weight[k, :, : lengths[m]] = pwms[m].T
                weight[group.size + k, :, : lengths[m]] = pwms[m][::-1, ::-1].T
            weight = torch.from_numpy(weight)
            invalid = torch.from_numpy(np.arange(seq_len)[None, :] > (seq_len - lengths[group])[:, None])
            step = max(1, min(batch_size, _SCAN_BUDGET // (2 * group.size * max(seq_len, 1))))
            for start in range(0, n, step):
                x = torch.from_numpy(one_hot(codes[start:start + step]))
                x = torch.nn.functional.pad(x, (0, width - 1))
                out = torch.nn.functional.conv1d(x, weight)
                best = torch.maximum(out[:, : group.size], out[:, group.size:]).masked_fill_(invalid, -np.inf)
                result[start:start + step, group] = best.amax(dim=2).numpy()
    return result


def motif_scores(codes, motifs: list[Motif], *, background=None, batch_size: int = 4096) -> np.ndarray:
    """Best log-odds score of each motif in each sequence, over all positions and both strands.

    Parameters
    ----------
    codes
        Integer codes ``(n, L)`` (or one sequence ``(L,)``). N contributes 0 (background odds).
    motifs
        Motifs to scan; scored with ``motif.pwm(background=background)``.
    background
        Base frequencies for the log-odds; ``None`` is uniform, ``"subject"`` the frequencies in ``codes``.
    batch_size
        Maximum number of sequences per convolution (lowered automatically to bound memory).

    Returns
    -------
    ``float32`` array ``(n, n_motifs)``; -inf where a motif is longer than the sequences.
    """
    codes = _as_code_matrix(codes)
    background = _resolve_background(background, codes)
    return _scan_max(codes, [m.pwm(background=background) for m in motifs], batch_size)


def motif_matches(codes, motifs: list[Motif], *, p_value: float = 5e-5, background=None,
                  batch_size: int = 4096) -> sparse.csr_matrix:
    """Which sequences contain a match to each motif (chromVAR / motifmatchr semantics).

    A sequence matches a motif when its best window score on either strand reaches
    :func:`score_threshold` at ``p_value``; scores use the same 0.01-bit grid as the threshold.

    Parameters
    ----------
    codes
        Integer codes ``(n, L)`` (or ``(L,)``).
    motifs
        Motifs to scan.
    p_value
        Per-window match p-value (motifmatchr's default 5e-5).
    background
        Base frequencies for log-odds and p-values; ``None`` is uniform, ``"subject"`` the base frequencies
        in ``codes`` (motifmatchr's default).
    batch_size
        Maximum number of sequences per convolution.

    Returns
    -------
    ``scipy.sparse.csr_matrix`` ``(n, n_motifs)``, ``float32`` ones where a sequence contains a match.
    """
    codes = _as_code_matrix(codes)
    background = _resolve_background(background, codes)
    grids = [_grid_pwm(m, background) for m in motifs]
    thresholds = np.array([_threshold_units(g, background, p_value) for g in grids])
    chunks = []
    for start in range(0, codes.shape[0], batch_size):  # sparsify chunk by chunk: memory stays bounded
        scores = _scan_max(codes[start:start + batch_size], [g.astype(np.float64) for g in grids], batch_size)
        chunks.append(sparse.csr_matrix(scores >= thresholds[None, :] - 0.5, dtype=np.float32))  # integer scores
    if not chunks:
        return sparse.csr_matrix((0, len(motifs)), dtype=np.float32)
    return sparse.vstack(chunks, format="csr")
