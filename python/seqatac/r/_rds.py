"""AnnData ⇄ R ``.rds`` files through rpy2 and anndata2ri (``pip install "seqatac[r]"``), for Python users who
hand results to Bioconductor or Seurat users, or receive their objects.

anndata2ri converts the matrices, tables and reduced dimensions; this module adds what it leaves out and
seqatac results need: peak coordinates as ``rowRanges``, TF activity tables as ``altExps`` with motif
``rowData``, seqatac's reducedDim names (:mod:`seqatac.r._schema`), and reading Seurat objects (a Signac
``ChromatinAssay`` or any assay with ``chr-start-end`` features) and ArchR-style ``SummarizedExperiment``\\ s.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from .._errors import SeqatacInputError
from .._utils import atomic_path, why_missing
from ..data import coordinate_columns, parse_regions
from ._schema import (
    RECORD_UNS,
    alt_exp_layout,
    obsm_key_of_reduced_dim,
    reduced_dim_name,
)

_INSTALL_HINT = (
    'the .rds bridge needs rpy2 and anndata2ri and, in R, SingleCellExperiment: pip install "seqatac[r]" '
    "(with R >= 4.2 on the PATH; Debian: apt-get install r-base-dev r-bioc-singlecellexperiment)."
)

# R helpers, defined once per Python process in R's global environment under a private name.
_R_HELPERS = r"""
.seqatac_bridge <- local({
    finish_sce <- function(sce, x_name, chrom, start, end, alt_exps, reduced_names) {
        names(SummarizedExperiment::assays(sce))[names(SummarizedExperiment::assays(sce)) == "X"] <- x_name
        if (length(reduced_names)) {
            SingleCellExperiment::reducedDimNames(sce) <- unname(reduced_names[SingleCellExperiment::reducedDimNames(sce)])
        }
        if (!is.null(chrom)) {
            ranges <- GenomicRanges::GRanges(chrom, IRanges::IRanges(start + 1, end))
            names(ranges) <- rownames(sce)
            S4Vectors::mcols(ranges) <- SummarizedExperiment::rowData(sce)
            SummarizedExperiment::rowRanges(sce) <- ranges
        }
        for (name in names(alt_exps)) {
            entry <- alt_exps[[name]]
            assays <- lapply(entry$assays, function(m) {
                m <- as.matrix(m)
                dimnames(m) <- list(entry$row_names, colnames(sce))
                m
            })
            row_data <- S4Vectors::DataFrame(entry$row_data, check.names = FALSE)
            if (ncol(row_data) == 0L) row_data <- S4Vectors::DataFrame(row.names = entry$row_names)
            rownames(row_data) <- entry$row_names
            SingleCellExperiment::altExp(sce, name) <- SummarizedExperiment::SummarizedExperiment(
                assays = assays, rowData = row_data)
        }
        sce
    }

    seurat_ranges <- function(assay_object, features) {
        if (methods::.hasSlot(assay_object, "ranges")) {
            ranges <- methods::slot(assay_object, "ranges")
            if (methods::is(ranges, "GRanges") && length(ranges) == length(features)) return(ranges)
        }
        pattern <- "^(.+)[-:_]([0-9]+)[-_]([0-9]+)$"
        if (length(features) && all(grepl(pattern, features))) {
            # Signac names peaks chr-start-end from their 1-based GRanges
            return(GenomicRanges::GRanges(sub(pattern, "\\1", features), IRanges::IRanges(
                as.numeric(sub(pattern, "\\2", features)), as.numeric(sub(pattern, "\\3", features)))))
        }
        NULL
    }

    from_seurat <- function(object, assay) {
        if (!requireNamespace("SeuratObject", quietly = TRUE)) stop("reading a Seurat object needs SeuratObject")
        if (is.null(assay)) assay <- SeuratObject::DefaultAssay(object)
        if (!assay %in% SeuratObject::Assays(object)) {
            stop("the Seurat object has no assay '", assay, "' (it has: ",
                 paste(SeuratObject::Assays(object), collapse = ", "), ")")
        }
        counts <- SeuratObject::GetAssayData(object, slot = "counts", assay = assay)
        if (!length(counts)) counts <- SeuratObject::GetAssayData(object, slot = "data", assay = assay)
        features <- rownames(counts)
        sce <- SingleCellExperiment::SingleCellExperiment(list(counts = counts),
            colData = S4Vectors::DataFrame(object[[]], check.names = FALSE))
        ranges <- seurat_ranges(object[[assay]], features)
        if (!is.null(ranges)) {
            names(ranges) <- features
            SummarizedExperiment::rowRanges(sce) <- ranges
        }
        for (reduction in SeuratObject::Reductions(object)) {
            embedding <- SeuratObject::Embeddings(object[[reduction]])
            SingleCellExperiment::reducedDim(sce, reduction) <- embedding[colnames(sce), , drop = FALSE]
        }
        for (other in setdiff(SeuratObject::Assays(object), assay)) {
            values <- SeuratObject::GetAssayData(object, slot = "data", assay = other)
            meta <- object[[other]][[]]
            row_data <- if (ncol(meta)) S4Vectors::DataFrame(meta, check.names = FALSE) else NULL
            SingleCellExperiment::altExp(sce, other) <- SummarizedExperiment::SummarizedExperiment(
                list(activity = as.matrix(values)), rowData = row_data)
        }
        sce
    }

    to_parts <- function(object, assay) {
        if (inherits(object, "Seurat")) {
            sce <- from_seurat(object, assay)
        } else if (methods::is(object, "SummarizedExperiment")) {
            sce <- methods::as(object, "SingleCellExperiment")
        } else {
            stop("the .rds holds a ", class(object)[[1]], ", not a SingleCellExperiment, SummarizedExperiment ",
                 "or Seurat object")
        }
        names <- SummarizedExperiment::assayNames(sce)
        if (is.null(names) || !length(names)) stop("the object has no assays")
        first <- if (!is.null(assay) && assay %in% names) assay else if ("counts" %in% names) "counts" else names[[1]]
        SummarizedExperiment::assays(sce) <- SummarizedExperiment::assays(sce)[c(first, setdiff(names, first))]
        for (name in SummarizedExperiment::assayNames(sce)) {
            m <- SummarizedExperiment::assay(sce, name, withDimnames = FALSE)
            if (!is.matrix(m) && !methods::is(m, "dgCMatrix")) {
                SummarizedExperiment::assay(sce, name, withDimnames = FALSE) <-
                    methods::as(methods::as(methods::as(m, "CsparseMatrix"), "generalMatrix"), "dMatrix")
            }
        }
        if (is.null(rownames(sce))) rownames(sce) <- paste0("peak", seq_len(nrow(sce)))
        if (is.null(colnames(sce))) colnames(sce) <- paste0("cell", seq_len(ncol(sce)))
        ranges <- SummarizedExperiment::rowRanges(sce)
        coordinates <- NULL
        if (methods::is(ranges, "GRanges") && length(ranges) == nrow(sce)) {
            coordinates <- list(chrom = as.character(GenomicRanges::seqnames(ranges)),
                                start = BiocGenerics::start(ranges) - 1, end = as.numeric(BiocGenerics::end(ranges)))
        }
        alt <- list()
        for (name in SingleCellExperiment::altExpNames(sce)) {
            experiment <- SingleCellExperiment::altExp(sce, name)
            alt[[name]] <- list(
                assays = lapply(stats::setNames(nm = SummarizedExperiment::assayNames(experiment)),
                                function(a) t(as.matrix(SummarizedExperiment::assay(experiment, a)))),
                row_names = if (is.null(rownames(experiment))) paste0("row", seq_len(nrow(experiment))) else rownames(experiment),
                row_data = as.data.frame(SummarizedExperiment::rowData(experiment), optional = TRUE))
        }
        core <- SingleCellExperiment::removeAltExps(sce)
        list(sce = core, assay = first, coordinates = coordinates, alt_exps = alt)
    }

    list(finish_sce = finish_sce, to_parts = to_parts)
})
"""


def _r():
    """rpy2's robjects with the bridge helpers defined, or a clear error naming what to install."""
    try:
        import anndata2ri  # noqa: F401
        import rpy2.robjects as ro
    except Exception as err:  # ImportError, or rpy2 failing to find/load R
        raise SeqatacInputError(f"{_INSTALL_HINT} ({type(err).__name__}: {err})") from err
    if not bool(ro.r('exists(".seqatac_bridge", envir = globalenv(), inherits = FALSE)')[0]):
        missing = [p for p in ("SingleCellExperiment", "SummarizedExperiment", "GenomicRanges", "S4Vectors")
                   if not bool(ro.r(f'isTRUE(requireNamespace("{p}", quietly = TRUE))')[0])]
        if missing:
            raise SeqatacInputError(f"R lacks {', '.join(missing)}: {_INSTALL_HINT}")
        ro.r(_R_HELPERS)
    return ro


