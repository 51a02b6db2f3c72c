#' Load a saved seqatac model
#'
#' Reads a model directory written by [runScBasset()], [runCellSpace()] or [runEpiFoundation()] (their
#' `dir`, recorded as `metadata(x)$seqATAC[[name]]$model_dir`) or by the Python engine's `save()`,
#' checks that the engine can load it and summarises it. The result can be passed as `model =` to
#' [denoiseAccessibility()], [annotateCellTypes()] and [predictExpression()].
#'
#' @param path Directory of the saved model (it holds `config.json` and the weights).
#'
#' @return A `seqatacModel`: a list with `path` (normalised), `model` (`"scBasset"`, `"CellSpace"` or
#'   `"EpiFoundation"`), `params` (the engine's record of how it was built and trained) and, by model:
#'   * scBasset: `cells` (the training cells, in order), `n_peaks`, `genome` (the FASTA recorded at
#'     save time; `NA` when that file no longer exists), `batches`, `epochs`;
#'   * CellSpace: `cells`, `epochs`;
#'   * EpiFoundation: `n_peaks` (its peak vocabulary; new cells are mapped onto it), `genes` (`NULL`
#'     without paired RNA), `cell_types`, `trained` (the stages run: `"pretrain"`, `"expression"`,
#'     `"annotate"`).
#'
#'   It holds no Python object (basilisk may run Python in another process): the functions that take
#'   `model =` load the weights again from `path`.
#' @examples
#' if (hasSeqatacBackend()) {
#'     sce <- seqatacExample()
#'     sce <- runCellSpace(sce, epochs = 1, bucket = 4096, examples_per_event = 4, deterministic = TRUE,
#'                         dir = file.path(tempdir(), "cellspace-load-example"))
#'     loadSeqatacModel(S4Vectors::metadata(sce)$seqATAC$CellSpace$model_dir)
#' }
#' @export
loadSeqatacModel <- function(path) {
    path <- .check_model_path(path)
    info <- .run_seqatac(.model_info_worker, path = path)
    structure(c(list(path = path), info), class = "seqatacModel")
}

#' @export
print.seqatacModel <- function(x, ...) {
    cat("seqATAC ", x$model, " model saved in ", x$path, "\n", sep = "")
    if (!is.null(x$cells)) cat("  cells:", length(x$cells), "\n")
    if (!is.null(x$n_peaks)) cat("  peaks:", x$n_peaks, "\n")
    if (!is.null(x$epochs)) cat("  epochs trained:", x$epochs, "\n")
    if (!is.null(x$genome)) cat("  genome:", x$genome, "\n")
    if (!is.null(x$trained)) cat("  trained:", paste(x$trained, collapse = ", "), "\n")
    if (length(x$cell_types)) cat("  cell types:", paste(x$cell_types, collapse = ", "), "\n")
    if (!is.null(x$genes)) cat("  genes:", length(x$genes), "\n")
    invisible(x)
}

.check_model_path <- function(path) {
    if (!is.character(path) || length(path) != 1L || is.na(path)) {
        stop("model must be the directory of a saved seqatac model (one path) or what loadSeqatacModel() ",
             "returns.", call. = FALSE)
    }
    if (!file.exists(file.path(path, "config.json"))) {
        stop("'", path, "' holds no saved seqatac model (no config.json there); pass the directory a ",
             "run*() function saved the model to (metadata(x)$seqATAC[[name]]$model_dir).", call. = FALSE)
    }
    normalizePath(path)
}

