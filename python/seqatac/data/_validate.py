"""Validating scATAC AnnData: count checks, peak coordinates, and pairing with RNA."""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._errors import SeqatacInputError, SeqatacWarning
from .._keys import CHROM, END, START
from ._regions import _examples, coordinate_columns, parse_regions

_CHUNK = 1 << 22  # values scanned at a time by validate_atac (bounded temporary memory)



def check_sparse_structure(matrix: sp.spmatrix, where: str) -> None:
    """Refuse a CSR/CSC matrix whose arrays disagree (read from a damaged or hand-made file): ``indptr`` of the
    wrong length, not starting at 0, decreasing or overrunning ``indices``, or an index outside the other axis.

    scipy trusts these arrays, so without the check a bad index reads the wrong cell or crashes the process.
    """
    n_major = matrix.shape[0] if matrix.format == "csr" else matrix.shape[1]
    n_minor = matrix.shape[1] if matrix.format == "csr" else matrix.shape[0]
    indptr, indices = np.asarray(matrix.indptr), np.asarray(matrix.indices)
    problem = None
    if len(indptr) != n_major + 1:
        problem = f"indptr has {len(indptr)} entries for {n_major} rows (needs {n_major + 1})"
    elif indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        problem = "indptr does not start at 0 and never decrease"
    elif indptr[-1] != len(indices) or len(indices) != len(matrix.data):
        problem = f"indptr ends at {int(indptr[-1])} but there are {len(indices)} indices and {len(matrix.data)} values"
    elif len(indices) and (int(indices.min()) < 0 or int(indices.max()) >= n_minor):
        bad = int(indices.max()) if int(indices.max()) >= n_minor else int(indices.min())
        problem = f"an index is {bad}, outside 0..{n_minor - 1}"
    if problem:
        raise SeqatacInputError(
            f"the sparse matrix in {where} is damaged: {problem}. Fix: export the matrix again from its source "
            "(the file may be truncated or written by a faulty tool)."
        )


def validate_atac(adata: ad.AnnData) -> pd.DataFrame:
    """Check a cells × peaks AnnData and return its peak regions; ``adata`` is not modified.

    Checks: a non-empty matrix with at least one non-zero count, parsable peak coordinates (see
    :func:`parse_regions`), unique cell names, numeric values, none negative, NaN or infinite.
    Non-integer counts only warn. Runs in O(nnz) over ``X.data`` for sparse ``X`` (dense ``X`` is
    scanned in row blocks).

    Parameters
    ----------
    adata
        AnnData (n_cells, n_peaks) with raw counts in ``X``, loaded in memory.

    Returns
    -------
    DataFrame (n_peaks, 3) of ``chrom``, ``start``, ``end`` indexed by ``var_names``.

    Raises
    ------
    SeqatacInputError
        Empty or all-zero matrix, backed AnnData, bad coordinates, duplicated cell names, non-numeric
        values, negative/NaN/infinite counts.

    Warns
    -----
    SeqatacWarning
        Non-integer counts (normalised data where raw counts are expected).
    """
    if adata.isbacked:
        raise SeqatacInputError(
            "The AnnData is backed (on disk); seqatac validates in-memory data only. Fix: "
            "adata = adata.to_memory()."
        )
    if adata.X is None or adata.n_obs == 0 or adata.n_vars == 0:
        raise SeqatacInputError(
            f"The count matrix is empty ({adata.n_obs} cells x {adata.n_vars} peaks). Fix: pass an "
            f"AnnData with cells and peaks, and raw counts in adata.X."
        )
    regions = parse_regions(adata.var)
    duplicated = adata.obs_names[adata.obs_names.duplicated()]
    if len(duplicated):
        raise SeqatacInputError(
            f"{len(duplicated)} cell names are duplicated (e.g. {_examples(duplicated.unique())}), so cells "
            f"cannot be told apart. Fix: give each cell a unique barcode, e.g. adata.obs_names_make_unique(), or "
            f"prefix barcodes with their sample when concatenating samples."
        )
    if sp.issparse(adata.X) and adata.X.format in ("csr", "csc"):
        check_sparse_structure(adata.X, "adata.X")
    dtype = adata.X.dtype
    if dtype.kind not in "biuf":
        raise SeqatacInputError(
            f"adata.X has dtype {dtype}, not numbers. Fix: store the counts as integers or floats, e.g. "
            f"adata.X = adata.X.astype('float32') if they are numeric strings."
        )
    counts = {"negative": 0, "NaN": 0, "infinite": 0, "non-integer": 0, "positive": 0}
    for values in _value_blocks(adata.X):
        counts["positive"] += int(np.count_nonzero(values > 0))
        if values.dtype.kind in "iu":
            counts["negative"] += int(np.count_nonzero(values < 0))
            continue
        nan, infinite = np.isnan(values), np.isinf(values)
        finite = ~(nan | infinite)
        counts["NaN"] += int(np.count_nonzero(nan))
        counts["infinite"] += int(np.count_nonzero(infinite))
        counts["negative"] += int(np.count_nonzero(values < 0))
        counts["non-integer"] += int(np.count_nonzero(values[finite] != np.round(values[finite])))
    bad = {kind: counts[kind] for kind in ("negative", "NaN", "infinite") if counts[kind]}
    if bad:
        summary = ", ".join(f"{n} {kind}" for kind, n in bad.items())
        raise SeqatacInputError(
            f"adata.X has {summary} values; seqatac expects raw, non-negative integer counts. Fix: "
            f"put the raw count matrix in adata.X (e.g. adata.X = adata.layers['counts'], or read "
            f"the CellRanger output) instead of normalised, log-transformed or scaled values."
        )
    if counts["positive"] == 0:
        raise SeqatacInputError(
            f"adata.X ({adata.n_obs} cells x {adata.n_vars} peaks) has no non-zero counts. Fix: "
            f"pass the raw count matrix in adata.X."
        )
    if counts["non-integer"]:
        warnings.warn(
            f"adata.X has {counts['non-integer']} non-integer values; seqatac models expect raw "
            f"counts (they are binarised or modelled as counts). If raw counts are in a layer, use "
            f"adata.X = adata.layers['counts'].",
            SeqatacWarning,
            stacklevel=2,
        )
    return regions


