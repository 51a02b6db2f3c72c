"""Reading scATAC count matrices into AnnData: h5ad, 10x HDF5, MatrixMarket + BED, 10x multiome.

Everything here keeps matrices sparse.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import warnings
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp

from .._errors import SeqatacInputError, SeqatacWarning
from .._keys import CHROM, END, START
from .._utils import why_missing
from ._filters import _binarized
from ._regions import parse_intervals, parse_regions
from ._validate import _write_coordinates, check_sparse_structure, validate_atac

logger = logging.getLogger(__name__)

FORMATS = ("h5ad", "10x_h5", "mtx")
# var columns of 10x feature annotations
_PEAKS, _GENE_EXPRESSION = "Peaks", "Gene Expression"
_GENE_IDS, _GENE_NAMES, _GENOME, _INTERVAL = "gene_ids", "gene_names", "genome", "interval"
# 10x file names looked for beside a MatrixMarket file (or inside a 10x matrix directory)
_MATRIX_FILES = ("matrix.mtx", "matrix.mtx.gz")
_PEAK_FILES = ("peaks.bed", "peaks.bed.gz")
_BARCODE_FILES = ("barcodes.tsv", "barcodes.tsv.gz")


def read_atac(
    path: str | os.PathLike,
    *,
    format: str | None = None,
    peaks: str | os.PathLike | None = None,
    barcodes: str | os.PathLike | None = None,
    binarize: bool = False,
) -> ad.AnnData:
    """Read a scATAC count matrix as cells × peaks AnnData.

    Parameters
    ----------
    path
        One of: an ``.h5ad``; a 10x CellRanger-ATAC ``filtered_peak_bc_matrix.h5`` (current ``matrix``
        group layout, or the older one with a group named after the genome); a 10x multiome
        (cellranger-arc) ``filtered_feature_bc_matrix.h5``, of which only the ``Peaks`` features are
        kept; a MatrixMarket ``.mtx``/``.mtx.gz``; or a 10x matrix directory
        (``filtered_peak_bc_matrix/`` holding ``matrix.mtx``, ``peaks.bed``, ``barcodes.tsv``, each
        optionally gzipped).
    format
        ``"h5ad"``, ``"10x_h5"`` or ``"mtx"``; detected from the name and contents when None.
    peaks
        MatrixMarket only: BED file of the peaks (default: ``peaks.bed[.gz]`` beside the matrix).
    barcodes
        MatrixMarket only: one barcode per line (default: ``barcodes.tsv[.gz]`` beside the matrix).
        The orientation (10x writes peaks × cells) is detected from the number of peaks and barcodes.
    binarize
        Replace counts by 1 where > 0.

    Returns
    -------
    AnnData (n_cells, n_peaks): ``X`` float32 CSR counts, ``obs_names`` the barcodes, ``var`` with
    ``chrom``, ``start``, ``end`` (0-based, half-open; names like ``chr1:100-200`` are read BED-style).

    Raises
    ------
    SeqatacInputError
        Unknown format, missing companion files, mismatched dimensions, a file without peaks, or
        anything :func:`validate_atac` rejects.
    """
    path = _existing(path)
    format = _detect_format(path) if format is None else format
    if format not in FORMATS:
        raise SeqatacInputError(f"Unknown format={format!r}. Fix: use one of {FORMATS} or None.")
    if format != "mtx" and (peaks is not None or barcodes is not None):
        raise SeqatacInputError(
            f"peaks= and barcodes= only apply to MatrixMarket input, but {path} is read as "
            f"{format!r}. Fix: drop them (the file carries its own peaks and barcodes)."
        )
    if format == "h5ad":
        adata = read_h5ad(path)
        adata.X = _as_float32_csr(adata.X)
    elif format == "10x_h5":
        adata = _peaks_anndata(*_select_feature_type(*_read_10x_h5(path), _PEAKS, path))
    else:
        adata = _read_mtx(path, peaks=peaks, barcodes=barcodes)
    _write_coordinates(adata, validate_atac(adata))
    if binarize:
        adata.X = _binarized(adata.X)
    logger.info("read %d cells x %d peaks from %s (%s)", adata.n_obs, adata.n_vars, path, format)
    return adata


def read_multiome(path: str | os.PathLike) -> tuple[ad.AnnData, ad.AnnData]:
    """Read a 10x multiome (cellranger-arc) ``filtered_feature_bc_matrix.h5`` into ATAC and RNA.

    Parameters
    ----------
    path
        The HDF5 feature-barcode matrix holding both ``Peaks`` and ``Gene Expression`` features.

    Returns
    -------
    atac
        AnnData (n_cells, n_peaks) as :func:`read_atac` returns it.
    rna
        AnnData (n_cells, n_genes), float32 CSR counts, same ``obs_names`` in the same order;
        ``var_names`` the gene names (made unique with ``-1``, ``-2`` suffixes), ``var`` columns
        ``gene_ids``, ``gene_names``, ``genome`` and, when the file has them, ``interval`` with its
        parsed ``chrom``/``start``/``end`` (nullable where a gene has no interval).
    """
    path = _existing(path)
    matrix, barcodes, features = _read_10x_h5(path)
    atac = _peaks_anndata(*_select_feature_type(matrix, barcodes, features, _PEAKS, path))
    _write_coordinates(atac, validate_atac(atac))
    rna_matrix, _, genes = _select_feature_type(matrix, barcodes, features, _GENE_EXPRESSION, path)
    var = pd.DataFrame(
        {_GENE_IDS: genes.index.to_numpy(), _GENE_NAMES: genes["name"].to_numpy()},
        index=ad.utils.make_index_unique(pd.Index(genes["name"].to_numpy(), dtype=object)),
    )
    for column in (_GENOME, _INTERVAL):
        if column in genes:
            var[column] = genes[column].to_numpy()
    if _INTERVAL in genes:
        coordinates = parse_intervals(genes[_INTERVAL].to_numpy())
        for column in (CHROM, START, END):
            var[column] = coordinates[column].to_numpy()
    rna = ad.AnnData(X=rna_matrix, obs=pd.DataFrame(index=barcodes), var=var)
    logger.info(
        "read %d cells x %d peaks and %d genes from %s", atac.n_obs, atac.n_vars, rna.n_vars, path
    )
    return atac, rna


def read_h5ad(path: str | os.PathLike, *, backed: str | None = None) -> ad.AnnData:
    """``anndata.read_h5ad`` with a clear :class:`SeqatacInputError` for a missing or damaged file.

    Parameters
    ----------
    path
        An ``.h5ad`` file (any AnnData: no check of its contents).
    backed
        ``None`` (load into memory) or ``"r"`` (read-only, on disk).

    Returns
    -------
    The AnnData as stored (n_obs, n_vars).
    """
    path = _existing(path)
    with _unreadable_as_input_error(path):
        return ad.read_h5ad(path, backed=backed)


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise SeqatacInputError(f"{path} {why_missing(path)}. Fix: check the path to the input file.")
    return path


def _detect_format(path: Path) -> str:
    """Guess the format from the path (directory, suffix) and, failing that, the first bytes."""
    name = path.name.lower()
    if path.is_dir() or name.endswith((".mtx", ".mtx.gz")):
        return "mtx"
    with _unreadable_as_input_error(path):
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as handle:
                return "h5ad" if "obs" in handle and "var" in handle else "10x_h5"
        with _open_binary(path) as handle:
            if handle.read(14) == b"%%MatrixMarket":
                return "mtx"
    raise SeqatacInputError(
        f"Cannot tell the format of {path}: it is neither HDF5 (.h5ad, 10x .h5) nor MatrixMarket. "
        f"Fix: pass format= one of {FORMATS}, or convert the matrix to .h5ad."
    )


def _open_binary(path: Path):
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def _text_lines(path: Path) -> list[str]:
    with _unreadable_as_input_error(path), _open_binary(path) as handle:
        return handle.read().decode().splitlines()


@contextlib.contextmanager
def _unreadable_as_input_error(path: Path):
    """Turn the errors of opening or parsing a damaged input file into a SeqatacInputError naming it."""
    try:
        yield
    except (OSError, EOFError, UnicodeDecodeError, ValueError, KeyError) as err:
        if isinstance(err, SeqatacInputError):
            raise
        raise SeqatacInputError(
            f"cannot read {path}: {type(err).__name__}: {str(err)[:300].rstrip('.')}. The file is truncated, corrupt, "
            f"compressed in an unknown way or not in the expected format. Fix: copy or export it again (and "
            f"check it is the file you meant: .h5ad, 10x .h5, MatrixMarket .mtx[.gz], BED, barcodes .tsv)."
        ) from err


def _as_float32_csr(matrix) -> sp.csr_matrix:
    """Any sparse or dense 2-D matrix as float32 CSR (no copy when it already is one)."""
    if matrix is None:
        raise SeqatacInputError("The AnnData has no X matrix. Fix: put the raw counts in adata.X.")
    if not (sp.issparse(matrix) and matrix.format == "csr"):
        matrix = sp.csr_matrix(matrix)
    return matrix.astype(np.float32, copy=False)


# 10x HDF5 -----------------------------------------------------------------------------


def _read_10x_h5(path: Path) -> tuple[sp.csr_matrix, pd.Index, pd.DataFrame]:
    """Counts (cells × features, float32 CSR), barcodes, and features (indexed by id)."""
    with _unreadable_as_input_error(path), h5py.File(path, "r") as handle:
        group, genome = _matrix_group(handle, path)
        n_features, n_cells = (int(n) for n in group["shape"][:2])
        barcodes = pd.Index(_strings(group["barcodes"]), dtype=object)
        indptr = group["indptr"][:]
        if len(barcodes) != n_cells or len(indptr) != n_cells + 1:
            raise SeqatacInputError(
                f"{path} is inconsistent: shape says {n_cells} barcodes, but it lists "
                f"{len(barcodes)} barcodes and {len(indptr) - 1} columns. Fix: re-export the matrix "
                f"(the file may be truncated or not a 10x feature-barcode matrix)."
            )
        # CSC of features × cells has the same arrays as CSR of cells × features; checked before scipy uses them
        matrix = sp.csr_matrix((n_cells, n_features), dtype=np.float32)
        matrix.data, matrix.indices, matrix.indptr = group["data"][:].astype(np.float32), group["indices"][:], indptr
        check_sparse_structure(matrix, str(path))
        features = _features_table(group, genome)
    if len(features) != n_features:
        raise SeqatacInputError(
            f"{path} lists {len(features)} features but its shape says {n_features}. Fix: re-export "
            f"the matrix (the file may be truncated)."
        )
    return matrix, barcodes, features


def _matrix_group(handle: h5py.File, path: Path) -> tuple[h5py.Group, str | None]:
    """The ``matrix`` group, or the single per-genome group of the older 10x layout."""
    if "matrix" in handle:
        return handle["matrix"], None
    required = {"barcodes", "data", "indices", "indptr", "shape"}
    groups = [
        name for name, item in handle.items()
        if isinstance(item, h5py.Group) and required <= set(item.keys())
    ]
    if len(groups) != 1:
        found = f"several genome groups {groups}" if groups else f"top-level keys {list(handle)}"
        raise SeqatacInputError(
            f"{path} is not a single-genome 10x feature-barcode matrix: expected a 'matrix' group "
            f"(or one genome group with {sorted(required)}), found {found}. Fix: pass the "
            f"filtered_peak_bc_matrix.h5 (CellRanger-ATAC) or filtered_feature_bc_matrix.h5 "
            f"(cellranger-arc) of one genome."
        )
    return handle[groups[0]], groups[0]


def _features_table(group: h5py.Group, genome: str | None) -> pd.DataFrame:
    """10x features as a DataFrame indexed by id, with name/feature_type/genome/interval if present."""
    features = group.get("features")
    if isinstance(features, h5py.Group):
        ids = _strings(features["id"])
        columns = {
            key: _strings(features[key])
            for key in ("name", "feature_type", _GENOME, _INTERVAL)
            if key in features
        }
    else:  # older layout: flat datasets of feature ids (and gene names)
        ids_key = next((key for key in ("features", "peaks", "genes") if key in group), None)
        if ids_key is None:
            raise SeqatacInputError(
                f"The 10x group '{group.name}' has no features, peaks or genes dataset. Fix: pass a "
                f"complete CellRanger(-ATAC/-ARC) feature-barcode matrix."
            )
        ids = _strings(group[ids_key])
        columns = {"name": _strings(group["gene_names"])} if "gene_names" in group else {}
        if genome is not None:
            columns[_GENOME] = np.full(len(ids), genome, dtype=object)
    table = pd.DataFrame(columns, index=pd.Index(ids, dtype=object))
    if "name" not in table:
        table["name"] = table.index.to_numpy()
    return table


def _strings(dataset: h5py.Dataset) -> np.ndarray:
    return np.asarray(dataset.asstr()[()], dtype=object)


def _select_feature_type(matrix, barcodes, features, feature_type: str, path: Path):
    """Keep the columns of one 10x feature type; files without feature types hold peaks only."""
    if "feature_type" not in features:
        if feature_type == _PEAKS:
            return matrix, barcodes, features
        raise SeqatacInputError(
            f"{path} has no feature types, so it holds no paired {feature_type} data. Fix: pass the "
            f"cellranger-arc filtered_feature_bc_matrix.h5 (Peaks + Gene Expression)."
        )
    keep = (features["feature_type"] == feature_type).to_numpy()
    if not keep.any():
        found = features["feature_type"].value_counts()
        summary = ", ".join(f"{kind}: {count}" for kind, count in found.items())
        hint = (
            "read_atac needs the ATAC peaks: pass CellRanger-ATAC's filtered_peak_bc_matrix.h5 or "
            "the multiome (cellranger-arc) filtered_feature_bc_matrix.h5"
            if feature_type == _PEAKS
            else "read_multiome needs a multiome (cellranger-arc) filtered_feature_bc_matrix.h5; "
            "for ATAC-only data use read_atac"
        )
        only = f"only {summary}" if len(found) == 1 else summary
        raise SeqatacInputError(
            f"{path} has no '{feature_type}' features (it has {only}). Fix: {hint}."
        )
    return matrix[:, keep], barcodes, features.loc[keep]


def _peaks_anndata(matrix, barcodes, features) -> ad.AnnData:
    var = pd.DataFrame(index=features.index)
    if _GENOME in features:
        var[_GENOME] = features[_GENOME].to_numpy()
    return ad.AnnData(X=matrix, obs=pd.DataFrame(index=barcodes), var=var)


# MatrixMarket + BED + barcodes --------------------------------------------------------


def _read_mtx(path: Path, *, peaks, barcodes) -> ad.AnnData:
    directory = path if path.is_dir() else path.parent
    matrix_path = _companion(directory, _MATRIX_FILES, "matrix", "path") if path.is_dir() else path
    peaks_path = Path(peaks) if peaks is not None else _companion(
        directory, _PEAK_FILES, "peak BED", "peaks"
    )
    barcodes_path = Path(barcodes) if barcodes is not None else _companion(
        directory, _BARCODE_FILES, "barcodes", "barcodes"
    )
    var = _read_bed(peaks_path)
    cell_names = pd.Index(
        [line.split("\t")[0] for line in _text_lines(barcodes_path) if line.strip()], dtype=object
    )
    with _unreadable_as_input_error(matrix_path), _open_binary(matrix_path) as handle:
        matrix = sp.coo_matrix(scipy.io.mmread(handle))
    n_rows, n_columns = matrix.shape
    n_peaks, n_cells = len(var), len(cell_names)
    if (n_rows, n_columns) == (n_peaks, n_cells):  # 10x orientation: peaks × cells
        if n_peaks == n_cells:
            warnings.warn(
                f"{matrix_path} is square ({n_rows} x {n_columns}) with as many peaks as barcodes; "
                f"assuming the 10x orientation (peaks x cells).",
                SeqatacWarning,
                stacklevel=3,
            )
        matrix = matrix.T
    elif (n_rows, n_columns) != (n_cells, n_peaks):
        raise SeqatacInputError(
            f"{matrix_path} is {n_rows} x {n_columns}, which fits neither peaks x cells nor cells x "
            f"peaks for the {n_peaks} peaks in {peaks_path} and {n_cells} barcodes in "
            f"{barcodes_path}. Fix: pass the peaks= BED and barcodes= file that belong to this matrix."
        )
    return ad.AnnData(X=_as_float32_csr(matrix), obs=pd.DataFrame(index=cell_names), var=var)


def _companion(directory: Path, names: tuple[str, ...], what: str, argument: str) -> Path:
    """The first of ``names`` that exists in ``directory``; a clear error if none does."""
    for name in names:
        if (directory / name).exists():
            return directory / name
    raise SeqatacInputError(
        f"No {what} file found in {directory} (looked for {', '.join(names)}). Fix: pass "
        f"{argument}=<path>, or put the 10x file beside the matrix."
    )


def _read_bed(path: Path) -> pd.DataFrame:
    """First three BED columns (header, comment, track and browser lines skipped), named chr:start-end."""
    rows = [
        line.split("\t")[:3]
        for line in _text_lines(path)
        if line.strip() and not line.startswith(("#", "track", "browser"))
    ]
    short = [i for i, row in enumerate(rows) if len(row) < 3]
    if short:
        raise SeqatacInputError(
            f"{path} is not a tab-separated BED: {len(short)} lines have fewer than 3 fields (e.g. "
            f"{rows[short[0]]!r}). Fix: give a BED with chrom, start, end columns separated by tabs."
        )
    var = pd.DataFrame(rows, columns=[CHROM, START, END], dtype=object)
    var.index = pd.Index(var[CHROM] + ":" + var[START] + "-" + var[END], dtype=object)
    return parse_regions(var)
