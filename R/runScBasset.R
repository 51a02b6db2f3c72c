#' Train scBasset and store its cell embedding
#'
#' Trains the scBasset model (Yuan & Kelley, Nat. Methods 2022) with the `seqatac` engine
#' (`seqatac.models.ScBasset`): a convolutional network predicts every cell's accessibility of a peak
#' from the peak's DNA sequence; the weights of its last layer are the cell embedding and its bias the
#' per-cell intercept (sequencing depth). Optionally scores TF activity by motif insertion.
#'
#' All arguments are checked in R before Python starts; a misspelt or unknown argument is an error that
#' lists the valid names.
#'
#' @param x A SingleCellExperiment, SummarizedExperiment (returned as a SingleCellExperiment) or
#'   Seurat object with peak counts; see [tfActivity()].
#' @param genome Path of the genome FASTA the peaks were called on (default: the genome recorded by
#'   [simulateATAC()] or [seqatacExample()]).
#' @param ... Named model options passed to the Python `ScBasset` constructor: architecture fields
#'   (`seq_len`, `n_filters_init`, `stem_kernel_size`, `stem_pool_size`, `n_tower_layers`,
#'   `tower_kernel_size`, `tower_pool_size`, `filters_mult`, `n_filters_pre_bottleneck`,
#'   `bottleneck_size`, `dropout`; the defaults are the authors') and `l2_cell`, `l2_batch`,
#'   `train_fraction`, `min_cell_fraction`, `standard_chromosomes`, `sequence_cache`. Any other name is
#'   an error listing these.
#' @param assay,assay.type Name of the peak count assay (SingleCellExperiment: `"counts"` by default;
#'   Seurat: the active assay). `assay.type` is the same, named as scater names it; give either.
#' @param batch Name of a cell annotation column (colData / meta.data) holding batches: trains
#'   scBasset-BC. `NULL` for none.
#' @param motifs `NULL` to skip TF activity; otherwise the motifs to score (a motif file or JASPAR
#'   ids / TF names, as in [tfActivity()]).
#' @param epochs Maximum training epochs (early stopping on the training auROC may end sooner).
#' @param batch_size Peaks per training step.
#' @param n_backgrounds Background sequences for TF activity (the authors use 1,000).
#' @param device `"auto"` (CUDA when available), `"cpu"` or `"cuda"`.
#' @param training Named list of further options of the engine's `ScBasset.fit()`: `lr`, `max_steps`,
#'   `cell_batch_size`, `early_stopping`, `patience`, `min_delta`, `restore_best`,
#'   `reverse_complement`, `shift_max`, `precision`, `n_threads`, `recipe`, `cell_init`, `head_lr`,
#'   `head_warmup_epochs`.
#' @param dir Directory the trained model is saved to (must not exist yet). `NULL`: a new directory
#'   under [seqatacModelDir()], which persists across R sessions.
#' @param seed Integer seed for initialisation, peak split, training and TF activity.
#' @param verbose Show the engine's progress bars; `NULL` follows [setSeqATACVerbose()].
#' @param name Name of the results.
#'
#' @return `x` with, for SingleCellExperiment, `reducedDim(x, name)` (cells x bottleneck),
#'   `colData(x)$<name>_intercept`, `altExp(x, "<name>TF")` (assay `activity`, rowData `motif_id`,
#'   `motif_name`, `metadata()$seqATAC` saying how it was computed; when `motifs` is given) and
#'   `metadata(x)$seqATAC[[name]]` (`model_dir`, `architecture`, `params`: the engine's record of data
#'   and training options, `history`, `genome`, `seed` and, with motifs, `motifs` and `n_backgrounds`);
#'   for Seurat, a `DimReduc` `x[[name]]` with key `scbasset_`, meta.data `<name>_intercept`, an `Assay`
#'   `x[["<name>TF"]]` and `x@misc$seqATAC[[name]]`.
#' @examples
#' if (hasSeqatacBackend()) {
#'     sce <- seqatacExample()
#'     sce <- runScBasset(sce, epochs = 1, seq_len = 200, n_filters_init = 8, n_tower_layers = 1,
#'                        n_filters_pre_bottleneck = 8, bottleneck_size = 4, device = "cpu",
#'                        dir = file.path(tempdir(), "scbasset-example"))
#'     dim(SingleCellExperiment::reducedDim(sce, "scBasset"))
#'     S4Vectors::metadata(sce)$seqATAC$scBasset$architecture$bottleneck_size
#' }
#' @name runScBasset
NULL

