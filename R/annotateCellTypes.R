#' Annotate cell types with a fine-tuned EpiFoundation model
#'
#' Predicts each cell's type from its open peaks with an EpiFoundation model fine-tuned for
#' annotation ([runEpiFoundation()] with `labels =`; `EpiFoundation.predict_cell_type_probabilities`
#' in the engine). The cells need not be the training cells: their peaks are mapped onto the model's
#' peak vocabulary (identical coordinates, else the largest overlap), so a reference model can
#' annotate a query data set.
#'
#' @param x A SingleCellExperiment, SummarizedExperiment (returned as a SingleCellExperiment) or Seurat
#'   object with peak counts (see [tfActivity()]).
#' @param model The EpiFoundation model: its directory, or what [loadSeqatacModel()] returns. `NULL`
#'   takes the model [runEpiFoundation()] recorded in `x` under the name `from`.
#' @param assay Name of the peak count assay; for Seurat, `NULL` means the active assay.
#' @param probabilities Also store the probability of every cell type.
#' @param device `"auto"` (CUDA when available), `"cpu"` or `"cuda"`.
#' @param inference Named list of further inference options of the engine: `max_len` (peaks per
#'   cell), `max_tokens`, `max_cells` (batch size), `precision`, `n_threads`.
#' @param from Name under which [runEpiFoundation()] stored the model in `x` (used when `model = NULL`).
#' @param name Prefix of the new cell annotation columns.
#' @param verbose Show a progress bar; `NULL` follows [setSeqATACVerbose()].
#' @param ... Passed on to the methods.
#'
#' @return `x` with cell annotation columns (colData for SingleCellExperiment, meta.data for Seurat)
#'   `<name>_cell_type` (a factor whose levels are the model's cell types) and `<name>_confidence`
#'   (the probability of that type); with `probabilities = TRUE` also `<name>_probability_<type>` for
#'   every type. With the default names these replace the columns [runEpiFoundation()] wrote.
#' @seealso [runEpiFoundation()], [predictExpression()], [loadSeqatacModel()].
#' @examples
#' if (hasSeqatacBackend()) {
#'     sce <- seqatacExample()
#'     sce <- runEpiFoundation(sce, labels = "cell_type", preset = "tiny", annotate_epochs = 1,
#'                             device = "cpu", dir = file.path(tempdir(), "epifoundation-annotate-example"))
#'     sce <- annotateCellTypes(sce, probabilities = TRUE, device = "cpu")
#'     table(sce$EpiFoundation_cell_type, sce$cell_type)
#' }
#' @name annotateCellTypes
NULL

.annotate_method <- function(x, model = NULL, assay = NULL, probabilities = FALSE,
                             device = c("auto", "cpu", "cuda"), inference = list(), from = "EpiFoundation",
                             name = from, verbose = NULL) {
    .check_input_class(x, "annotateCellTypes")
    args <- .epifoundation_inference_args(x, model, from, "annotateCellTypes", match.arg(device), inference, verbose)
    .run_model(x, assay, columns = NULL, name, key = NULL, verb = "annotateCellTypes", calculate = function(input, x) {
        predicted <- .run_seqatac(.annotate_worker, input = input, args = args, verbose = args$verbose)
        .cell_type_columns(predicted$probabilities, predicted$cell_types, name, isTRUE(probabilities))
    })
}

#' @rdname annotateCellTypes
#' @export
setMethod("annotateCellTypes", "SummarizedExperiment", .annotate_method)

#' @rdname annotateCellTypes
#' @export
setMethod("annotateCellTypes", "ANY", .annotate_method)

# Validated arguments shared by the EpiFoundation inference verbs.
.epifoundation_inference_args <- function(x, model, from, verb, device, inference, verbose) {
    verbose <- .verbose(verbose)
    inference <- .check_options(inference, "EpiFoundation_inference", verb, what = "inference")
    list(model = .model_path(x, model, from, verb), verb = verb, verbose = verbose,
         inference = c(list(device = device, verbose = verbose), inference))
}

# The result list (per-cell columns only) for .store_*(): the most probable type of each cell, its
# probability and, with `all`, every type's probability.
.cell_type_columns <- function(probabilities, cell_types, name, all) {
    best <- max.col(probabilities, ties.method = "first")
    columns <- list(factor(cell_types[best], levels = cell_types),
                    probabilities[cbind(seq_len(nrow(probabilities)), best)])
    names(columns) <- paste0(name, c("_cell_type", "_confidence"))
    if (all) {
        each <- lapply(seq_along(cell_types), function(k) probabilities[, k])
        columns <- c(columns, stats::setNames(each, paste0(name, "_probability_", cell_types)))
    }
    list(cell_data = columns)
}

# Inside a worker: the EpiFoundation model of args$model, checked to have run `stage`, and the
# AnnData of the input cells.
.epifoundation_for <- function(input, args, stage, how) {
    model <- .load_python_model(args$model, "EpiFoundation", args$verb)$model
    if (!stage %in% .py_strings(model$trained)) {
        stop("The EpiFoundation model in '", args$model, "' has not been fine-tuned for ", args$verb, "(); ",
             "train it with ", how, " first.", call. = FALSE)
    }
    list(model = model, adata = .anndata_from_r(input$payload, input$ranges, input$cells))
}

.annotate_worker <- function(input, args) {
    ready <- .epifoundation_for(input, args, "annotate", "runEpiFoundation(labels = \"<cell type column>\")")
    frame <- do.call(ready$model$predict_cell_type_probabilities, c(list(ready$adata), args$inference))
    list(probabilities = reticulate::py_to_r(frame$to_numpy(dtype = "float64")),
         cell_types = .py_strings(frame$columns))
}
