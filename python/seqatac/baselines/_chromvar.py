"""chromVAR-style motif deviations (Schep et al. 2017, Nat. Methods 14:975).

For every cell and motif, chromVAR compares the fragments that fall in the motif's peaks with the number
expected from the cell's depth and the pooled accessibility profile, then corrects that raw deviation by
the deviations of background peak sets matched on GC content and mean accessibility:

- expectation ``e_p = Σ_c X[c, p] / Σ X`` (fraction of all fragments in peak ``p``);
- raw deviation ``(observed − expected) / expected`` with ``observed = X @ M`` and
  ``expected = N_c · (e @ M)`` (``N_c`` = fragments of cell ``c``, ``M`` = peaks × motifs matches);
- the same for each background set ``k``, where every matched peak is replaced by its ``k``-th background
  peak (``M_k = P_kᵀ M``);
- bias-corrected deviation = raw − mean_k(background), z-score = that / sd_k(background).

The cells × peaks matrix stays sparse: every product is ``X (CSR) @ M_k`` with ``M_k`` a dense block of
at most a few million peaks × motifs entries.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse, stats
from scipy.linalg import solve_triangular

from .._errors import SeqatacInputError, SeqatacWarning
from .._keys import CHROMVAR_OBSM, END, START
from .._utils import check_random_state
from ..data import N_CODE, check_counts, gc_content, motif_labels, motif_matches, parse_regions

logger = logging.getLogger(__name__)

#: chromVAR leaves a cell's deviation undefined (NaN) when fewer fragments than this are expected.
MIN_EXPECTED = 1.0
DEVIATIONS_SUFFIX = "_deviations"
_DENSE_BLOCK_ELEMENTS = 2**22  # peaks × motifs block held dense at once (32 MiB of float64)
_SCAN_BATCH = 2**16  # peaks encoded per motif_matches call (each call recomputes the motif thresholds)
_MAX_WIDTH_GROUPS = 16
_WIDTH_STEP = 50


def background_peaks(
    adata_or_counts,
    gc,
    *,
    n_backgrounds: int = 50,
    n_bins: int = 50,
    bandwidth: float = 0.1,
    random_state=0,
) -> np.ndarray:
    """Sample background peaks matched on GC content and accessibility (chromVAR's ``getBackgroundPeaks``).

    Each peak is placed in a 2-D space of ``log10(total fragments)`` and GC content, whitened with the
    Cholesky factor of the covariance of those two features. The space is cut into an ``n_bins × n_bins``
    grid and each peak assigned to its nearest grid point. A background peak for a peak in grid point
    ``a`` is drawn (with replacement) by choosing a grid point ``b`` with probability proportional to
    ``N(dist(a, b); 0, bandwidth)`` among occupied points, then a peak uniformly within ``b``.

    Parameters
    ----------
    adata_or_counts
        AnnData (``X`` cells × peaks) or a cells × peaks count matrix (sparse or dense).
    gc
        GC content per peak, shape ``(n_peaks,)``.
    n_backgrounds
        Background peaks drawn per peak (chromVAR's ``niterations``).
    n_bins
        Grid points per axis (chromVAR's ``bs``).
    bandwidth
        Standard deviation of the Gaussian kernel in whitened units (chromVAR's ``w``).
    random_state
        Seed or ``numpy.random.Generator``.

    Returns
    -------
    ``int64`` array ``(n_peaks, n_backgrounds)`` of background peak indices (0-based).
    """
    counts = _as_csr(adata_or_counts.X if isinstance(adata_or_counts, AnnData) else adata_or_counts)
    fragments_per_peak = np.asarray(counts.sum(axis=0)).ravel()
    gc = np.asarray(gc, dtype=np.float64).ravel()
    if gc.shape[0] != counts.shape[1]:
        raise SeqatacInputError(
            f"gc has {gc.shape[0]} values but the count matrix has {counts.shape[1]} peaks; "
            "pass one GC fraction per peak (column), in the same order."
        )
    if (fragments_per_peak <= 0).any():
        raise SeqatacInputError(
            f"{int((fragments_per_peak <= 0).sum())} peaks have no fragments in any cell, so their "
            "accessibility is undefined; drop them first (chromvar_deviations does this for you)."
        )
    if n_backgrounds < 1 or n_bins < 1 or bandwidth <= 0:
        raise SeqatacInputError(
            "n_backgrounds and n_bins must be >= 1 and bandwidth > 0; "
            f"got n_backgrounds={n_backgrounds}, n_bins={n_bins}, bandwidth={bandwidth}."
        )
    rng = check_random_state(random_state)
    features = _whiten(np.column_stack([np.log10(fragments_per_peak), gc]))

    # nearest point of a regular grid spanning each axis = independent rounding per axis
    lo, hi = features.min(axis=0), features.max(axis=0)
    step = np.where(hi > lo, (hi - lo) / max(n_bins - 1, 1), 1.0)
    grid_index = np.clip(np.rint((features - lo) / step), 0, n_bins - 1).astype(np.int64)
    bin_id = grid_index[:, 0] * n_bins + grid_index[:, 1]
    occupied, peak_bin, bin_size = np.unique(bin_id, return_inverse=True, return_counts=True)
    centres = np.column_stack([occupied // n_bins, occupied % n_bins]) * step + lo
    peaks_by_bin = np.argsort(peak_bin, kind="stable")
    bin_start = np.concatenate([[0], np.cumsum(bin_size)[:-1]])

    out = np.empty((counts.shape[1], n_backgrounds), dtype=np.int64)
    for a in range(occupied.size):
        # P(bin b) ∝ kernel(a, b): chromVAR weights each peak by kernel / bin density, summing to this
        weight = np.exp(-((centres - centres[a]) ** 2).sum(axis=1) / (2.0 * bandwidth**2))
        members = peaks_by_bin[bin_start[a] : bin_start[a] + bin_size[a]]
        chosen = rng.choice(occupied.size, size=(members.size, n_backgrounds), p=weight / weight.sum())
        out[members] = peaks_by_bin[bin_start[chosen] + rng.integers(0, bin_size[chosen])]
    return out


def compute_deviations(
    counts,
    matches,
    background: np.ndarray,
    *,
    expectation: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Bias-corrected deviations and z-scores (chromVAR's ``computeDeviations``).

    Parameters
    ----------
    counts
        Cells × peaks counts ``(n_cells, n_peaks)``, sparse or dense; never densified.
    matches
        Peaks × motifs annotation ``(n_peaks, n_motifs)``, usually binary.
    background
        Background peak indices ``(n_peaks, n_backgrounds)`` from :func:`background_peaks`
        (at least 2 columns).
    expectation
        Expected fraction of fragments per peak ``(n_peaks,)``; default: each peak's share of all fragments.

    Returns
    -------
    deviations, z : ``float64`` arrays ``(n_cells, n_motifs)``. NaN where fewer than
    :data:`MIN_EXPECTED` fragments are expected in a cell (as chromVAR) or the background has no spread.
    """
    counts = _as_csr(counts)
    matches = sparse.csc_matrix(matches, dtype=np.float64)
    background = np.asarray(background)
    n_cells, n_peaks = counts.shape
    if matches.shape[0] != n_peaks or background.ndim != 2 or background.shape[0] != n_peaks:
        raise SeqatacInputError(
            f"counts have {n_peaks} peaks but matches have {matches.shape[0]} rows and background has "
            f"shape {background.shape}; pass peaks × motifs matches and peaks × n_backgrounds indices "
            "for the same peaks as the count columns."
        )
    if background.shape[1] < 2:
        raise SeqatacInputError("at least 2 background sets are needed for a z-score; use n_backgrounds >= 2.")
    fragments_per_cell = np.asarray(counts.sum(axis=1)).ravel()
    if expectation is None:
        fragments_per_peak = np.asarray(counts.sum(axis=0)).ravel()
        expectation = fragments_per_peak / fragments_per_peak.sum()
    # remap_k (peaks × peaks): row q sums the rows p of an annotation whose k-th background peak is q
    remaps = [
        sparse.csr_matrix((np.ones(n_peaks), (column, np.arange(n_peaks))), shape=(n_peaks, n_peaks))
        for column in background.T
    ]
    deviations = np.empty((n_cells, matches.shape[1]))
    z = np.empty((n_cells, matches.shape[1]))
    block = max(1, _DENSE_BLOCK_ELEMENTS // n_peaks)  # motifs per dense peaks × motifs block
    for first in range(0, matches.shape[1], block):
        columns = slice(first, first + block)
        deviations[:, columns], z[:, columns] = _deviation_block(
            counts, matches[:, columns].toarray(), remaps, expectation, fragments_per_cell
        )
    return deviations, z


def _deviation_block(counts, annotation, remaps, expectation, fragments_per_cell):
    """Deviations and z-scores for a dense peaks × motifs block (sparse @ dense products only)."""

    def relative_deviation(annotation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        observed = counts @ annotation
        expected = np.outer(fragments_per_cell, expectation @ annotation)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (observed - expected) / expected, expected

    observed_deviation, expected = relative_deviation(annotation)
    # Welford running mean / sum of squares over background sets: memory stays O(cells × motifs)
    mean = np.zeros_like(observed_deviation)
    sum_sq = np.zeros_like(observed_deviation)
    for k, remap in enumerate(remaps):
        sampled_deviation, _ = relative_deviation(remap @ annotation)
        delta = sampled_deviation - mean
        mean += delta / (k + 1)
        sum_sq += delta * (sampled_deviation - mean)
    sd = np.sqrt(sum_sq / (len(remaps) - 1))
    deviations = observed_deviation - mean
    with np.errstate(divide="ignore", invalid="ignore"):
        z = deviations / sd
    undefined = (expected < MIN_EXPECTED) | ~np.isfinite(z)
    deviations[undefined] = np.nan
    z[undefined] = np.nan
    return deviations, z


def motif_variability(
    z,
    *,
    n_bootstrap: int = 0,
    quantiles: tuple[float, float] = (0.025, 0.975),
    random_state=0,
) -> pd.DataFrame:
    """Per-motif variability across cells (chromVAR's ``computeVariability``).

    Parameters
    ----------
    z
        Deviation z-scores ``(n_cells, n_motifs)`` (array or DataFrame; NaN ignored).
    n_bootstrap
        Bootstrap resamples of the cells for a confidence interval on the variability; 0 skips it.
    quantiles
        Lower and upper quantiles of the bootstrap interval.
    random_state
        Seed or ``numpy.random.Generator`` for the bootstrap.

    Returns
    -------
    DataFrame indexed by motif with ``variability`` (SD of z across cells), ``p_value`` (upper tail of
    ``χ²_{n−1}`` at ``(n−1)·SD²``), ``p_value_adj`` (Benjamini–Hochberg) and, with a bootstrap,
    ``bootstrap_lower_bound`` / ``bootstrap_upper_bound``.
    """
    index = z.columns if isinstance(z, pd.DataFrame) else None
    z = np.asarray(z, dtype=np.float64)
    n_cells = z.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN motifs give NaN, as in chromVAR
        variability = np.nanstd(z, axis=0, ddof=1)
        p_value = stats.chi2.sf((n_cells - 1) * variability**2, df=n_cells - 1)
        table = {"variability": variability, "p_value": p_value, "p_value_adj": _benjamini_hochberg(p_value)}
        if n_bootstrap > 0:
            rng = check_random_state(random_state)
            boot = np.stack(
                [np.nanstd(z[rng.integers(0, n_cells, n_cells)], axis=0, ddof=1) for _ in range(n_bootstrap)]
            )
            table["bootstrap_lower_bound"], table["bootstrap_upper_bound"] = np.nanquantile(boot, quantiles, axis=0)
    return pd.DataFrame(table, index=index)


def chromvar_deviations(
    adata: AnnData,
    motifs: Sequence | None = None,
    *,
    genome=None,
    matches=None,
    gc=None,
    n_backgrounds: int = 50,
    p_value: float = 5e-5,
    width: int | None = None,
    n_bootstrap: int = 0,
    key_added: str = CHROMVAR_OBSM,
    random_state=0,
    copy: bool = False,
) -> AnnData | None:
    """chromVAR-style motif deviation z-scores per cell.

    Give either ``genome`` + ``motifs`` (peak sequences are read from ``var`` coordinates, GC content and
    motif matches computed from them) or precomputed ``matches`` and ``gc``; a mix works too (e.g. your
    own matches, GC from the genome). Peaks without fragments in any cell are dropped first, as chromVAR
    requires; motifs left with no matching peak are dropped with a :class:`~seqatac.SeqatacWarning`.

    Parameters
    ----------
    adata
        Cells × peaks counts in ``X``; ``var`` holds peak coordinates when a genome is used.
    motifs
        :class:`~seqatac.data._motifs.Motif` objects (or names labelling the columns of ``matches``).
    genome
        :class:`~seqatac.data._genome.Genome` for sequences.
    matches
        Peaks × motifs match matrix ``(n_peaks, n_motifs)`` (sparse, array or DataFrame).
    gc
        GC fraction per peak ``(n_peaks,)``.
    n_backgrounds
        Background peak sets (see :func:`background_peaks`).
    p_value
        Motif match threshold passed to ``motif_matches``.
    width
        Scan fixed-width windows centred on the peaks instead of the peaks themselves.
    n_bootstrap
        Bootstrap resamples for the variability confidence interval (0 = none).
    key_added
        Where results go (default ``"chromvar"``).
    random_state
        Seed for background sampling and the bootstrap.
    copy
        Work on and return a copy.

    Returns
    -------
    None, or the copy when ``copy=True``. Writes:

    - ``obsm[key_added]``: DataFrame cells × motifs of bias-corrected z-scores;
    - ``obsm[key_added + "_deviations"]``: DataFrame of bias-corrected deviations;
    - ``uns[key_added]``: ``params``, ``motif_id``, ``motif_name``, ``n_matches`` (peaks per motif),
      ``dropped_motifs``, ``n_peaks_used``, ``n_peaks_dropped`` and ``variability`` (DataFrame from
      :func:`motif_variability`).
    """
    adata = adata.copy() if copy else adata
    counts = _as_csr(check_counts(adata.X, "adata.X"))
    keep = np.asarray(counts.sum(axis=0)).ravel() > 0
    if not keep.any():
        raise SeqatacInputError("the count matrix has no fragments; pass cells × peaks counts in adata.X.")
    if not keep.all():
        logger.info("chromVAR: dropping %d of %d peaks with no fragments in any cell", (~keep).sum(), keep.size)
    motif_id, motif_name = _motif_labels(motifs, matches)
    matches_were_scanned = matches is None
    matches, gc = _peak_annotations(
        adata, keep, motifs, genome=genome, matches=matches, gc=gc, width=width, p_value=p_value
    )
    if matches.shape[1] != len(motif_name):
        raise SeqatacInputError(
            f"{len(motif_name)} motifs given but matches has {matches.shape[1]} columns; "
            "pass one motif per column of matches."
        )
    n_matches = np.asarray((matches != 0).sum(axis=0)).ravel()
    used = n_matches > 0
    longest_scan = _longest_scan(adata, keep, width) if matches_were_scanned else None
    too_long = [longest_scan is not None and getattr(m, "length", 0) > longest_scan for m in (motifs or [])]
    too_long += [False] * (len(motif_name) - len(too_long))
    if not used.any():
        if all(too_long):
            raise SeqatacInputError(
                f"every motif is longer than the longest scanned window ({longest_scan} bp), so none can match "
                f"(e.g. {motif_name[0]}: {getattr(motifs[0], 'length', '?')} bp). Fix: pass width= at least the motif length, or "
                "motifs shorter than the peaks."
            )
        raise SeqatacInputError(
            "no motif matches any peak; loosen p_value (e.g. 1e-4) or check the motifs and genome."
        )
    dropped = [motif_name[i] + (" (longer than every peak)" if too_long[i] else "") for i in np.flatnonzero(~used)]
    if dropped:
        warnings.warn(
            f"{len(dropped)} motifs match no peak and are dropped: {', '.join(dropped)}", SeqatacWarning, stacklevel=2
        )
    motif_id = [motif_id[i] for i in np.flatnonzero(used)]
    motif_name = [motif_name[i] for i in np.flatnonzero(used)]

    counts = counts[:, keep]
    background = background_peaks(counts, gc, n_backgrounds=n_backgrounds, random_state=random_state)
    deviations, z = compute_deviations(counts, matches[:, used], background)

    columns = motif_labels(motif_name, motif_id)
    z = pd.DataFrame(z, index=adata.obs_names, columns=columns)
    adata.obsm[key_added] = z
    adata.obsm[key_added + DEVIATIONS_SUFFIX] = pd.DataFrame(deviations, index=adata.obs_names, columns=columns)
    adata.uns[key_added] = {
        "params": {
            "n_backgrounds": n_backgrounds,
            "p_value": p_value,
            "width": -1 if width is None else int(width),
            "random_state": random_state if isinstance(random_state, int) else -1,
        },
        "motif_id": np.array(motif_id, dtype=object),
        "motif_name": np.array(motif_name, dtype=object),
        "n_matches": n_matches[used],
        "dropped_motifs": np.array(dropped, dtype=object),
        "n_peaks_used": int(keep.sum()),
        "n_peaks_dropped": int((~keep).sum()),
        "variability": motif_variability(z, n_bootstrap=n_bootstrap, random_state=random_state),
    }
    logger.info(
        "chromVAR: %d motifs × %d cells (%d peaks, %d backgrounds); added obsm[%r], obsm[%r], uns[%r]",
        z.shape[1], z.shape[0], keep.sum(), n_backgrounds, key_added, key_added + DEVIATIONS_SUFFIX, key_added,
    )
    return adata if copy else None


# --- helpers ---------------------------------------------------------------------------------------------


def _as_csr(x) -> sparse.csr_matrix:
    """Counts as float64 CSR (a copy of the non-zeros only; dense input is sparsified)."""
    return sparse.csr_matrix(x, dtype=np.float64)


def _whiten(features: np.ndarray) -> np.ndarray:
    """Decorrelate and scale ``(n, d)`` features with the Cholesky factor of their covariance."""
    cov = np.atleast_2d(np.cov(features, rowvar=False))
    try:
        factor = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:  # a constant or collinear feature: scale each axis on its own
        sd = np.sqrt(np.diag(cov))
        factor = np.diag(np.where(sd > 0, sd, 1.0))
    return solve_triangular(factor, features.T, lower=True).T


def _benjamini_hochberg(p_value: np.ndarray) -> np.ndarray:
    adjusted = np.full_like(p_value, np.nan)
    finite = np.isfinite(p_value)
    if finite.any():
        adjusted[finite] = stats.false_discovery_control(p_value[finite])
    return adjusted


def _motif_labels(motifs, matches) -> tuple[list[str], list[str]]:
    """Motif ids and names from Motif objects, plain names, or DataFrame columns."""
    if motifs is not None:
        ids = [str(getattr(m, "id", m)) for m in motifs]
        names = [str(getattr(m, "name", m)) for m in motifs]
        return ids, names
    if isinstance(matches, pd.DataFrame):
        names = [str(c) for c in matches.columns]
        return names, names
    n = 0 if matches is None else matches.shape[1]
    names = [f"motif_{i}" for i in range(n)]
    return names, names


def _longest_scan(adata, keep: np.ndarray, width: int | None) -> int:
    """The longest window a motif is scanned in: ``width``, or the longest kept peak."""
    if width is not None:
        return int(width)
    regions = parse_regions(adata.var).iloc[np.flatnonzero(keep)]
    return int((regions[END] - regions[START]).max())


def _peak_annotations(adata, keep, motifs, *, genome, matches, gc, width, p_value):
    """Matches ``(n_kept, n_motifs)`` CSR and GC ``(n_kept,)`` of the kept peaks: given, or read from ``genome``."""
    n_peaks = keep.size
    if matches is None or gc is None:
        if genome is None:
            raise SeqatacInputError(
                "chromvar_deviations needs peak sequences to find motif matches or GC content; pass "
                "genome=Genome(fasta) (with motifs=...), or precomputed matches= and gc=."
            )
        if matches is None and not motifs:
            raise SeqatacInputError(
                "no motifs to match; pass motifs= (e.g. seqatac.data.jaspar(...)) or precomputed matches=."
            )
        scanned_matches, scanned_gc = _scan_peaks(
            adata, keep, genome, motifs if matches is None else None, width=width, p_value=p_value
        )
    if matches is None:
        matches = scanned_matches
    else:
        matches = sparse.csr_matrix(matches.to_numpy() if isinstance(matches, pd.DataFrame) else matches)
        if matches.shape[0] != n_peaks:
            raise SeqatacInputError(
                f"matches has {matches.shape[0]} rows but adata has {n_peaks} peaks; pass a "
                "peaks × motifs matrix in var order."
            )
        matches = matches[keep]
    if gc is None:
        gc = scanned_gc
    else:
        gc = np.asarray(gc, dtype=np.float64).ravel()
        if gc.shape[0] != n_peaks:
            raise SeqatacInputError(f"gc has {gc.shape[0]} values for {n_peaks} peaks; pass one per var row.")
        gc = gc[keep]
    return matches, gc


def _scan_peaks(adata, keep, genome, motifs, *, width, p_value) -> tuple[sparse.csr_matrix | None, np.ndarray]:
    """Motif matches (when ``motifs`` is given) and GC content of the kept peaks, streamed in batches.

    With ``width`` every peak is read as a centred window of that width. Otherwise each peak is read at
    its own extent: peaks are grouped by width (by width rounded up to ``_WIDTH_STEP`` when there are
    more than ``_MAX_WIDTH_GROUPS`` distinct widths, since every ``motif_matches`` call recomputes the
    thresholds), and bases of a group's window outside the peak are set to N.
    """
    regions = parse_regions(adata.var).iloc[np.flatnonzero(keep)].reset_index(drop=True)
    peak_width = (regions[END] - regions[START]).to_numpy()
    if width is not None:
        scan_width = np.full(len(regions), int(width))
    elif np.unique(peak_width).size <= _MAX_WIDTH_GROUPS:
        scan_width = peak_width
    else:
        scan_width = -(-peak_width // _WIDTH_STEP) * _WIDTH_STEP
    gc = np.empty(len(regions))
    match_parts, order = [], []
    genome.check_regions(regions)  # once for all: each batch below holds one scan width
    for window in np.unique(scan_width):
        rows = np.flatnonzero(scan_width == window)
        offset = 0
        for codes in genome.iter_encoded(regions.iloc[rows], width=int(window), batch_size=_SCAN_BATCH,
                                         check=False):
            batch = rows[offset : offset + codes.shape[0]]
            offset += codes.shape[0]
            if width is None and window > peak_width[batch].min():  # N outside each peak
                centre = (regions[START].to_numpy()[batch] + regions[END].to_numpy()[batch]) // 2
                first = regions[START].to_numpy()[batch] - (centre - window // 2)
                position = np.arange(window)[None, :]
                codes[(position < first[:, None]) | (position >= (first + peak_width[batch])[:, None])] = N_CODE
            gc[batch] = gc_content(codes)
            if motifs is not None:
                match_parts.append(sparse.csr_matrix(motif_matches(codes, motifs, p_value=p_value)))
                order.append(batch)
    if motifs is None:
        return None, gc
    stacked = sparse.vstack(match_parts, format="csr")
    return stacked[np.argsort(np.concatenate(order))], gc
