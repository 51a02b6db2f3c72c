#' Train CellSpace and store its cell embedding
#'
#' Trains CellSpace (Tayyebi et al., Nat. Methods 2024) with the `seqatac` engine
#' (`seqatac.models.cellspace.CellSpace`): DNA k-mers and cells are embedded in one space,
#' StarSpace-style, from the sequences of the peaks each cell has open. Optionally scores TF
#' activity as the cosine similarity of each cell to each motif's consensus embedding, z-scored
#' across cells.
#'
#' @section Reproducibility:
#' CellSpace trains Hogwild-style, as the authors' StarSpace does: several threads update the shared
#' embedding tables without locks, so with more than one thread the same `seed` gives a (slightly)
#' different embedding on every run. `deterministic = TRUE` trains on one thread (the same as
#' `n_threads = 1`), and then the same data, seed and options give identical embeddings, run after run
#' and from R or Python. It is slower on machines with many cores.
#'
#' @inheritParams runScBasset
#' @param ... Named CellSpace hyper-parameters, passed to the Python `CellSpace` constructor (fields of
#'   `CellSpaceConfig`; defaults are the authors'): `n_latent` (30), `k` (8), `ngrams` (3),
#'   `sample_length` (150), `bucket` (2,000,000), `examples_per_event` (20), `margin`, `lr`, `final_lr`,
#'   `n_candidates`, `max_negatives`, `group_size`, `init_sd`, `max_norm`, `p`. Any other name is an
#'   error listing these.
#' @param epochs Training epochs (the authors use 50).
#' @param n_threads Training threads (`NULL`: all cores, or one with `deterministic = TRUE`).
#' @param deterministic Train on one thread so that repeated runs with the same seed are identical (see
#'   Reproducibility).
#'
#' @return `x` with, for SingleCellExperiment, `reducedDim(x, name)` (cells x `n_latent`),
#'   `altExp(x, "<name>TF")` (when `motifs` is given; assay `activity`, rowData `motif_id`,
#'   `motif_name`, `metadata()$seqATAC` saying how it was computed) and `metadata(x)$seqATAC[[name]]`
#'   (`model_dir`, `params`: the architecture and training options, `epochs`, `n_threads`,
#'   `deterministic`, `seed`, `genome`, `motifs`); for Seurat, a `DimReduc` `x[[name]]` with key
#'   `cellspace_`, an `Assay` `x[["<name>TF"]]` and `x@misc$seqATAC[[name]]`.
#' @examples
#' if (hasSeqatacBackend()) {
#'     sce <- seqatacExample()
#'     sce <- runCellSpace(sce, epochs = 2, n_latent = 8, bucket = 4096, examples_per_event = 4,
#'                         motifs = c("CEBPA", "HNF4A"), deterministic = TRUE,
#'                         dir = file.path(tempdir(), "cellspace-example"))
#'     dim(SingleCellExperiment::reducedDim(sce, "CellSpace"))
#'     SingleCellExperiment::altExp(sce, "CellSpaceTF")
#' }
#' @name runCellSpace
NULL

.CELLSPACE_ARGUMENTS <- c("genome", "assay", "assay.type", "motifs", "epochs", "n_threads", "deterministic",
                          "dir", "seed", "verbose", "name")

.cellspace_method <- function(x, genome = NULL, ..., assay = NULL, assay.type = NULL, motifs = NULL,
                              epochs = 50L, n_threads = NULL, deterministic = FALSE, dir = NULL, seed = 0L,
                              verbose = NULL, name = "CellSpace") {
    .check_input_class(x, "runCellSpace")
    options <- .check_options(list(...), "CellSpace", "runCellSpace", arguments = .CELLSPACE_ARGUMENTS)
    deterministic <- .check_flag(deterministic, "deterministic")
    if (!is.null(n_threads)) n_threads <- .check_count(n_threads, "n_threads")
    if (deterministic) {
        if (!is.null(n_threads) && n_threads != 1L) {
            stop("deterministic = TRUE trains on one thread; leave n_threads = NULL (or 1).", call. = FALSE)
        }
        n_threads <- 1L
    }
    name <- .check_name(name, "name")
    args <- list(
        genome = .check_genome(if (is.null(genome)) .default_genome(x) else genome),
        options = options,
        motifs = if (is.null(motifs)) NULL else .check_motifs(motifs, allow_null = FALSE),
        epochs = .check_count(epochs, "epochs"), n_threads = n_threads, deterministic = deterministic,
        seed = .check_seed(seed), verbose = .verbose(verbose)
    )
    assay <- .assay_name(assay, assay.type)
    args$dir <- .model_dir(dir, name)
    .run_model(x, assay, columns = NULL, name, key = "cellspace_", verb = "runCellSpace",
               calculate = function(input, x) {
        .run_seqatac(.cellspace_worker, input = input, args = args, verbose = args$verbose)
    })
}

#' @rdname runCellSpace
#' @export
setMethod("runCellSpace", "SummarizedExperiment", .cellspace_method)

#' @rdname runCellSpace
#' @export
setMethod("runCellSpace", "ANY", .cellspace_method)

.cellspace_worker <- function(input, args) {
    cellspace <- reticulate::import("seqatac.models.cellspace", convert = FALSE)
    data <- reticulate::import("seqatac.data", convert = FALSE)
    adata <- .anndata_from_r(input$payload, input$ranges, input$cells)
    model <- do.call(cellspace$CellSpace,
                     c(list(adata, data$Genome(args$genome), random_state = args$seed), args$options))
    model$fit(args$epochs, random_state = args$seed, n_threads = args$n_threads, verbose = args$verbose)
    result <- list(embedding = reticulate::py_to_r(model$get_latent_representation()))
    motif_record <- NULL
    if (!is.null(args$motifs)) {
        motif_list <- .motifs_in_python(args$motifs)
        frame <- model$get_tf_activity(motif_list)
        attrs <- frame$attrs
        result$tf <- .tf_from_python(frame, reticulate::py_get_item(attrs, "motif_id"),
                                     reticulate::py_get_item(attrs, "motif_name"), motif_list)
        motif_record <- list(requested = args$motifs, motif_id = result$tf$motif_id,
                             motif_name = result$tf$motif_name)
        result$tf$metadata <- list(method = "CellSpace: cosine similarity of cells to motif consensus embeddings, z-scored across cells",
                                   model_dir = args$dir, motifs = motif_record)
    }
    model$save(args$dir)
    dataclasses <- reticulate::import("dataclasses", convert = FALSE)
    result$metadata <- list(model_dir = args$dir,
                            params = reticulate::py_to_r(dataclasses$asdict(model$config)),
                            epochs = reticulate::py_to_r(model$epochs_done),
                            n_threads = args$n_threads, deterministic = args$deterministic, seed = args$seed,
                            genome = args$genome, motifs = motif_record)
    result
}
