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
#' @param preset Architecture preset: `"small"` (CPU), `"tiny"` (tests) or `"reference"` (the paper's;
#'   GPU work).
#' @param ... Named architecture overrides passed to the Python `EpiFoundation` constructor: `d_model`,
#'   `n_layers`, `n_heads`, `d_ff`, `dropout`, `max_len`, `max_genes`, `query_dim`, `decoder`,
#'   `n_expression_bins`, `use_chromosomes`, and `min_mapped_fraction`. Any other name is an error
#'   listing these.
#' @param pretrain_epochs,annotate_epochs Epochs of peak-to-gene pre-training (needs `rna`) and of
#'   cell-type fine-tuning (needs `labels`; at most, annotation stops early). Without `rna`, annotation
#'   trains from scratch: the peak embedding starts from the LSI loadings of all cells (unlabelled query
#'   cells in the same object included: LSI reads no labels) and 10 % of the labelled cells are held in
#'   to stop early and keep the best epoch.
#' @param expression_epochs Epochs of expression-level fine-tuning (needs `rna`; 0 skips it), which
#'   [predictExpression()] needs. The stages run in the order pre-training, expression, annotation,
#'   each fine-tuning all weights of the one model; for separately fine-tuned models call
#'   `runEpiFoundation()` once per task with different `name` and `dir`.
#' @param lr Adam learning rate of all stages; `NULL` (default): each stage's engine default (for
#'   pre-training and expression 3e-3 with the `"small"` and `"tiny"` presets, 1e-4 with `"reference"`;
#'   1e-3 for annotation).
#' @param training Named list of further training options for all stages: `min_lr`,
#'   `warmup_fraction`, `max_tokens`, `max_cells`, `grad_accumulation`, `grad_clip`, `precision`,
#'   `n_threads`, `max_len` (peaks sampled per cell and step), `validation_fraction`, `patience`,
#'   `encoder_lr_scale`, `head_warmup_epochs` (epochs in which only the task's head learns), and for
#'   annotation only `class_weight` (`"balanced"` or `NULL`) and
#'   `label_smoothing`. Options not given take the engine's defaults of each stage (for annotation:
#'   `max_len = 512`, `validation_fraction = 0.1`, `patience = 5`, `class_weight = "balanced"`,
#'   `label_smoothing = 0.1`, `head_warmup_epochs = 5` from an LSI start, else 0).
#'
#' @return `x` with, for SingleCellExperiment, `reducedDim(x, name)` (cells x `d_model`), colData
#'   `<name>_cell_type` (a factor whose levels are the trained cell types) and `<name>_confidence`
#'   (with `labels`; see [annotateCellTypes()] to annotate other cells with the saved model) and
#'   `metadata(x)$seqATAC[[name]]` (`model_dir`, `architecture`, `params`: the engine's record of the
#'   preset and of each stage's training options, `trained`: the stages run, `seed`); for Seurat, a
#'   `DimReduc` `x[[name]]` with key `epifoundation_`, the same meta.data columns and
#'   `x@misc$seqATAC[[name]]`.
#' @examples
#' if (hasSeqatacBackend()) {
#'     sce <- seqatacExample()
#'     sce <- runEpiFoundation(sce, rna = "RNA", labels = "cell_type", preset = "tiny",
#'                             pretrain_epochs = 1, annotate_epochs = 1, device = "cpu",
#'                             dir = file.path(tempdir(), "epifoundation-example"))
#'     table(sce$EpiFoundation_cell_type, sce$cell_type)
#' }
#' @name runEpiFoundation
NULL

.EPIFOUNDATION_ARGUMENTS <- c("rna", "labels", "assay", "assay.type", "preset", "pretrain_epochs",
                              "annotate_epochs", "expression_epochs", "lr", "device", "training", "dir", "seed",
                              "verbose", "name")

.epifoundation_method <- function(x, rna = NULL, labels = NULL, ..., assay = NULL, assay.type = NULL,
                                  preset = c("small", "tiny", "reference"), pretrain_epochs = 10L,
                                  annotate_epochs = 30L, expression_epochs = 0L, lr = NULL,
                                  device = c("auto", "cpu", "cuda"), training = list(), dir = NULL, seed = 0L,
                                  verbose = NULL, name = "EpiFoundation") {
    .check_input_class(x, "runEpiFoundation")
    options <- .check_options(list(...), "EpiFoundation", "runEpiFoundation", arguments = .EPIFOUNDATION_ARGUMENTS)
    if (is.null(rna) && is.null(labels)) {
        stop("EpiFoundation needs paired RNA (rna = ) for pre-training and/or cell-type labels ",
             "(labels = ) for fine-tuning; pass at least one.", call. = FALSE)
    }
    if (!is.null(lr) && (!is.numeric(lr) || length(lr) != 1L || !isTRUE(lr > 0))) {
        stop("lr must be one positive number, or NULL for each stage's default.", call. = FALSE)
    }
    name <- .check_name(name, "name")
    verbose <- .verbose(verbose)
    args <- list(
        labels = labels, preset = match.arg(preset), options = options,
        pretrain_epochs = if (is.null(rna)) 0L else .check_count(pretrain_epochs, "pretrain_epochs"),
        annotate_epochs = if (is.null(labels)) 0L else .check_count(annotate_epochs, "annotate_epochs"),
        expression_epochs = .check_stage_epochs(expression_epochs, "expression_epochs", rna),
        training = c(if (!is.null(lr)) list(lr = lr), list(device = match.arg(device), verbose = verbose),
                     .check_options(training, "EpiFoundation_training", "runEpiFoundation", what = "training")),
        seed = .check_seed(seed), name = name
    )
    assay <- .assay_name(assay, assay.type)
    rna_input <- if (is.null(rna) || .is_seurat(x) || !methods::is(x, "SummarizedExperiment")) NULL else
        .rna_input(methods::as(x, "SingleCellExperiment"), rna)  # checked before any directory is made
    args$dir <- .model_dir(dir, name)
    .run_model(x, assay, labels, name, key = "epifoundation_", verb = "runEpiFoundation",
               calculate = function(input, x) {
        input$rna <- if (is.null(rna)) NULL else if (is.null(rna_input)) .rna_input(x, rna) else rna_input
        .run_seqatac(.epifoundation_worker, input = input, args = args, verbose = verbose)
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
    dataclasses <- reticulate::import("dataclasses", convert = FALSE)
    result$metadata <- list(model_dir = args$dir,
                            architecture = reticulate::py_to_r(dataclasses$asdict(model$config)),
                            params = reticulate::py_to_r(model$params),
                            trained = .py_strings(model$trained), seed = args$seed)
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
