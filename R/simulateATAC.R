#' Simulate single-cell ATAC-seq data with known ground truth
#'
#' Runs the `seqatac` simulator (`seqatac.simulate.simulate_atac`): a synthetic genome whose peaks carry
#' planted JASPAR motifs, cell types driven by transcription-factor programs, batches and (optionally)
#' paired RNA. The genome FASTA and the other simulation files are written to `dir`.
#'
#' @param preset Size preset: `"tiny"` (~300 cells x 1,000 peaks, for tests), `"small"`
#'   (2,000 x 5,000), `"medium"` (10,000 x 30,000) or `"large"` (100,000 x 50,000).
#' @param seed Integer seed; the same seed gives the same data as the Python engine.
#' @param rna Simulate paired RNA (`TRUE`/`FALSE`); `NULL` keeps the preset's choice.
#' @param dir Directory for the simulation files (genome FASTA, h5ad files, truth JSON); a new
#'   temporary directory by default.
#'
#' @return A [SingleCellExperiment::SingleCellExperiment] with
#' * assay `counts`: peaks x cells `dgCMatrix`;
#' * `rowRanges`: the peaks (1-based closed GRanges; row names are the engine's 0-based
#'   half-open `chr:start-end` names) with `peak_class`, `gc`, `bias`, `n_motifs`;
#' * `colData`: `cell_type`, `batch`, `trajectory`, `pseudotime`, `depth`, `total_counts`,
#'   `n_open_peaks`;
#' * `altExp(x, "trueTF")`: assay `activity`, the true TF activity (TFs x cells);
#' * `altExp(x, "RNA")` (when RNA is simulated): assay `counts`, genes x cells `dgCMatrix`;
#' * `metadata(x)$seqATAC`: `genome` (path of the FASTA), `dir`, `preset`, `seed`.
#' @param verbose Show the engine's output; `NULL` follows [setSeqATACVerbose()].
#' @seealso [seqatacExample()] for the small simulated data set shipped with the package.
#' @examples
#' if (hasSeqatacBackend()) {
#'     sce <- simulateATAC("tiny", seed = 1)
#'     sce
#' }
#' @export
simulateATAC <- function(preset = c("tiny", "small", "medium", "large"), seed = 0L, rna = NULL,
                         dir = NULL, verbose = NULL) {
    preset <- match.arg(preset)
    seed <- .check_seed(seed)
    if (!is.null(rna) && !(is.logical(rna) && length(rna) == 1L && !is.na(rna))) {
        stop("rna must be TRUE, FALSE or NULL (the preset's choice).", call. = FALSE)
    }
    dir <- if (is.null(dir)) tempfile("seqATAC-simulation-") else dir
    dir.create(dir, recursive = TRUE, showWarnings = FALSE)
    dir <- normalizePath(dir)
    verbose <- .verbose(verbose)
    sim <- .run_seqatac(.simulate_worker, preset = preset, seed = seed, rna = rna, dir = dir, verbose = verbose)

    obs <- sim$obs
    var <- sim$var
    ranges <- GenomicRanges::GRanges(var$chrom, IRanges::IRanges(var$start + 1, var$end))
    names(ranges) <- sim$peak_names
    S4Vectors::mcols(ranges) <- S4Vectors::DataFrame(as.data.frame(var[setdiff(names(var), c("chrom", "start", "end"))], optional = TRUE))
    dimnames(sim$counts) <- list(sim$peak_names, sim$cell_names)
    sce <- SingleCellExperiment::SingleCellExperiment(
        assays = list(counts = sim$counts),
        rowRanges = ranges,
        colData = S4Vectors::DataFrame(as.data.frame(obs, optional = TRUE), row.names = sim$cell_names)
    )
    truth <- sim$true_tf_activity
    dimnames(truth) <- list(sim$tf_names, sim$cell_names)
    SingleCellExperiment::altExp(sce, "trueTF") <-
        SummarizedExperiment::SummarizedExperiment(assays = list(activity = truth))
    if (!is.null(sim$rna)) {
        dimnames(sim$rna) <- list(sim$gene_names, sim$cell_names)
        SingleCellExperiment::altExp(sce, "RNA") <-
            SummarizedExperiment::SummarizedExperiment(assays = list(counts = sim$rna))
    }
    S4Vectors::metadata(sce)$seqATAC <- list(genome = sim$genome, dir = dir, preset = preset, seed = seed)
    sce
}

.simulate_worker <- function(preset, seed, rna, dir) {
    simulate <- reticulate::import("seqatac.simulate", convert = FALSE)
    sim <- simulate$simulate_atac(preset, random_state = seed, rna = rna)
    paths <- simulate$write_simulation(sim, dir)
    atac <- sim$atac
    frame <- function(df, columns) {
        lapply(stats::setNames(columns, columns), function(column) {
            values <- reticulate::py_get_item(df, column)
            if (identical(reticulate::py_to_r(values$dtype$name), "category")) {
                return(factor(.py_strings(values), levels = .py_strings(values$cat$categories)))
            }
            if (identical(reticulate::py_to_r(values$dtype$kind), "O")) {
                return(.py_strings(values))
            }
            as.vector(reticulate::py_to_r(values$to_numpy()))
        })
    }
    truth <- reticulate::py_get_item(atac$obsm, "true_tf_activity")
    result <- list(
        counts = .csr_from_python(atac$X),
        peak_names = .py_strings(atac$var_names),
        cell_names = .py_strings(atac$obs_names),
        var = frame(atac$var, .py_strings(atac$var$columns)),
        obs = frame(atac$obs, .py_strings(atac$obs$columns)),
        true_tf_activity = t(reticulate::py_to_r(truth$to_numpy(dtype = "float64"))),
        tf_names = .py_strings(truth$columns),
        genome = reticulate::import_builtins()$str(reticulate::py_get_item(paths, "genome"))
    )
    if (!is.null(reticulate::py_to_r(sim$rna))) {
        result$rna <- .csr_from_python(sim$rna$X)
        result$gene_names <- .py_strings(sim$rna$var_names)
    }
    result
}

.check_seed <- function(seed) {
    if (!is.numeric(seed) || length(seed) != 1L || is.na(seed) || seed < 0 || seed != round(seed)) {
        stop("seed must be one non-negative integer.", call. = FALSE)
    }
    as.integer(seed)
}