# The directory of the model a verb uses: `model` (a path or a seqatacModel) or, when it is NULL, the
# model run<from>() recorded in x's metadata.
.model_path <- function(x, model, from, verb) {
    if (inherits(model, "seqatacModel")) {
        return(.check_model_path(model$path))
    }
    if (is.null(model)) {
        meta <- if (.is_seurat(x)) x@misc$seqATAC else S4Vectors::metadata(x)$seqATAC
        model <- meta[[from]]$model_dir
        if (is.null(model)) {
            where <- if (.is_seurat(x)) "x@misc" else "metadata(x)"
            stop(verb, "() found no model recorded in ", where, "$seqATAC$", from, "; train one on x first ",
                 "(e.g. run", from, "(x)) or pass model = the directory of a saved model ",
                 "(or loadSeqatacModel(dir)).", call. = FALSE)
        }
    }
    .check_model_path(model)
}

# The engine's model names, by the `model` field of config.json.
.MODEL_KINDS <- c(scbasset = "scBasset", cellspace = "CellSpace", epifoundation = "EpiFoundation")

# Inside a worker: list(kind, model, config) for the model saved at `path`, which must be a `kind`
# model (for `verb`) unless `kind` is NULL; scBasset reads peak sequences from `genome`, by default
# the FASTA recorded in the model.
.load_python_model <- function(path, kind = NULL, verb = NULL, genome = NULL) {
    json <- reticulate::import("json", convert = FALSE)
    models <- reticulate::import("seqatac.models", convert = FALSE)
    config <- json$loads(paste(readLines(file.path(path, "config.json"), warn = FALSE), collapse = "\n"))
    field <- tolower(as.character(reticulate::py_to_r(config$get("model", ""))))
    if (!field %in% names(.MODEL_KINDS)) {
        stop("'", path, "' holds a model of unknown type '", field, "'; seqATAC loads scBasset, CellSpace and ",
             "EpiFoundation models.", call. = FALSE)
    }
    found <- .MODEL_KINDS[[field]]
    if (!is.null(kind) && !identical(found, kind)) {
        stop(verb, "() needs a model of type ", kind, ", but '", path, "' holds one of type ", found, "; pass ",
             "model = the directory of a saved ", kind, " model.", call. = FALSE)
    }
    model <- switch(found,
        scBasset = models$ScBasset$load(path, genome = genome),
        CellSpace = models$CellSpace$load(path),
        EpiFoundation = models$EpiFoundation$load(path)
    )
    list(kind = found, model = model, config = config)
}

.model_info_worker <- function(path) {
    loaded <- .load_python_model(path)
    model <- loaded$model
    builtins <- reticulate::import_builtins(convert = FALSE)
    size <- function(value) as.integer(reticulate::py_to_r(builtins$len(value)))
    info <- list(model = loaded$kind)
    if (identical(loaded$kind, "scBasset")) {
        genome <- reticulate::py_to_r(loaded$config$get("genome_fasta"))
        info <- c(info, list(
            params = reticulate::py_to_r(model$params), cells = .py_strings(model$cell_names),
            n_peaks = size(model$regions),
            genome = if (!is.null(genome) && file.exists(genome)) genome else NA_character_,
            batches = .py_strings(model$batch_names), epochs = size(model$history)
        ))
    } else if (identical(loaded$kind, "CellSpace")) {
        dataclasses <- reticulate::import("dataclasses", convert = FALSE)
        info <- c(info, list(
            params = reticulate::py_to_r(dataclasses$asdict(model$config)),
            cells = .py_strings(model$cell_names), epochs = reticulate::py_to_r(model$epochs_done)
        ))
    } else {
        has_genes <- !is.null(reticulate::py_to_r(model$genes))
        info <- c(info, list(
            params = reticulate::py_to_r(model$params), n_peaks = size(model$vocabulary),
            genes = if (has_genes) .py_strings(model$gene_names) else NULL,
            cell_types = .py_strings(model$cell_types), trained = .py_strings(model$trained)
        ))
    }
    info
}

# Inside a worker: "auto" as the device torch would pick here.
.torch_device <- function(device) {
    if (!identical(device, "auto")) {
        return(device)
    }
    torch <- reticulate::import("torch", convert = FALSE)
    if (reticulate::py_to_r(torch$cuda$is_available())) "cuda" else "cpu"
}
