"""Batch effects, cells (types, trajectories, batches, depths, TF activity) and the sparse ATAC counts."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import sparse

from .. import _keys
from .._errors import SeqatacInputError
from ..data import reverse_complement
from ._config import _type_name
from ._sequences import _kmer_counts


def _zscore(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x, dtype=np.float64)


def _batch_effect(config, peak_codes, gc, rng) -> dict:
    """Sequence-correlated batch effects ``(B, P)`` (GC slope + one k-mer per batch) and depth shifts ``(B,)``."""
    b = config.n_batches
    spread = np.linspace(-1.0, 1.0, b) if b > 1 else np.zeros(1)
    # one k-mer per batch: half G/C (so it is not a second GC effect), no CpG (rare in the genome),
    # not its own reverse complement, one per reverse-complement pair
    k = config.batch_kmer_length
    candidates = sorted(
        {
            min(w, reverse_complement(w))
            for w in map("".join, itertools.product("ACGT", repeat=k))
            if 2 * sum(c in "GC" for c in w) == k and "CG" not in w and w != reverse_complement(w)
        }
    )
    if len(candidates) < b:
        raise SeqatacInputError(
            f"batch_kmer_length = {k} leaves {len(candidates)} k-mers for {b} batches; use an even length >= 4."
        )
    kmers = list(rng.choice(np.array(candidates), size=b, replace=False))
    gc_coefficient = config.batch_gc_effect * spread
    kmer_coefficient = np.full(b, config.batch_kmer_effect if b > 1 else 0.0)
    effect = gc_coefficient[:, None] * _zscore(gc)[None]
    kmer_z = np.stack([_zscore(counts) for counts in _kmer_counts(peak_codes, kmers)])
    effect = effect + kmer_coefficient[:, None] * kmer_z
    return {
        "effect": effect.astype(np.float32),
        "gc_coefficient": gc_coefficient,
        "depth_shift": config.batch_depth_shift * spread,
        "kmer": np.array(kmers, dtype=object),
        "kmer_coefficient": kmer_coefficient,
    }


def _draw_cells(config, programs, depth_shift, rng) -> tuple[pd.DataFrame, np.ndarray]:
    """Cell types, trajectories, batches, depths and the true TF activity ``(N, T)``."""
    n, k = config.n_cells, config.n_cell_types
    proportions = rng.dirichlet(np.full(k, config.type_concentration))
    cell_type = rng.choice(k, size=n, p=proportions)
    mean_activity = programs[cell_type].copy()
    pseudotime = np.full(n, np.nan)
    trajectory = np.full(n, "none", dtype=object)
    if config.n_trajectories:
        pairs = [(a, b) for a in range(k) for b in range(a + 1, k)]
        chosen = rng.choice(len(pairs), size=min(config.n_trajectories, len(pairs)), replace=False)
        on_traj = rng.random(n) < config.frac_trajectory_cells
        which = rng.choice(chosen, size=n)
        t = rng.random(n)
        for p in chosen:
            a, b = pairs[p]
            rows = np.flatnonzero(on_traj & (which == p))
            pseudotime[rows] = t[rows]
            trajectory[rows] = f"{_type_name(a)}->{_type_name(b)}"
            mean_activity[rows] = (1 - t[rows, None]) * programs[a] + t[rows, None] * programs[b]
            cell_type[rows] = np.where(t[rows] < 0.5, a, b)
    used = (programs != 0).any(axis=0) & (np.ptp(programs, axis=0) > 0)
    activity = mean_activity + rng.normal(0.0, config.activity_noise_sd, size=(n, programs.shape[1])) * used
    batch = rng.integers(config.n_batches, size=n)
    depth = config.depth_mean + depth_shift[batch] + rng.normal(0.0, config.depth_sd, size=n)
    width = len(str(n - 1))
    cells = pd.DataFrame(
        {
            _keys.CELL_TYPE: pd.Categorical.from_codes(cell_type, categories=[_type_name(i) for i in range(k)]),
            _keys.BATCH: pd.Categorical.from_codes(batch, categories=[f"batch{i}" for i in range(config.n_batches)]),
            "trajectory": pd.Categorical(trajectory),
            "pseudotime": pseudotime,
            "depth": depth,
        },
        index=pd.Index([f"cell{i:0{width}d}" for i in range(n)]),
    )
    return cells, activity.astype(np.float32)


def _probabilities(design: np.ndarray, weights: np.ndarray, p_max: float) -> np.ndarray:
    """``sigmoid(design @ weights)`` clipped to ``p_max``, float32, computed in place."""
    p = design @ weights
    np.negative(p, out=p)
    np.exp(p, out=p)
    p += 1.0
    np.reciprocal(p, out=p)
    np.minimum(p, p_max, out=p)
    return p


def _sample_counts(design, weights, config, rng) -> sparse.csr_matrix:
    """Counts ~ Poisson(-log(1 - p)), drawn chunk by chunk of cells straight into CSR arrays (never dense).

    The CSR buffers are sized from the first chunk's non-zeros (+25%; pages never written cost no memory)
    and grow only if the estimate falls short, so memory stays near the final matrix plus one chunk.
    """
    n_cells, n_peaks = design.shape[0], weights.shape[1]
    indptr = np.zeros(n_cells + 1, dtype=np.int64)
    indices = data = None
    at = 0
    for lo in range(0, n_cells, config.chunk_size):
        p = _probabilities(design[lo : lo + config.chunk_size], weights, config.p_max)
        u = rng.random(p.shape, dtype=np.float32)
        rows, cols = np.nonzero(u < p)
        p_open = p[rows, cols].astype(np.float64)
        # zero-truncated Poisson(λ), λ = -log(1 - p): the first event time τ of a rate-λ process given τ < 1
        # has CDF (1 - e^{-λτ}) / p; u / p is uniform given u < p, so inversion gives τ = -log(1 - u) / λ.
        # Then Poisson(λ (1 - τ)) further events.
        rate = -np.log1p(-p_open)
        tau = -np.log1p(-u[rows, cols].astype(np.float64)) / rate
        values = 1 + rng.poisson(rate * np.clip(1.0 - tau, 0.0, 1.0))
        del p, u
        n_rows = min(config.chunk_size, n_cells - lo)
        if indices is None:
            capacity = int(cols.size * n_cells / n_rows * 1.25) + 1024
            indices, data = np.empty(capacity, dtype=np.int32), np.empty(capacity, dtype=np.float32)
        if at + cols.size > indices.size:
            capacity = max(2 * indices.size, at + cols.size)
            indices, data = _grown(indices, capacity, at), _grown(data, capacity, at)
        indices[at : at + cols.size] = cols
        data[at : at + cols.size] = values
        indptr[lo + 1 : lo + 1 + n_rows] = at + np.cumsum(np.bincount(rows, minlength=n_rows))
        at += cols.size
    if at < np.iinfo(np.int32).max:
        indptr = indptr.astype(np.int32)
    return sparse.csr_matrix((data[:at], indices[:at], indptr), shape=(n_cells, n_peaks))


def _grown(array: np.ndarray, capacity: int, used: int) -> np.ndarray:
    bigger = np.empty(capacity, dtype=array.dtype)
    bigger[:used] = array[:used]
    return bigger
