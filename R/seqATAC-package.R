#' seqATAC: sequence-informed models for single-cell ATAC-seq
#'
#' seqATAC runs the `seqatac` Python engine from `SingleCellExperiment`, `SummarizedExperiment`
#' (e.g. ArchR's `getMatrixFromProject()`) and Seurat/Signac objects. See [seqatacBackend()] for how
#' the Python backend is chosen, and `vignette("seqATAC")` for a walk-through.
#'
#' @section Data transfer:
#' Counts travel as sparse matrices: the compressed-column arrays of the peaks x cells `dgCMatrix`
#' become a cells x peaks scipy CSR matrix without densifying, and sparse results come back the
#' same way. A `dgCMatrix` holds at most 2^31 - 1 non-zeros, and each side keeps one copy of them
#' (about 12 bytes per non-zero). Dense results (embeddings, TF activities) are ordinary R matrices.
#'
#' @section Peak coordinates:
#' Taken from `rowRanges` (a `GRanges`, 1-based closed, converted to the engine's 0-based half-open
#' convention), else rowData columns `chrom`/`chr`/`seqnames`, `start`, `end` (0-based half-open, as
#' in BED files and AnnData), else row names like `chr1:100-200`, `chr1-100-200` or `chr1_100_200`
#' (read as the engine reads them). For Seurat objects, the feature names of the peaks assay.
#'
#' @keywords internal
#' @importFrom methods setGeneric setMethod
#' @name seqATAC-package
#' @aliases seqATAC
"_PACKAGE"
