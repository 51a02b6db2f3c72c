#' seqATAC: sequence-informed models for single-cell ATAC-seq
#'
#' seqATAC runs the `seqatac` Python engine from `SingleCellExperiment`, `SummarizedExperiment`
#' (e.g. ArchR's `getMatrixFromProject()`) and Seurat/Signac objects. See [seqatacBackend()] for how
#' the Python backend is chosen, and `vignette("seqATAC")` for a walk-through.
#'
#' @section Data transfer:
#' What crosses between R and Python, and how:
#' * **Sparse, never densified**: peak counts and paired RNA counts. The compressed-column arrays of
#'   the peaks x cells `dgCMatrix` are sent as they are and become a cells x peaks scipy CSR matrix
#'   (the transpose is free); sparse results (the simulated counts) come back the same way, from
#'   index vectors, because reticulate 1.28 cannot convert scipy >= 1.11 sparse matrices itself. Any
#'   counts-like matrix (dense, other `Matrix` classes, `DelayedArray`) is first made a `dgCMatrix`.
#' * **Dense**, as NumPy arrays converted to R matrices (single-precision values arrive as doubles, 8
#'   bytes each): embeddings (cells x d), TF activities (motifs x cells), cell-type probabilities
#'   (cells x types), predicted expression levels (genes x cells; choose `genes =` in
#'   [predictExpression()]) and denoised accessibility of the chosen peaks only (peaks x cells;
#'   choose `peaks =` in [denoiseAccessibility()], or stream all peaks into an HDF5 file with `file =`).
#' * **Plain vectors**: peak coordinates, names and per-cell columns.
#'
#' Size limits: a `dgCMatrix` holds at most 2^31 - 1 non-zeros (its indices are R integers), so a
#' count matrix with more non-zeros cannot be sent in one piece (split the cells into batches), and
#' [denoiseAccessibility()] refuses to bring more than 2^31 - 1 values into R (its result is a
#' `dgCMatrix` storing the chosen peaks densely). Each side holds one copy of the non-zeros while a
#' model runs (about 12 bytes per non-zero: a 4-byte index and an 8-byte value in R, a 4-byte value
#' in Python). When basilisk runs Python in a separate R process, data also travel to and from it
#' serialised.
#'
#' @section Peak coordinates:
#' Taken from `rowRanges` (a `GRanges`, 1-based closed, converted to the engine's 0-based half-open
#' convention), else rowData columns `chrom`/`chr`/`seqnames`, `start`, `end` (0-based half-open, as
#' in BED files and AnnData), else row names like `chr1:100-200`, `chr1-100-200` or `chr1_100_200`
#' (read as the engine reads them). For Seurat objects, the peaks assay's own ranges when it has them
#' (a Signac `ChromatinAssay` keeps a `GRanges`), else its feature names read as Signac writes them:
#' `chr1-2001-2500` is the 1-based, closed range 2001..2500, the engine's `chr1:2000-2500`. A
#' SingleCellExperiment whose `rowRanges` are those peaks gives the same coordinates and results.
#'
#' @section Verbose output, model directories, reproducibility:
#' The engine's progress bars are hidden unless `verbose = TRUE` or [setSeqATACVerbose()]; its warnings
#' become R warnings. Trained models are saved under [seqatacModelDir()] (persistent) unless `dir =` is
#' given. CellSpace runs are identical for a seed only on one thread (`deterministic = TRUE` in
#' [runCellSpace()]); the other models are deterministic on CPU for a seed and thread count.
#'
#' @section Citation:
#' `citation("seqATAC")` lists the papers of the three models.
#'
#' @keywords internal
#' @importFrom methods setGeneric setMethod
#' @importClassesFrom SummarizedExperiment SummarizedExperiment
#' @importClassesFrom SingleCellExperiment SingleCellExperiment
#' @name seqATAC-package
#' @aliases seqATAC
"_PACKAGE"
