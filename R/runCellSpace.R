#' Train CellSpace and store its cell embedding
#'
#' Trains CellSpace (Tayyebi et al., Nat. Methods 2023) with the `seqatac` engine
#' (`seqatac.models.cellspace.CellSpace`): DNA k-mers and cells are embedded in one space,
#' StarSpace-style, from the sequences of the peaks each cell has open. Optionally scores TF
#' activity as the cosine similarity of each cell to each motif's consensus embedding, z-scored
#' across cells.
#'
#' @inheritParams runScBasset
#' @param ... Named hyper-parameters passed to the Python `CellSpace` constructor (fields of
#'   `CellSpaceConfig`: `n_latent`, `k`, `ngrams`, `bucket`, `examples_per_event`, ...).
#' @param epochs Training epochs (the authors use 50).
#' @param n_threads Training threads (`NULL`: the engine's default).
#'
#' @return `x` with, for SingleCellExperiment, `reducedDim(x, name)` (cells x `n_latent`),
#'   `altExp(x, "<name>TF")` (when `motifs` is given) and `metadata(x)$seqATAC[[name]]`
#'   (`model_dir`, `params`); for Seurat, a `DimReduc` `x[[name]]` with key `cellspace_`, an
#'   `Assay` `x[["<name>TF"]]` and `x@misc$seqATAC[[name]]`.
#' @examples
#' \donttest{
#' if (nzchar(Sys.getenv("SEQATAC_PYTHON"))) {
#'     sce <- simulateATAC("tiny", seed = 1)
#'     sce <- runCellSpace(sce, epochs = 2, bucket = 4096, examples_per_event = 4)
#'     dim(SingleCellExperiment::reducedDim(sce, "CellSpace"))
#' }
#' }
#' @name runCellSpace
NULL

.cellspace_method <- function(x, genome = NULL, ..., assay = NULL, motifs = NULL, epochs = 50L,
                              n_threads = NULL, dir = NULL, seed = 0L, verbose = FALSE,
                              name = "CellSpace") {
    args <- list(
        genome = .check_genome(if (is.null(genome)) .default_genome(x) else genome),
        options = .as_python_options(list(...)),
        motifs = if (is.null(motifs)) NULL else .check_motifs(motifs, allow_null = FALSE),
        epochs = .check_count(epochs, "epochs"),
        n_threads = if (is.null(n_threads)) NULL else .check_count(n_threads, "n_threads"),
        dir = .model_dir(dir), seed = .check_seed(seed), verbose = isTRUE(verbose)
    )
    .run_model(x, assay, columns = NULL, name, key = "cellspace_", calculate = function(input, x) {
        .run_seqatac(.cellspace_worker, input = input, args = args)
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
    if (!is.null(args$motifs)) {
        frame <- model$get_tf_activity(.motifs_in_python(args$motifs))
        attrs <- frame$attrs
        result$tf <- .tf_from_python(frame, reticulate::py_get_item(attrs, "motif_id"),
                                     reticulate::py_get_item(attrs, "motif_name"))
    }
    model$save(args$dir)
    dataclasses <- reticulate::import("dataclasses", convert = FALSE)
    result$metadata <- list(model_dir = args$dir,
                            params = reticulate::py_to_r(dataclasses$asdict(model$config)),
                            epochs = reticulate::py_to_r(model$epochs_done))
    result
}
