#' Train EpiFoundation and store its cell embedding and predicted cell types
#'
#' Trains EpiFoundation (Wu et al. 2025) with the `seqatac` engine (`seqatac.models.EpiFoundation`): a
#' Transformer over each cell's open peaks, pre-trained to predict which genes the cell expresses
#' from paired RNA, then (with `labels`) fine-tuned to annotate cell types.
#'
#' @inheritParams runScBasset
#' @param rna Paired RNA of the same cells: the name of an `altExp` (SingleCellExperiment) or of an
#'   assay (Seurat) whose `counts` are genes x cells; `NULL` for none (then only `labels` fine-tuning
#'   is possible).
#' @param labels Name of a cell annotation column (colData / meta.data) of cell types: fine-tunes the
#'   annotation head and stores predicted types. Cells with a missing label are not trained on.
#' @param preset Architecture preset: `"tiny"` (tests), `"small"` (CPU) or `"reference"` (the
#'   paper's; GPU work).
#' @param ... Named architecture overrides passed to the Python `EpiFoundation` constructor
#'   (`d_model`, `n_layers`, `n_heads`, `d_ff`, `dropout`, `max_len`, `max_genes`, ...).
#' @param pretrain_epochs,annotate_epochs Epochs of peak-to-gene pre-training (needs `rna`) and of
#'   cell-type fine-tuning (needs `labels`).
#' @param expression_epochs Epochs of expression-level fine-tuning (needs `rna`; 0 skips it), which
#'   [predictExpression()] needs. The stages run in the order pre-training, expression, annotation,
#'   each fine-tuning all weights of the one model; for separately fine-tuned models call
#'   `runEpiFoundation()` once per task with different `name` and `dir`.
#' @param lr Adam learning rate of both stages.
#' @param training Named list of further training options for both stages (`max_cells`,
#'   `max_tokens`, `n_threads`, `precision`, ...).
#'
#' @return `x` with, for SingleCellExperiment, `reducedDim(x, name)` (cells x `d_model`), colData
#'   `<name>_cell_type` (a factor whose levels are the trained cell types) and `<name>_confidence`
#'   (with `labels`; see [annotateCellTypes()] to annotate other cells with the saved model) and `metadata(x)$seqATAC[[name]]`
#'   (`model_dir`, `params`, `trained`: the stages run); for Seurat, a `DimReduc` `x[[name]]` with key
#'   `epifoundation_`, the same meta.data columns and `x@misc$seqATAC[[name]]`.
#' @examples
#' \donttest{
#' if (nzchar(Sys.getenv("SEQATAC_PYTHON"))) {
#'     sce <- simulateATAC("tiny", seed = 1, rna = TRUE)
#'     sce <- runEpiFoundation(sce, rna = "RNA", labels = "cell_type", preset = "tiny",
#'                             pretrain_epochs = 1, annotate_epochs = 1)
#'     table(sce$EpiFoundation_cell_type, sce$cell_type)
#' }
#' }
#' @name runEpiFoundation
NULL

.epifoundation_method <- function(x, rna = NULL, labels = NULL, ..., assay = NULL,
                                  preset = c("small", "tiny", "reference"), pretrain_epochs = 10L,
                                  annotate_epochs = 10L, expression_epochs = 0L, lr = 1e-4,
                                  device = "auto", training = list(), dir = NULL, seed = 0L, verbose = FALSE,
                                  name = "EpiFoundation") {
    if (is.null(rna) && is.null(labels)) {
        stop("EpiFoundation needs paired RNA (rna = ) for pre-training and/or cell-type labels ",
             "(labels = ) for fine-tuning; pass at least one.", call. = FALSE)
    }
    if (!is.numeric(lr) || length(lr) != 1L || !(lr > 0)) stop("lr must be one positive number.", call. = FALSE)
    args <- list(
        labels = labels, preset = match.arg(preset), options = .as_python_options(list(...)),
        pretrain_epochs = if (is.null(rna)) 0L else .check_count(pretrain_epochs, "pretrain_epochs"),
        annotate_epochs = if (is.null(labels)) 0L else .check_count(annotate_epochs, "annotate_epochs"),
        expression_epochs = .check_stage_epochs(expression_epochs, "expression_epochs", rna),
        training = c(list(lr = lr, device = match.arg(device, c("auto", "cpu", "cuda")),
                          verbose = isTRUE(verbose)), .as_python_options(training)),
        dir = .model_dir(dir), seed = .check_seed(seed), name = name
    )
    .run_model(x, assay, labels, name, key = "epifoundation_", calculate = function(input, x) {
        input$rna <- if (is.null(rna)) NULL else .rna_input(x, rna)
        .run_seqatac(.epifoundation_worker, input = input, args = args)
    })
}

