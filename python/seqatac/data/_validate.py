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
    :func:`parse_regions`), unique cell and peak names, and the counts themselves (:func:`check_counts`:
    numeric, none negative, NaN or infinite). Non-integer counts only warn. Runs in O(nnz) over ``X.data``
    for sparse ``X`` (dense ``X`` is scanned in row blocks).

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
        Empty or all-zero matrix, backed AnnData, bad coordinates, duplicated cell or peak names,
        non-numeric values, negative/NaN/infinite counts.

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
    _check_unique(
        adata.obs_names, "cell names", ", so cells cannot be told apart. Fix: give each cell a unique barcode, e.g. "
        "adata.obs_names_make_unique(), or prefix barcodes with their sample when concatenating samples."
    )
    _check_unique(
        adata.var_names, "peak names", " although the peaks lie at different coordinates, so a peak cannot be found "
        "by its name (saving, loading and selecting peaks go by name). Fix: give each peak a unique name, e.g. name "
        "peaks by their coordinates (chr1:100-200) or call adata.var_names_make_unique()."
    )
    check_counts(adata.X, "adata.X", warn_non_integer=True)
    _warn_empty_cells(adata)
    return regions


def _warn_empty_cells(adata: ad.AnnData) -> None:
    """Cells without a single count get the same, uninformative embedding from every method: name them."""
    X = adata.X
    counts = np.asarray((X != 0).sum(axis=1)).ravel() if sp.issparse(X) else np.count_nonzero(X, axis=1)
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        warnings.warn(
            f"{len(empty):,} of {adata.n_obs:,} cells have no counts (e.g. {_examples(adata.obs_names[empty])}): "
            "every method gives them the same, uninformative embedding. Fix: drop them first "
            "(seqatac.data.filter_cells(adata, min_peaks=1)).", SeqatacWarning, stacklevel=3)


def _check_unique(names: pd.Index, what: str, consequence_and_fix: str) -> None:
    """Refuse repeated names: "N {what} are duplicated (e.g. ...)" and then ``consequence_and_fix``."""
    duplicated = names[names.duplicated()]
    if len(duplicated):
        raise SeqatacInputError(
            f"{len(duplicated)} {what} are duplicated (e.g. {_examples(duplicated.unique())}){consequence_and_fix}"
        )


def check_counts(matrix, where: str = "adata.X", *, warn_non_integer: bool = False):
    """Refuse a count matrix that would be misread: values that are not numbers, negative, NaN or infinite,
    all zero, or a damaged sparse structure; ``warn_non_integer`` also warns about fractional values.

    Runs in O(nnz) over the stored values (dense matrices are scanned in row blocks). The message names
    ``where`` and, for ``float16`` or narrow integer matrices, the cast that most likely caused the damage
    (counts past 65,504 become infinite in ``float16``; counts past 127 wrap to negative in ``int8``).

    Parameters
    ----------
    matrix
        Cells × features counts, sparse or dense.
    where
        How the message names the matrix (e.g. ``"adata.X"``).
    warn_non_integer
        Warn (``SeqatacWarning``) about non-integer values, for callers that expect raw counts.

    Returns
    -------
    ``matrix``, or a ``float32`` copy of a ``float16`` one (which ``scipy.sparse`` cannot hold; the cast
    loses nothing).
    """
    if sp.issparse(matrix) and matrix.format in ("csr", "csc"):
        check_sparse_structure(matrix, where)
    dtype = matrix.dtype
    if dtype.kind not in "biuf":
        raise SeqatacInputError(
            f"{where} has dtype {dtype}, not numbers. Fix: store the counts as integers or floats, e.g. "
            f"{where} = {where}.astype('float32') if they are numeric strings."
        )
    counts = {"negative": 0, "NaN": 0, "infinite": 0, "non-integer": 0, "positive": 0}
    for values in _value_blocks(matrix):
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
        owner = where.rsplit(".", 1)[0] if "." in where else "adata"
        raise SeqatacInputError(
            f"{where} has {summary} values{_cast_hint(dtype, bad)}; seqatac expects raw, non-negative integer "
            f"counts. Fix: put the raw count matrix in {where} (e.g. {where} = {owner}.layers['counts'], or "
            f"read the CellRanger output) instead of normalised, log-transformed or scaled values."
        )
    if counts["positive"] == 0:
        raise SeqatacInputError(
            f"{where} ({matrix.shape[0]} cells x {matrix.shape[1]} features) has no non-zero counts. Fix: "
            f"pass the raw count matrix in {where} (with no counts there is nothing to analyse)."
        )
    if warn_non_integer and counts["non-integer"]:
        warnings.warn(
            f"{where} has {counts['non-integer']} non-integer values; seqatac models expect raw "
            f"counts (they are binarised or modelled as counts). If raw counts are in a layer, use "
            f"adata.X = adata.layers['counts'].",
            SeqatacWarning,
            stacklevel=3,
        )
    return matrix.astype(np.float32) if dtype == np.float16 else matrix


