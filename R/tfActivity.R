#' Per-cell transcription-factor activity (chromVAR-style deviations)
#'
#' Computes chromVAR-style bias-corrected motif deviation z-scores with the engine's
#' `seqatac.baselines.chromvar_deviations`: peak sequences are read from the genome FASTA, motif
#' matches and GC content computed from them, and each cell's accessibility of every motif's peaks is
#' compared with GC- and accessibility-matched background peak sets. Model-based TF activities
#' come from [runScBasset()] and [runCellSpace()] (`motifs=`).
#'
#' @param x A [SingleCellExperiment::SingleCellExperiment], a
#'   [SummarizedExperiment::SummarizedExperiment] (such as ArchR's `getMatrixFromProject()` returns,
#'   with `assay = "PeakMatrix"`; it is returned as a `SingleCellExperiment`) or a Seurat object
#'   whose assay (`assay =`, default the active one) is a peaks assay with `chr-start-end` feature
#'   names (a Signac `ChromatinAssay` is one).
#' @param motifs `NULL` for all JASPAR 2024 CORE vertebrate motifs (offline, through pyjaspar), the
#'   path of a motif file (MEME, JASPAR or HOMER format) or a character vector of JASPAR matrix ids
#'   (`"MA0139"`, `"MA0139.2"`) and TF names (`"CTCF"`).
#' @param genome Path of the genome FASTA the peaks were called on. Defaults to the genome written by
#'   [simulateATAC()] when `x` comes from it.
#' @param method `"chromvar"` (the only method of this function).
#' @param assay,assay.type Name of the peak count assay (peaks x cells, raw counts; `assay.type` as
#'   scater names it, give either); for Seurat, `NULL` means the active assay.
#' @param name Name of the result: the `altExp` (SingleCellExperiment) or the new `Assay` (Seurat).
#' @param n_backgrounds Number of background peak sets.
#' @param p_value Motif match p-value threshold.
#' @param seed Integer seed for background sampling.
#' @param verbose Show the engine's progress output; `NULL` follows [setSeqATACVerbose()].
#' @param ... Passed on to the methods.
#'
#' @return `x` with the activities added. SingleCellExperiment: `altExp(x, name)` with assays
#'   `activity` (z-scores, motifs x cells) and `deviations`, rowData `motif_id` and `motif_name`
#'   (rows are labelled by TF name, or `NAME_ID` where several motifs share a name, as in every seqATAC
#'   and seqatac result); the parameters (`method`, `genome`, `motifs`, `n_backgrounds`, `p_value`,
#'   `seed`, `n_peaks_used`) are in `metadata(x)$seqATAC[[name]]` and in the altExp's own
#'   `metadata()$seqATAC`. Seurat: a new `Assay` `x[[name]]` with the
#'   z-scores as `data` and feature metadata `motif_id`, `motif_name` (`_` in motif labels becomes
#'   `-`); the parameters go to `x@misc$seqATAC[[name]]`.
#' @examples
#' if (hasSeqatacBackend()) {
#'     sce <- seqatacExample()
#'     sce <- tfActivity(sce, motifs = c("CEBPA", "HNF4A", "CTCF"), n_backgrounds = 20)
#'     tf <- SingleCellExperiment::altExp(sce, "chromVARTF")
#'     SummarizedExperiment::rowData(tf)
#' }
#' @name tfActivity
NULL

#' @rdname tfActivity
#' @export
setMethod("tfActivity", "SingleCellExperiment", function(x, motifs = NULL, genome = NULL,
                                                         method = "chromvar", assay = NULL, assay.type = NULL,
                                                         name = "chromVARTF", n_backgrounds = 50L,
                                                         p_value = 5e-5, seed = 0L, verbose = NULL) {
    args <- .tf_activity_args(x, motifs, genome, method, n_backgrounds, p_value, seed, verbose)
    assay <- .assay_name(assay, assay.type)
    input <- .input_se(x, if (is.null(assay)) "counts" else assay)  # checked before Python starts
    result <- .calculate_chromvar(input, args)
    .store_sce(x, result, .check_name(name, "name"), tf_name = name)
})