#' @rdname runEpiFoundation
#' @export
setMethod("runEpiFoundation", "SummarizedExperiment", .epifoundation_method)

#' @rdname runEpiFoundation
#' @export
setMethod("runEpiFoundation", "ANY", .epifoundation_method)

# Paired RNA counts (genes x cells) of the same cells as the peaks: an altExp or a Seurat assay.
.rna_input <- function(x, rna) {
    if (!is.character(rna) || length(rna) != 1L) {
        stop("rna must name the altExp (SingleCellExperiment) or assay (Seurat) holding the paired RNA.",
             call. = FALSE)
    }
    if (.is_seurat(x)) {
        counts <- SeuratObject::GetAssayData(x, slot = "counts", assay = .seurat_assay(x, rna))
    } else {
        if (!rna %in% SingleCellExperiment::altExpNames(x)) {
            stop("x has no altExp '", rna, "' (it has: ",
                 paste(SingleCellExperiment::altExpNames(x), collapse = ", "),
                 "); store the paired RNA counts with altExp(x, \"", rna, "\") <- rna_sce.", call. = FALSE)
        }
        counts <- SummarizedExperiment::assay(SingleCellExperiment::altExp(x, rna), "counts")
    }
    counts <- .as_dgc(counts)
    .check_counts(counts, paste0("the paired RNA '", rna, "'"))
    if (is.null(rownames(counts))) stop("the paired RNA has no gene names.", call. = FALSE)
    list(payload = .sparse_payload(counts), genes = rownames(counts))
}

.epifoundation_worker <- function(input, args) {
    models <- reticulate::import("seqatac.models", convert = FALSE)
    anndata <- reticulate::import("anndata", convert = FALSE)
    pd <- reticulate::import("pandas", convert = FALSE)
    adata <- .anndata_from_r(input$payload, input$ranges, input$cells, input$obs_columns)
    rna <- NULL
    if (!is.null(input$rna)) {
        genes <- pd$DataFrame(index = pd$Index(array(input$rna$genes), dtype = "object"))
        rna <- anndata$AnnData(X = .csr_to_python(input$rna$payload),
                               obs = pd$DataFrame(index = adata$obs_names), var = genes)
    }
    models$EpiFoundation$setup_anndata(adata, labels_key = args$labels)
    model <- do.call(models$EpiFoundation,
                     c(list(adata, rna, preset = args$preset, random_state = args$seed), args$options))
    if (args$pretrain_epochs > 0L) {
        do.call(model$pretrain, c(list(max_epochs = args$pretrain_epochs), args$training))
    }
    if (args$expression_epochs > 0L) {
        do.call(model$fit, c(list(mode = "expression", max_epochs = args$expression_epochs), args$training))
    }
    result <- list(cell_data = list())
    if (args$annotate_epochs > 0L) {
        do.call(model$fit, c(list(mode = "annotate", max_epochs = args$annotate_epochs), args$training))
        probabilities <- model$predict_cell_type_probabilities(device = args$training$device,
                                                                verbose = args$training$verbose)
        result$cell_data <- .cell_type_columns(reticulate::py_to_r(probabilities$to_numpy(dtype = "float64")),
                                               .py_strings(probabilities$columns), args$name, all = FALSE)$cell_data
    }
    result$embedding <- reticulate::py_to_r(model$get_latent_representation(
        device = args$training$device, verbose = args$training$verbose))
    model$save(args$dir)
    result$metadata <- list(model_dir = args$dir, params = reticulate::py_to_r(model$params),
                            trained = .py_strings(model$trained))
    result
}

# Epochs of an optional stage that needs paired RNA: 0 (skip) or a positive integer with `rna`.
.check_stage_epochs <- function(epochs, what, rna) {
    if (identical(as.numeric(epochs), 0)) {
        return(0L)
    }
    epochs <- .check_count(epochs, what)
    if (is.null(rna)) {
        stop(what, " > 0 needs the paired RNA: pass rna = the altExp (or Seurat assay) of the RNA counts.",
             call. = FALSE)
    }
    epochs
}
