#' Train scBasset and store its cell embedding
#'
#' Trains the scBasset model (Yuan & Kelley, Nat. Methods 2022) with the `seqatac` engine
#' (`seqatac.models.ScBasset`): a convolutional network predicts every cell's accessibility of a peak
#' from the peak's DNA sequence; the weights of its last layer are the cell embedding and its bias the
#' per-cell intercept (sequencing depth). Optionally scores TF activity by motif insertion.
#'
#' @inheritParams tfActivity
#' @param x A SingleCellExperiment, SummarizedExperiment (returned as a SingleCellExperiment) or
#'   Seurat object with peak counts; see [tfActivity()].
#' @param genome Path of the genome FASTA the peaks were called on (default: the genome written by
#'   [simulateATAC()]).
#' @param ... Named model options passed to the Python `ScBasset` constructor: architecture fields
#'   (`seq_len`, `n_filters_init`, `n_tower_layers`, `bottleneck_size`, ...), `l2_cell`, `l2_batch`,
#'   `train_fraction`, `min_cell_fraction`, `standard_chromosomes`.
#' @param batch Name of a cell annotation column (colData / meta.data) holding batches: trains
#'   scBasset-BC. `NULL` for none.
#' @param motifs `NULL` to skip TF activity; otherwise the motifs to score (a motif file or JASPAR
#'   ids / TF names, as in [tfActivity()]).
#' @param epochs Maximum training epochs (early stopping on the training auROC may end sooner).
#' @param batch_size Peaks per training step.
#' @param n_backgrounds Background sequences for TF activity (the authors use 1,000).
#' @param device `"auto"` (CUDA when available), `"cpu"` or `"cuda"`.
#' @param dir Directory the trained model is saved to (must not exist yet); a temporary one by default.
#' @param seed Integer seed for initialisation, peak split, training and TF activity.
#' @param verbose Show progress bars.
#' @param name Name of the results.
#'
#' @return `x` with, for SingleCellExperiment, `reducedDim(x, name)` (cells x bottleneck),
#'   `colData(x)$<name>_intercept`, `altExp(x, "<name>TF")` (assay `activity`, rowData `motif_id`,
#'   `motif_name`; when `motifs` is given) and `metadata(x)$seqATAC[[name]]` (`model_dir`,
#'   `params`, `history`); for Seurat, a `DimReduc` `x[[name]]` with key `scbasset_`, meta.data
#'   `<name>_intercept`, an `Assay` `x[["<name>TF"]]` and `x@misc$seqATAC[[name]]`.
#' @examples
#' \donttest{
#' if (nzchar(Sys.getenv("SEQATAC_PYTHON"))) {
#'     sce <- simulateATAC("tiny", seed = 1)
#'     sce <- runScBasset(sce, epochs = 2, seq_len = 200, n_filters_init = 16,
#'                        n_tower_layers = 2, bottleneck_size = 8, device = "cpu")
#'     dim(SingleCellExperiment::reducedDim(sce, "scBasset"))
#' }
#' }
#' @name runScBasset
NULL

.scbasset_method <- function(x, genome = NULL, ..., assay = NULL, batch = NULL, motifs = NULL,
                             epochs = 100L, batch_size = 128L, n_backgrounds = 100L, device = "auto",
                             dir = NULL, seed = 0L, verbose = FALSE, name = "scBasset") {
    args <- list(
        genome = .check_genome(if (is.null(genome)) .default_genome(x) else genome),
        options = .as_python_options(list(...)), batch = batch,
        motifs = if (is.null(motifs)) NULL else .check_motifs(motifs, allow_null = FALSE),
        epochs = .check_count(epochs, "epochs"), batch_size = .check_count(batch_size, "batch_size"),
        n_backgrounds = .check_count(n_backgrounds, "n_backgrounds"),
        device = match.arg(device, c("auto", "cpu", "cuda")), dir = .model_dir(dir),
        seed = .check_seed(seed), verbose = isTRUE(verbose), name = name
    )
    .run_model(x, assay, batch, name, key = "scbasset_", calculate = function(input, x) {
        .run_seqatac(.scbasset_worker, input = input, args = args)
    })
}

#' @rdname runScBasset
#' @export
setMethod("runScBasset", "SummarizedExperiment", .scbasset_method)

#' @rdname runScBasset
#' @export
setMethod("runScBasset", "ANY", .scbasset_method)

.scbasset_worker <- function(input, args) {
    models <- reticulate::import("seqatac.models", convert = FALSE)
    adata <- .anndata_from_r(input$payload, input$ranges, input$cells, input$obs_columns)
    models$ScBasset$setup_anndata(adata, batch_key = args$batch)
    model <- do.call(models$ScBasset, c(list(adata, args$genome, random_state = args$seed), args$options))
    model$fit(max_epochs = args$epochs, batch_size = args$batch_size, device = args$device,
              verbose = args$verbose)
    result <- list(
        embedding = reticulate::py_to_r(model$get_latent_representation()),
        cell_data = stats::setNames(list(as.vector(reticulate::py_to_r(model$get_cell_intercept()))),
                                    paste0(args$name, "_intercept"))
    )
    if (!is.null(args$motifs)) {
        motif_list <- .motifs_in_python(args$motifs)
        labels <- .motif_labels(motif_list)
        frame <- model$get_tf_activity(motif_list, n_backgrounds = args$n_backgrounds,
                                       random_state = args$seed, verbose = args$verbose)
        result$tf <- .tf_from_python(frame, labels$id, labels$name)
    }
    model$save(args$dir)
    result$metadata <- list(
        model_dir = args$dir,
        params = reticulate::py_to_r(model$params),
        history = reticulate::py_to_r(model$history$to_dict(orient = "list"))
    )
    result
}

# A model directory that does not exist yet (the engine creates it).
.model_dir <- function(dir) {
    if (is.null(dir)) {
        return(tempfile("seqATAC-model-"))
    }
    if (!is.character(dir) || length(dir) != 1L) stop("dir must be one path.", call. = FALSE)
    if (file.exists(dir)) {
        stop("The model directory '", dir, "' already exists; pass a new path as dir.", call. = FALSE)
    }
    file.path(normalizePath(dirname(dir), mustWork = TRUE), basename(dir))
}
