#' Predict gene expression levels with a fine-tuned EpiFoundation model
#'
#' Predicts, from each cell's open peaks alone, the expression level of genes with an EpiFoundation
#' model fine-tuned for expression prediction ([runEpiFoundation()] with `rna =` and
#' `expression_epochs > 0`; `EpiFoundation.predict_expression` in the engine). No RNA is needed for
#' the cells predicted; like [annotateCellTypes()], new cells are mapped onto the model's peaks.
#'
#' @details
#' The model is fine-tuned to regress each gene's per-cell expression bin (0 for a gene the cell does
#' not express, then 1 ... `n_expression_bins - 1`, 9 by default, from the cell's lowest to its highest
#' expressed genes), so the predictions are continuous values on that bin scale: neither rounded nor
#' clipped, they may fall a little below 0 or above the top bin. Use them as they are (to rank genes or
#' cells, or to correlate with measured expression), or make bins with
#' `round(pmin(pmax(levels, 0), n_bins - 1))`, `n_bins` being
#' `metadata(altExp(x, name))$seqATAC$n_expression_bins`. The result is a dense genes x cells matrix (8
#' bytes per value in R): choose `genes =` on large data.
#'
#' @inheritParams annotateCellTypes
#' @param genes Names of the genes to predict (model genes, see `loadSeqatacModel(dir)$genes`); `NULL`
#'   for all the model's genes.
#' @param name Name of the result: the `altExp` (SingleCellExperiment) or the new `Assay` (Seurat).
#'
#' @return `x` with, for SingleCellExperiment, `altExp(x, name)`: a SingleCellExperiment of genes x
#'   cells with assay `expression` (the predicted levels, continuous, see Details) and
#'   `metadata()$seqATAC` (`model_dir`, `n_expression_bins`, `scale`); for Seurat, a new `Assay`
#'   `x[[name]]` with the levels as `data` (`_` in gene names becomes `-`) and `x@misc$seqATAC[[name]]`
#'   (the same record).
#' @seealso [runEpiFoundation()], [annotateCellTypes()], [loadSeqatacModel()].
#' @examples
#' if (hasSeqatacBackend()) {
#'     sce <- seqatacExample()
#'     sce <- runEpiFoundation(sce, rna = "RNA", preset = "tiny", pretrain_epochs = 1,
#'                             expression_epochs = 1, device = "cpu",
#'                             dir = file.path(tempdir(), "epifoundation-expression-example"))
#'     sce <- predictExpression(sce, device = "cpu")
#'     levels <- SummarizedExperiment::assay(SingleCellExperiment::altExp(sce, "EpiFoundationExpression"))
#'     levels[1:3, 1:3]
#' }
#' @name predictExpression
NULL

.predict_expression_method <- function(x, genes = NULL, model = NULL, assay = NULL, device = c("auto", "cpu", "cuda"),
                                       inference = list(), from = "EpiFoundation",
                                       name = "EpiFoundationExpression", verbose = NULL) {
    .check_input_class(x, "predictExpression")
    if (!is.null(genes) && (!is.character(genes) || length(genes) == 0L || anyNA(genes))) {
        stop("genes must be NULL (all the model's genes) or a character vector of gene names.", call. = FALSE)
    }
    args <- .epifoundation_inference_args(x, model, from, "predictExpression", match.arg(device), inference, verbose)
    args$genes <- if (is.null(genes)) NULL else unique(genes)
    name <- .check_name(name, "name")
    if (.is_seurat(x)) {
        input <- .input_seurat(x, assay)
        predicted <- .run_seqatac(.expression_worker, input = input, args = args, verbose = args$verbose)
        genes <- gsub("_", "-", predicted$genes, fixed = TRUE)  # Seurat feature names have no '_'
        dimnames(predicted$levels) <- list(genes, colnames(x))
        x[[name]] <- SeuratObject::CreateAssayObject(data = predicted$levels)
        x@misc$seqATAC[[name]] <- .expression_record(args, predicted)
        return(x)
    }
    x <- methods::as(x, "SingleCellExperiment")
    input <- .input_se(x, if (is.null(assay)) "counts" else assay)
    predicted <- .run_seqatac(.expression_worker, input = input, args = args, verbose = args$verbose)
    dimnames(predicted$levels) <- list(predicted$genes, colnames(x))
    SingleCellExperiment::altExp(x, name) <- SingleCellExperiment::SingleCellExperiment(
        assays = list(expression = predicted$levels),
        metadata = list(seqATAC = .expression_record(args, predicted)))
    x
}

.expression_record <- function(args, predicted) {
    list(model_dir = args$model, n_expression_bins = predicted$n_bins,
         scale = paste0("continuous predictions of the per-cell expression bin (0 = not expressed, ",
                        predicted$n_bins - 1L, " = the cell's top genes); not rounded or clipped"))
}

#' @rdname predictExpression
#' @export
setMethod("predictExpression", "SummarizedExperiment", .predict_expression_method)

#' @rdname predictExpression
#' @export
setMethod("predictExpression", "ANY", .predict_expression_method)

.expression_worker <- function(input, args) {
    ready <- .epifoundation_for(input, args, "expression",
                                "runEpiFoundation(rna = , expression_epochs = ) (paired RNA needed)")
    known <- .py_strings(ready$model$gene_names)
    genes <- if (is.null(args$genes)) known else args$genes
    unknown <- setdiff(genes, known)
    if (length(unknown)) {
        stop(length(unknown), " gene(s) are not genes of the EpiFoundation model (e.g. '", unknown[[1]], "'); ",
             "pick genes from loadSeqatacModel(\"", args$model, "\")$genes.", call. = FALSE)
    }
    levels <- do.call(ready$model$predict_expression,
                      c(list(ready$adata, genes = reticulate::r_to_py(as.list(genes))), args$inference))
    # genes x cells: the transposed view converts to R without reordering
    list(levels = reticulate::py_to_r(levels$T), genes = genes,
         n_bins = as.integer(reticulate::py_to_r(ready$model$config$n_expression_bins)))
}