def write_rds(adata: AnnData, path: str | os.PathLike, *, x_name: str = "counts") -> None:
    """Write an AnnData as an R ``.rds`` file holding a SingleCellExperiment.

    Parameters
    ----------
    adata
        Cells × features; seqatac results are placed as :mod:`seqatac.r._schema` lays out (``X_scbasset`` →
        ``reducedDim(x, "scBasset")``, ``scbasset_tf`` → ``altExp(x, "scBassetTF")`` with ``motif_id`` /
        ``motif_name`` rowData, ``var`` coordinates → ``rowRanges``).
    path
        The ``.rds`` file (written atomically; replaced if it exists).
    x_name
        Assay name of ``X`` (``"counts"``; layers keep their names).

    Returns
    -------
    None. In R: ``sce <- readRDS(path)``.
    """
    ro = _r()
    import anndata2ri
    from rpy2.robjects.conversion import localconverter

    var = adata.var.copy()
    chrom = start = end = ro.NULL
    found = coordinate_columns(var)
    if len(found) == 3:
        regions = parse_regions(var)
        var = var.drop(columns=list(found.values()))
        chrom = ro.StrVector([str(c) for c in regions["chrom"]])
        start = ro.FloatVector(regions["start"].to_numpy(np.float64))
        end = ro.FloatVector(regions["end"].to_numpy(np.float64))
    arrays = {key: value for key, value in adata.obsm.items() if not isinstance(value, pd.DataFrame)}
    reduced = {reduced_dim_name(str(key)): (value.toarray() if sp.issparse(value) else np.asarray(value))
               for key, value in arrays.items()}
    core = AnnData(X=adata.X, obs=adata.obs.copy(), var=var, layers={k: v for k, v in adata.layers.items()},
                   uns={k: v for k, v in adata.uns.items() if k != RECORD_UNS}, obsm={k: v for k, v in reduced.items()})
    alt = {}
    for name, entry in alt_exp_layout(adata).items():
        first = adata.obsm[next(iter(entry["assays"].values()))]
        assays = {assay: adata.obsm[key].reindex(columns=first.columns).to_numpy(np.float64)
                  for assay, key in entry["assays"].items()}
        alt[name] = (assays, [str(c) for c in first.columns], entry["row_data"])
    with localconverter(anndata2ri.converter):
        sce = ro.conversion.get_conversion().py2rpy(core)
        alt_r = ro.ListVector({
            name: ro.ListVector({
                "assays": ro.ListVector({a: ro.conversion.get_conversion().py2rpy(np.ascontiguousarray(m.T))
                                         for a, m in assays.items()}),
                "row_names": ro.StrVector(row_names),
                "row_data": ro.conversion.get_conversion().py2rpy(
                    row_data.reset_index(drop=True) if row_data is not None else pd.DataFrame()),
            })
            for name, (assays, row_names, row_data) in alt.items()
        })
    # anndata2ri renames X_pca & co. itself; the names given here are taken as they are
    names = ro.StrVector(list(reduced))
    names.names = ro.StrVector(list(reduced))
    finished = ro.globalenv[".seqatac_bridge"].rx2("finish_sce")(sce, x_name, chrom, start, end, alt_r, names)
    path = Path(path)
    with atomic_path(path) as tmp:
        ro.r["saveRDS"](finished, str(tmp))


