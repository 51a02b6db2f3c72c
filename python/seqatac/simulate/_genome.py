"""Synthetic genome: the human-like 2nd-order Markov background, the peak layout and the assembled chromosomes."""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

from .. import _keys
from ._config import SimulationConfig

# Strand-symmetric human dinucleotide frequencies (%, rows = first base A,C,G,T): GC 0.41, CpG o/e 0.24.
_HUMAN_DINUCLEOTIDES = np.array(
    [
        [9.73, 5.03, 6.99, 7.56],
        [7.28, 5.21, 0.99, 6.99],
        [5.93, 4.26, 5.21, 5.03],
        [6.56, 5.93, 7.28, 9.73],
    ]
)
# Trinucleotides over-represented relative to the dinucleotide chain (homopolymer runs).
_TRINUCLEOTIDE_EXCESS = {"AAA": 1.25, "TTT": 1.25, "CCC": 1.1, "GGG": 1.1}
_RESOLUTION = 1 << 16  # Markov draws: probabilities resolved to 1/65536


def _markov_tables() -> np.ndarray:
    """``(4, 4, 4)`` P(z | x, y) of the human-like background chain."""
    dinuc = _HUMAN_DINUCLEOTIDES / _HUMAN_DINUCLEOTIDES.sum()
    mono = dinuc.sum(axis=1)
    tri = dinuc[:, :, None] * dinuc[None, :, :] / mono[None, :, None]
    for word, factor in _TRINUCLEOTIDE_EXCESS.items():
        tri["ACGT".index(word[0]), "ACGT".index(word[1]), "ACGT".index(word[2])] *= factor
    return tri / tri.sum(axis=2, keepdims=True)


def _tilt(table: np.ndarray, factor: float) -> np.ndarray:
    tilted = table.copy()
    tilted[:, :, 1:3] *= factor
    return tilted / tilted.sum(axis=2, keepdims=True)


def _stationary(table: np.ndarray) -> np.ndarray:
    """``(16,)`` stationary distribution of dinucleotide states ``4 x + y``."""
    transition = np.zeros((16, 16))
    for x in range(4):
        for y in range(4):
            transition[4 * x + y, 4 * y : 4 * y + 4] = table[x, y]
    dist = np.full(16, 1 / 16) @ np.linalg.matrix_power(transition, 1024)
    return dist / dist.sum()


@functools.lru_cache(maxsize=64)
def _chain_for_gc(gc: float) -> tuple[np.ndarray, np.ndarray]:
    """Transition table tilted to stationary GC ``gc`` (bisection on the tilt), and its stationary states."""
    base = _markov_tables()
    lo, hi = 0.05, 20.0
    for _ in range(50):
        mid = math.sqrt(lo * hi)
        dist = _stationary(_tilt(base, mid)).reshape(4, 4).sum(axis=0)
        lo, hi = (mid, hi) if dist[1] + dist[2] < gc else (lo, mid)
    table = _tilt(base, math.sqrt(lo * hi))
    return table, _stationary(table)


def _sample_markov(levels: np.ndarray, length: int, gc_levels: np.ndarray, rng) -> np.ndarray:
    """Run one chain per entry of ``levels`` (index into ``gc_levels``) for ``length`` steps, all in parallel.

    Each step draws one 16-bit integer per chain and reads the next base from an inverse-CDF lookup table
    per (GC level, dinucleotide state), so transition probabilities are resolved to 1/65536.

    Returns ``int8`` codes ``(n_chains, length)``.
    """
    used, levels = np.unique(levels, return_inverse=True)
    chains = [_chain_for_gc(float(gc_levels[i])) for i in used]
    grid = (np.arange(_RESOLUTION) + 0.5) / _RESOLUTION
    cdf = np.concatenate([np.cumsum(table, axis=2).reshape(16, 4) for table, _ in chains])
    lookup = np.concatenate([np.searchsorted(row[:3], grid, side="right").astype(np.int8) for row in cdf])
    start_cdf = np.stack([np.cumsum(states) for _, states in chains])
    n = len(levels)
    out = np.empty((length, n), dtype=np.int8)
    state = np.minimum((rng.random(n)[:, None] >= start_cdf[levels]).sum(axis=1), 15)
    out[0], out[1] = state // 4, state % 4
    offset = levels.astype(np.int64) * 16 * _RESOLUTION
    block = 64
    for t in range(2, length):
        if (t - 2) % block == 0:
            draws = rng.integers(0, _RESOLUTION, size=(min(block, length - t), n), dtype=np.uint16)
        base = lookup[offset + state * _RESOLUTION + draws[(t - 2) % block]]
        out[t] = base
        state = (state & 3) * 4 + base
    return np.ascontiguousarray(out.T)