.SCBASSET_ARGUMENTS <- c("genome", "assay", "assay.type", "batch", "motifs", "epochs", "batch_size",
                         "n_backgrounds", "device", "training", "dir", "seed", "verbose", "name")

.scbasset_method <- function(x, genome = NULL, ..., assay = NULL, assay.type = NULL, batch = NULL,
                             motifs = NULL, epochs = 100L, batch_size = 128L, n_backgrounds = 100L,
                             device = c("auto", "cpu", "cuda"), training = list(), dir = NULL, seed = 0L,
                             verbose = NULL, name = "scBasset") {
    .check_input_class(x, "runScBasset")
    options <- .check_options(list(...), "scBasset", "runScBasset", arguments = .SCBASSET_ARGUMENTS)
    name <- .check_name(name, "name")
    args <- list(
        genome = .check_genome(if (is.null(genome)) .default_genome(x) else genome),
        options = options, batch = batch,
        motifs = if (is.null(motifs)) NULL else .check_motifs(motifs, allow_null = FALSE),
        epochs = .check_count(epochs, "epochs"), batch_size = .check_count(batch_size, "batch_size"),
        n_backgrounds = .check_count(n_backgrounds, "n_backgrounds"), device = match.arg(device),
        training = .check_options(training, "scBasset_training", "runScBasset", what = "training"),
        seed = .check_seed(seed), verbose = .verbose(verbose), name = name
    )
    assay <- .assay_name(assay, assay.type)
    args$dir <- .model_dir(dir, name)
    .run_model(x, assay, batch, name, key = "scbasset_", verb = "runScBasset", calculate = function(input, x) {
        .run_seqatac(.scbasset_worker, input = input, args = args, verbose = args$verbose)
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
    do.call(model$fit, c(list(max_epochs = args$epochs, batch_size = args$batch_size, device = args$device,
                              verbose = args$verbose), args$training))
    result <- list(
        embedding = reticulate::py_to_r(model$get_latent_representation()),
        cell_data = stats::setNames(list(as.vector(reticulate::py_to_r(model$get_cell_intercept()))),
                                    paste0(args$name, "_intercept"))
    )
    model$save(args$dir)
    result$metadata <- list(
        model_dir = args$dir,
        architecture = reticulate::py_to_r(model$config$to_dict()),
        params = reticulate::py_to_r(model$params),
        history = reticulate::py_to_r(model$history$to_dict(orient = "list")),
        genome = args$genome, seed = args$seed
    )
    if (!is.null(args$motifs)) {
        motif_list <- .motifs_in_python(args$motifs)
        labels <- .motif_labels(motif_list)
        frame <- model$get_tf_activity(motif_list, n_backgrounds = args$n_backgrounds,
                                       random_state = args$seed, verbose = args$verbose)
        result$tf <- .tf_from_python(frame, labels$id, labels$name, motif_list)
        motif_record <- list(requested = args$motifs, motif_id = result$tf$motif_id,
                             motif_name = result$tf$motif_name)
        result$tf$metadata <- list(method = "scBasset: motif insertion into dinucleotide-shuffled backgrounds, z-scored across cells",
                                   model_dir = args$dir, motifs = motif_record,
                                   n_backgrounds = args$n_backgrounds, seed = args$seed)
        result$metadata$motifs <- motif_record
        result$metadata$n_backgrounds <- args$n_backgrounds
    }
    result
}
