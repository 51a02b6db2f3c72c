#' A tiny simulated scATAC-seq data set for examples and tests
#'
#' Reads the data set shipped in `inst/extdata` (made with `seqatac simulate --preset tiny`, see
#' `inst/scripts/make-extdata.py`): 150 cells of 4 simulated cell types in 2 batches, 250 peaks on a
#' synthetic two-chromosome genome whose peaks carry planted JASPAR motifs, paired RNA of 66 genes, and
#' the true TF activity of every cell. It is small enough for every model to train in seconds, not to
#' give meaningful results; [simulateATAC()] makes larger data sets.
#'
#' The genome FASTA is copied to a directory of this R session (`tempdir()`), where the engine can
#' write its index next to it even when the package is installed read-only, and recorded as
#' `metadata(sce)$seqATAC$genome`, which the model functions use by default.
#'
#' @param rna Include the paired RNA as `altExp(sce, "RNA")`.
#'
#' @return A SingleCellExperiment (peaks x cells) with assay `counts` (`dgCMatrix`), `rowRanges` (the
#'   peaks, with `peak_class`, `gc`), `colData` (`cell_type`, `batch`, `total_counts`),
#'   `altExp(sce, "trueTF")` (assay `activity`: the simulated TF activities, TFs x cells),
#'   `altExp(sce, "RNA")` (assay `counts`, genes x cells) and `metadata(sce)$seqATAC` (`genome`,
#'   `source`).
#' @seealso [readSeqatacH5AD()], [simulateATAC()].
#' @examples
#' if (hasSeqatacBackend()) {
#'     sce <- seqatacExample()
#'     sce
#'     table(sce$cell_type, sce$batch)
#' }
#' @export
seqatacExample <- function(rna = TRUE) {
    rna <- .check_flag(rna, "rna")
    files <- .example_files()
    sce <- readSeqatacH5AD(files$atac)
    if (rna) {
        genes <- readSeqatacH5AD(files$rna)
        SingleCellExperiment::altExp(sce, "RNA") <- SummarizedExperiment::SummarizedExperiment(
            assays = list(counts = SummarizedExperiment::assay(genes, "counts")),
            rowData = SummarizedExperiment::rowData(genes))
    }
    S4Vectors::metadata(sce)$seqATAC <- list(genome = .example_genome(files$genome),
                                             source = "seqATAC inst/extdata (inst/scripts/make-extdata.py)")
    sce
}

.example_files <- function() {
    names <- c(atac = "tiny_atac.h5ad", rna = "tiny_rna.h5ad", genome = "tiny_genome.fa")
    paths <- vapply(names, function(name) system.file("extdata", name, package = "seqATAC"), "")
    if (any(!nzchar(paths))) {
        stop("seqATAC's example files (", paste(names[!nzchar(paths)], collapse = ", "), ") are missing from ",
             "its installation; reinstall the package.", call. = FALSE)
    }
    as.list(paths)
}

# A copy of the example FASTA in this session's temporary directory (made once per session).
.example_genome <- function(source) {
    directory <- file.path(tempdir(), "seqATAC-example")
    target <- file.path(directory, basename(source))
    if (!file.exists(target)) {
        dir.create(directory, showWarnings = FALSE, recursive = TRUE)
        file.copy(source, target)
    }
    normalizePath(target)
}