def _layout_peaks(config: SimulationConfig, rng) -> tuple[pd.DataFrame, dict[str, int]]:
    """Place non-overlapping peaks on chromosomes (genomic order) and assign peak classes."""
    weights = np.linspace(1.0, 0.4, config.n_chromosomes)
    per_chrom = np.bincount(
        rng.choice(config.n_chromosomes, size=config.n_peaks, p=weights / weights.sum()), minlength=config.n_chromosomes
    )
    chroms, starts, chrom_sizes = [], [], {}
    for index, n in enumerate(per_chrom):
        name = f"chr{index + 1}"
        gaps = config.min_gap + np.round(rng.exponential(config.mean_gap, size=n)).astype(np.int64)
        gaps[:1] = config.edge_flank
        begin = np.cumsum(gaps + config.peak_width) - config.peak_width
        chroms += [name] * n
        starts.append(begin)
        chrom_sizes[name] = int((begin[-1] + config.peak_width if n else config.edge_flank) + config.edge_flank)
    start = np.concatenate(starts)
    end = start + config.peak_width
    names = [f"{c}:{s}-{e}" for c, s, e in zip(chroms, start, end)]
    classes = np.full(config.n_peaks, "specific", dtype=object)
    draw = rng.random(config.n_peaks)
    classes[draw < config.frac_constitutive] = "constitutive"
    classes[(draw >= config.frac_constitutive) & (draw < config.frac_constitutive + config.frac_noise)] = "noise"
    peaks = pd.DataFrame(
        {
            _keys.CHROM: pd.Categorical(chroms, categories=list(chrom_sizes)),
            _keys.START: start,
            _keys.END: end,
            "peak_class": pd.Categorical(classes, categories=["specific", "constitutive", "noise"]),
        },
        index=pd.Index(names, name=None),
    )
    return peaks, chrom_sizes


def _assemble_genome(config, peaks, chrom_sizes, peak_codes, rng) -> dict[str, np.ndarray]:
    """Background chains over each chromosome, then the peak sequences written over their intervals."""
    chain_length = 4096
    total = sum(chrom_sizes.values())
    n_chains = -(-total // chain_length)
    background = _sample_markov(
        np.zeros(n_chains, dtype=np.int64), chain_length, np.array([config.background_gc]), rng
    ).ravel()
    genome, offset = {}, 0
    chrom_of_peak = peaks[_keys.CHROM].to_numpy()
    starts = peaks[_keys.START].to_numpy()
    for name, size in chrom_sizes.items():
        codes = background[offset : offset + size].copy()
        offset += size
        on_chrom = np.flatnonzero(chrom_of_peak == name)
        if on_chrom.size:
            positions = starts[on_chrom][:, None] + np.arange(config.peak_width)
            codes[positions] = peak_codes[on_chrom]
        genome[name] = codes
    return genome


def _composition(genome_codes: dict[str, np.ndarray]) -> tuple[float, float]:
    """Genome GC fraction and CpG observed/expected (CpG frequency / (C frequency · G frequency))."""
    n = sum(codes.size for codes in genome_codes.values())
    c = sum(np.count_nonzero(codes == 1) for codes in genome_codes.values()) / n
    g = sum(np.count_nonzero(codes == 2) for codes in genome_codes.values()) / n
    cpg = sum(np.count_nonzero((codes[:-1] == 1) & (codes[1:] == 2)) for codes in genome_codes.values())
    return float(c + g), float(cpg / (n - len(genome_codes)) / (c * g))