def read_rds(path: str | os.PathLike, *, assay: str | None = None) -> AnnData:
    """Read an R ``.rds`` file holding a SingleCellExperiment, a SummarizedExperiment (ArchR's
    ``getMatrixFromProject()``) or a Seurat object into an AnnData.

    Parameters
    ----------
    path
        The ``.rds`` file.
    assay
        The assay that becomes ``X``: for Seurat, which assay holds the peaks (default: the active assay; the
        other assays become obsm tables, as altExps do); otherwise ``"counts"`` when present, else the first.

    Returns
    -------
    AnnData (cells × features) with ``X`` (the chosen assay), the other assays as layers, ``obs``/``var`` from
    colData/rowData, ``var`` ``chrom``/``start``/``end`` (0-based, half-open) from ``rowRanges`` (for Seurat, a
    ``ChromatinAssay``'s ranges or its 1-based ``chr-start-end`` feature names), reduced dimensions in obsm
    (``scBasset`` → ``X_scbasset``, ...), each altExp as an obsm DataFrame per assay with its rowData recorded
    in ``uns["seqatac_r"]``, and ``metadata`` in ``uns``.
    """
    path = Path(path)
    if not path.is_file():
        raise SeqatacInputError(f"{path} {why_missing(path)}. Fix: check the path of the .rds file.")
    ro = _r()
    import anndata2ri
    from rpy2.rinterface_lib.embedded import RRuntimeError
    from rpy2.robjects.conversion import localconverter

    try:
        obj = ro.r["readRDS"](str(path))
        parts = ro.globalenv[".seqatac_bridge"].rx2("to_parts")(obj, ro.NULL if assay is None else assay)
    except RRuntimeError as err:
        raise SeqatacInputError(f"cannot read {path} into an AnnData: {str(err).strip()}") from err
    sce = parts.rx2("sce")  # rpy2 objects, converted one by one below
    coordinates = parts.rx2("coordinates")
    alt = parts.rx2("alt_exps")
    raw_alt = {}
    for name in (list(alt.names) if alt.names is not ro.NULL else []):
        entry = alt.rx2(name)
        assays = entry.rx2("assays")
        raw_alt[str(name)] = ({str(a): assays.rx2(a) for a in assays.names}, [str(r) for r in entry.rx2("row_names")],
                              entry.rx2("row_data"))
    with localconverter(anndata2ri.converter):
        convert = ro.conversion.get_conversion().rpy2py
        adata = convert(sce)
        alt_py = {name: ({a: np.asarray(convert(m), dtype=np.float64) for a, m in assays.items()}, row_names,
                         convert(row_data))
                  for name, (assays, row_names, row_data) in raw_alt.items()}
    adata.obs_names = pd.Index(adata.obs_names.astype(str), dtype=object)
    adata.var_names = pd.Index(adata.var_names.astype(str), dtype=object)
    if coordinates is not ro.NULL:
        adata.var["chrom"] = pd.Categorical([str(c) for c in coordinates.rx2("chrom")])
        adata.var["start"] = np.asarray(coordinates.rx2("start"), dtype=np.int64)
        adata.var["end"] = np.asarray(coordinates.rx2("end"), dtype=np.int64)
    for key in list(adata.obsm):
        new = key if str(key).startswith("X_") else obsm_key_of_reduced_dim(str(key))
        value = np.asarray(adata.obsm.pop(key), dtype=np.float64)
        adata.obsm[new] = value
    from ._parts import _alt_exp_key

    record = {}
    for name, (assays, row_names, row_data) in alt_py.items():
        keys = {}
        for assay_name, values in assays.items():
            key = _alt_exp_key(name, str(assay_name))
            adata.obsm[key] = pd.DataFrame(values, index=adata.obs_names, columns=pd.Index(row_names, dtype=object))
            keys[str(assay_name)] = key
        row_data = row_data if isinstance(row_data, pd.DataFrame) else pd.DataFrame(index=range(len(row_names)))
        row_data.index = pd.Index(row_names, dtype=object)
        record[name] = {"assays": keys, "row_data": row_data}
    adata.uns = _plain_uns(dict(adata.uns))
    if record:
        adata.uns[RECORD_UNS] = {"alt_exps": record}
    return adata


def _plain_uns(value):
    """rpy2 leftovers in uns (named lists, vectors) as dicts and arrays that an h5ad can hold."""
    from rpy2.rinterface import NULLType
    from rpy2.robjects import vectors

    if isinstance(value, dict):
        return {str(k): _plain_uns(v) for k, v in value.items() if not isinstance(v, NULLType)}
    if isinstance(value, (vectors.ListVector, vectors.ListSexpVector)):
        names = list(value.names) if value.names is not vectors.NULL else [str(i) for i in range(len(value))]
        return {str(n): _plain_uns(v) for n, v in zip(names, value) if not isinstance(v, NULLType)}
    if isinstance(value, vectors.StrVector):
        return np.asarray([str(v) for v in value], dtype=object)
    if isinstance(value, (vectors.FloatVector, vectors.IntVector, vectors.BoolVector)):
        return np.asarray(value)
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.size == 1 and value.dtype.kind in "biufU":
        return value[0].item() if hasattr(value[0], "item") else value[0]
    return value