#' @rdname tfActivity
#' @export
setMethod("tfActivity", "SummarizedExperiment", function(x, ...) {
    tfActivity(methods::as(x, "SingleCellExperiment"), ...)
})

#' @rdname tfActivity
#' @export
setMethod("tfActivity", "ANY", function(x, motifs = NULL, genome = NULL, method = "chromvar",
                                        assay = NULL, assay.type = NULL, name = "chromVARTF",
                                        n_backgrounds = 50L, p_value = 5e-5, seed = 0L, verbose = NULL) {
    if (!.is_seurat(x)) .unsupported(x, "tfActivity")
    args <- .tf_activity_args(x, motifs, genome, method, n_backgrounds, p_value, seed, verbose)
    input <- .input_seurat(x, .assay_name(assay, assay.type))
    result <- .calculate_chromvar(input, args)
    .store_seurat(x, result, .check_name(name, "name"), tf_name = name, key = NULL, assay = input$assay)
})

.tf_activity_args <- function(x, motifs, genome, method, n_backgrounds, p_value, seed, verbose) {
    method <- match.arg(method, "chromvar")
    if (!is.numeric(n_backgrounds) || length(n_backgrounds) != 1L || n_backgrounds < 1) {
        stop("n_backgrounds must be one positive integer.", call. = FALSE)
    }
    if (!is.numeric(p_value) || length(p_value) != 1L || !(p_value > 0 && p_value < 1)) {
        stop("p_value must be one number between 0 and 1.", call. = FALSE)
    }
    list(method = method, motifs = .check_motifs(motifs),
         genome = .check_genome(if (is.null(genome)) .default_genome(x) else genome),
         n_backgrounds = as.integer(n_backgrounds), p_value = p_value, seed = .check_seed(seed),
         verbose = .verbose(verbose))
}

# chromVAR-style deviations for validated input and arguments; a result list for .store_*().
.calculate_chromvar <- function(input, args) {
    result <- .run_seqatac(.chromvar_worker, input = input, args = args, verbose = args$verbose)
    record <- list(method = args$method, genome = args$genome,
                   motifs = list(requested = if (is.null(args$motifs)) "JASPAR2024 CORE vertebrates" else args$motifs,
                                 motif_id = result$tf$motif_id, motif_name = result$tf$motif_name),
                   n_backgrounds = args$n_backgrounds, p_value = args$p_value,
                   seed = args$seed, n_peaks_used = result$n_peaks_used)
    result$metadata <- record
    result$tf$metadata <- c(list(description = "chromVAR-style bias-corrected deviations (z-scores in assay activity)"),
                            record)
    result
}

.chromvar_worker <- function(input, args) {
    baselines <- reticulate::import("seqatac.baselines", convert = FALSE)
    data <- reticulate::import("seqatac.data", convert = FALSE)
    adata <- .anndata_from_r(input$payload, input$ranges, input$cells)
    motif_list <- .motifs_in_python(args$motifs)
    baselines$chromvar_deviations(
        adata, motif_list, genome = data$Genome(args$genome),
        n_backgrounds = args$n_backgrounds, p_value = args$p_value, random_state = args$seed,
        key_added = "chromvar"
    )
    uns <- reticulate::py_get_item(adata$uns, "chromvar")
    tf <- .tf_from_python(reticulate::py_get_item(adata$obsm, "chromvar"),
                          reticulate::py_get_item(uns, "motif_id"), reticulate::py_get_item(uns, "motif_name"),
                          motif_list)
    deviations <- reticulate::py_get_item(adata$obsm, "chromvar_deviations")
    tf$deviations <- t(reticulate::py_to_r(deviations$to_numpy(dtype = "float64")))
    list(tf = tf, n_peaks_used = reticulate::py_to_r(reticulate::py_get_item(uns, "n_peaks_used")))
}