def layer_matrix(adata: ad.AnnData, layer: str | None):
    """The matrix a ``layer=`` argument names: ``adata.X`` for None, else ``adata.layers[layer]``.

    Raises
    ------
    SeqatacInputError
        ``layer`` is not one of ``adata.layers`` (the message lists them).
    """
    if layer is None:
        return adata.X
    if layer not in adata.layers:
        raise SeqatacInputError(f"layer {layer!r} is not in adata.layers ({list(adata.layers)}); pass one of "
                                "them, or layer=None for adata.X.")
    return adata.layers[layer]


def missing_labels(values) -> np.ndarray:
    """Boolean mask of the missing labels: NaN or None, or a string that is empty or only white space.

    Used as they are, such labels would become a group of their own (``"nan"``, ``""``) or shift the codes
    of the others; every function that reads per-cell labels treats them by this one rule.

    Parameters
    ----------
    values
        Shape (n_cells,): the labels, e.g. ``adata.obs["cell_type"]``.

    Returns
    -------
    Shape (n_cells,), True where the label is missing.
    """
    array = np.asarray(values)
    missing = np.asarray(pd.isna(array), dtype=bool)
    if array.dtype.kind in "OUS":
        blank = pd.Series(array.ravel(), dtype=object).map(lambda v: isinstance(v, (str, bytes)) and not v.strip())
        missing = missing | blank.to_numpy(bool).reshape(array.shape)
    return missing


def check_labels(values, where: str) -> np.ndarray:
    """Per-cell labels (cell types, batches, clusters) as a 1-D array, refusing missing ones
    (:func:`missing_labels`).

    Parameters
    ----------
    values
        Shape (n_cells,): the labels, e.g. ``adata.obs["cell_type"]``.
    where
        How the message names them (e.g. ``"obs['cell_type']"``).

    Returns
    -------
    The labels as a 1-D NumPy array.
    """
    array = np.asarray(values)
    if array.ndim != 1:
        raise SeqatacInputError(f"{where} must be 1-D, one label per cell; got shape {array.shape}.")
    missing = missing_labels(array)
    if missing.any():
        raise SeqatacInputError(
            f"{where} has {int(missing.sum())} missing value(s) (NaN, None or empty; first at position "
            f"{int(np.flatnonzero(missing)[0])}). Fix: drop those cells or fill the missing values before "
            f"using the labels (e.g. .fillna('unknown') to make them a group of their own)."
        )
    return array


def _cast_hint(dtype: np.dtype, bad: dict) -> str:
    """Why a narrow dtype holds bad values: the cast into it overflowed."""
    if dtype == np.float16 and "infinite" in bad:
        return (" (the matrix is float16, which holds at most 65,504: larger counts become infinite; keep "
                "the counts as float32 or integers)")
    if dtype.kind == "i" and dtype.itemsize < 4 and "negative" in bad:
        return (f" (the matrix is {dtype}, which holds at most {np.iinfo(dtype).max}: larger counts wrap to "
                f"negative values; keep the counts as int32, float32 or wider)")
    return ""


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


def check_paired_rna(atac: ad.AnnData, rna: ad.AnnData, *, values: bool = True) -> None:
    """Require paired RNA to have exactly the ATAC cells, in the same order (never reordered here), and
    (with ``values``) numbers in ``rna.X`` that are none negative, NaN or infinite.

    Parameters
    ----------
    atac
        AnnData (n_cells, n_peaks).
    rna
        AnnData (n_cells, n_genes) of the same cells.
    values
        Check ``rna.X`` too (:func:`check_counts`); ``False`` where only the RNA's cells and genes are used.

    Raises
    ------
    SeqatacInputError
        Duplicated cell names in either, cells missing on either side, the same cells in a
        different order, or RNA values that are not counts.
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
    if values and rna.X is not None:
        check_counts(rna.X, "rna.X")