def _value_blocks(matrix):
    """Yield the stored values of ``matrix`` as 1-D blocks of at most ~_CHUNK values."""
    if sp.issparse(matrix):
        values = matrix.data
        for begin in range(0, len(values), _CHUNK):
            yield values[begin : begin + _CHUNK]
        return
    dense = np.asarray(matrix)
    rows = max(1, _CHUNK // max(1, dense.shape[1]))
    for begin in range(0, dense.shape[0], rows):
        yield dense[begin : begin + rows].ravel()


def add_peak_coordinates(adata: ad.AnnData) -> None:
    """Write ``var["chrom"]``, ``var["start"]``, ``var["end"]`` (0-based, half-open) in place.

    Parameters
    ----------
    adata
        AnnData (n_cells, n_peaks) whose ``var`` columns or ``var_names`` carry coordinates, as
        :func:`parse_regions` reads them.
    """
    _write_coordinates(adata, parse_regions(adata.var))


def _write_coordinates(adata: ad.AnnData, regions: pd.DataFrame) -> None:
    """Coordinates into the var columns that already hold them (e.g. Signac's ``seqnames``), else ``chrom``,
    ``start``, ``end`` — never a second chromosome column beside the user's own."""
    existing = coordinate_columns(adata.var)
    for key in (CHROM, START, END):
        adata.var[existing.get(key, key)] = regions[key].to_numpy()


def check_paired_rna(atac: ad.AnnData, rna: ad.AnnData) -> None:
    """Require paired RNA to have exactly the ATAC cells, in the same order (never reordered here).

    Parameters
    ----------
    atac
        AnnData (n_cells, n_peaks).
    rna
        AnnData (n_cells, n_genes) of the same cells.

    Raises
    ------
    SeqatacInputError
        Duplicated cell names in either, cells missing on either side, or the same cells in a
        different order.
    """
    for modality, names in (("ATAC", atac.obs_names), ("RNA", rna.obs_names)):
        duplicated = names[names.duplicated()]
        if len(duplicated):
            raise SeqatacInputError(
                f"The {modality} data has {len(duplicated)} duplicated cell names (e.g. "
                f"{_examples(duplicated.unique())}), so cells cannot be paired. Fix: give each cell a "
                f"unique barcode in both modalities (e.g. prefix barcodes with their sample)."
            )
    only_atac = atac.obs_names.difference(rna.obs_names, sort=False)
    only_rna = rna.obs_names.difference(atac.obs_names, sort=False)
    if len(only_atac) or len(only_rna):
        raise SeqatacInputError(
            f"The paired RNA cells do not match the ATAC cells: {len(only_atac)} of {atac.n_obs} "
            f"ATAC cells are missing from RNA (e.g. {_examples(only_atac)}) and {len(only_rna)} of "
            f"{rna.n_obs} RNA cells are missing from ATAC (e.g. {_examples(only_rna)}). Fix: keep "
            f"the shared cells in both, e.g. common = atac.obs_names.intersection(rna.obs_names); "
            f"atac = atac[common].copy(); rna = rna[common].copy()."
        )
    if not atac.obs_names.equals(rna.obs_names):
        differ = np.flatnonzero(atac.obs_names.to_numpy() != rna.obs_names.to_numpy())
        first = differ[0]
        raise SeqatacInputError(
            f"The paired RNA has the same {atac.n_obs} cells as ATAC but in a different order "
            f"({len(differ)} positions differ; first at {first}: ATAC {atac.obs_names[first]!r}, "
            f"RNA {rna.obs_names[first]!r}). Fix: reorder RNA to match: "
            f"rna = rna[atac.obs_names].copy()."
        )
