#' Denoised accessibility from a trained scBasset model
#'
#' Predicts every cell's depth-normalised accessibility of the chosen peaks from their DNA sequence with
#' a trained scBasset model (`seqatac.tl.denoise`): `sigmoid(peak embedding . cell embedding)`, the
#' model's prediction without the per-cell intercept (sequencing depth). The peaks are read from `x`
#' (rowRanges / feature names) and need not be the peaks the model was trained on; the cells must be
#' the model's cells, in the same order.
#'
#' @details
#' Denoised values are dense: every chosen peak gets a value in every cell. Only the chosen peaks are
#' computed and brought into R, and only they are stored: for a SingleCellExperiment as
#' `altExp(x, name)`, a SingleCellExperiment of the chosen peaks (their `rowRanges`) x all cells, so a
#' peak that was not denoised has no value rather than a 0 that would look like a denoised one. Choose
#' the peaks of interest (marker peaks, a region) with `peaks =` on large data: the values take 8 bytes
#' each in R. For all peaks of a large data set pass `file =`: the engine streams the values, peak chunk
#' by peak chunk, into an HDF5 file (dataset `denoised`, cells x peaks, with `obs_names` and
#' `var_names`) and nothing dense enters R.
#'
#' @param x A SingleCellExperiment, SummarizedExperiment (returned as a SingleCellExperiment) or Seurat
#'   object with the cells the model was trained on and peaks with coordinates (see [tfActivity()]).
#' @param peaks The peaks to denoise: row names (Seurat: feature names), row indices or a logical
#'   vector over the rows of `x`; `NULL` for all peaks.
#' @param model The scBasset model: its directory, or what [loadSeqatacModel()] returns. `NULL` takes
#'   the model [runScBasset()] recorded in `x` under the name `from`.
#' @param genome Genome FASTA of the peaks; `NULL` for the FASTA recorded with the model.
#' @param file Path of an HDF5 file to stream the values into instead of storing them in `x` (written
#'   atomically; replaced if it exists).
#' @param assay Seurat only: the peaks assay (`NULL`, the active one).
#' @param batch_size Peak sequences per forward pass.
#' @param chunk_size Peak sequences encoded at a time.
#' @param device `"auto"` (CUDA when available), `"cpu"` or `"cuda"`.
#' @param from Name under which [runScBasset()] stored the model in `x` (used when `model = NULL`).
#' @param name Name of the result.
#' @param verbose Show a progress bar; `NULL` follows [setSeqATACVerbose()].
#' @param ... Passed on to the methods.
#'
#' @return `x` with, for SingleCellExperiment, `altExp(x, name)`: a SingleCellExperiment of the chosen
#'   peaks (rows, with their `rowRanges`, in the order of `x`) x the cells, assay `denoised`, and
#'   `metadata()$seqATAC` (`model_dir`, `peaks`: the names of the chosen peaks); the same record is in
#'   `metadata(x)$seqATAC[[name]]` (with `file`). For Seurat, a new `Assay` `x[[name]]` of the chosen
#'   peaks with the values as `data`, and `x@misc$seqATAC[[name]]`. With `file`, the values go only to
#'   the file and `x` gets the metadata.
#' @seealso [runScBasset()], [loadSeqatacModel()].
#' @examples
#' if (hasSeqatacBackend()) {
#'     sce <- seqatacExample()
#'     sce <- runScBasset(sce, epochs = 1, seq_len = 200, n_filters_init = 8, n_tower_layers = 1,
#'                        n_filters_pre_bottleneck = 8, bottleneck_size = 4, device = "cpu",
#'                        dir = file.path(tempdir(), "scbasset-denoise-example"))
#'     sce <- denoiseAccessibility(sce, peaks = 1:20)
#'     denoised <- SingleCellExperiment::altExp(sce, "denoised")
#'     SummarizedExperiment::assay(denoised, "denoised")[1:3, 1:3]
#' }
#' @name denoiseAccessibility
NULL

.denoise_method <- function(x, peaks = NULL, model = NULL, genome = NULL, file = NULL, assay = NULL,
                            batch_size = 128L, chunk_size = 4096L, device = c("auto", "cpu", "cuda"),
                            from = "scBasset", name = "denoised", verbose = NULL) {
    .check_input_class(x, "denoiseAccessibility")
    if (.is_seurat(x)) {
        .require_seurat()
        assay <- .seurat_assay(x, assay)
        features <- rownames(x[[assay]])
        ranges <- .peak_ranges_seurat(x, assay, features)
    } else {
        x <- methods::as(x, "SingleCellExperiment")
        ranges <- .peak_ranges_se(x)
    }
    rows <- .select_rows(peaks, ranges$name)
    if (is.null(file) && as.numeric(length(rows)) * ncol(x) > .Machine$integer.max) {
        stop("Denoising ", length(rows), " peaks x ", ncol(x), " cells gives more than 2^31 - 1 values to bring ",
             "into R; choose fewer peaks with peaks = , or stream them into an HDF5 file with file = .",
             call. = FALSE)
    }
    args <- list(
        model = .model_path(x, model, from, "denoiseAccessibility"),
        genome = if (is.null(genome)) NULL else .check_genome(genome),
        file = if (is.null(file)) NULL else .output_file(file),
        batch_size = .check_count(batch_size, "batch_size"), chunk_size = .check_count(chunk_size, "chunk_size"),
        device = match.arg(device), verbose = .verbose(verbose)
    )
    name <- .check_name(name, "name")
    input <- list(ranges = ranges[rows, , drop = FALSE], cells = .cell_names(colnames(x)))
    result <- .run_seqatac(.denoise_worker, input = input, args = args, verbose = args$verbose)
    metadata <- list(model_dir = args$model, peaks = ranges$name[rows], file = args$file)
    if (.is_seurat(x)) {
        if (is.null(args$file)) {
            dimnames(result$values) <- list(features[rows], colnames(x))
            x[[name]] <- SeuratObject::CreateAssayObject(data = result$values)
        }
        x@misc$seqATAC[[name]] <- metadata
        return(x)
    }
    if (is.null(args$file)) {
        values <- result$values
        dimnames(values) <- list(ranges$name[rows], colnames(x))
        granges <- SummarizedExperiment::rowRanges(x)
        granges <- if (methods::is(granges, "GRanges")) granges[rows] else .granges_from_ranges(input$ranges)
        names(granges) <- ranges$name[rows]
        # a SingleCellExperiment, because altExp() keeps rowRanges only for those
        SingleCellExperiment::altExp(x, name) <- SingleCellExperiment::SingleCellExperiment(
            assays = list(denoised = values), rowRanges = granges,
            metadata = list(seqATAC = metadata[c("model_dir", "peaks")]))
    }
    meta <- S4Vectors::metadata(x)
    meta$seqATAC[[name]] <- metadata
    S4Vectors::metadata(x) <- meta
    x
}

#' @rdname denoiseAccessibility
#' @export
setMethod("denoiseAccessibility", "SummarizedExperiment", .denoise_method)

#' @rdname denoiseAccessibility
#' @export
setMethod("denoiseAccessibility", "ANY", .denoise_method)

# Row indices (sorted, unique) of the peaks chosen by NULL (all), names, indices or a logical vector.
.select_rows <- function(peaks, names) {
    n <- length(names)
    if (is.null(peaks)) {
        return(seq_len(n))
    }
    if (is.logical(peaks)) {
        if (length(peaks) != n || anyNA(peaks)) {
            stop("a logical peaks = needs one TRUE/FALSE per peak (", n, "), without NA.", call. = FALSE)
        }
        rows <- which(peaks)
    } else if (is.numeric(peaks)) {
        if (anyNA(peaks) || any(peaks != round(peaks)) || any(peaks < 1 | peaks > n)) {
            stop("peak indices must be whole numbers between 1 and ", n, ".", call. = FALSE)
        }
        rows <- as.integer(peaks)
    } else if (is.character(peaks)) {
        rows <- match(peaks, names)
        if (anyNA(rows)) {
            stop(sum(is.na(rows)), " peak(s) are not rows of x (e.g. '", peaks[is.na(rows)][[1]], "'); pass ",
                 "row names (Seurat: feature names, e.g. '", names[[1]], "'), indices or a logical vector.",
                 call. = FALSE)
        }
    } else {
        stop("peaks must be NULL (all), row names, row indices or a logical vector.", call. = FALSE)
    }
    if (length(rows) == 0L) stop("peaks = selects no peak; choose at least one.", call. = FALSE)
    sort(unique(rows))
}

# A file path to write (its directory must exist).
.output_file <- function(file) {
    if (!is.character(file) || length(file) != 1L || is.na(file)) stop("file must be one path.", call. = FALSE)
    directory <- dirname(file)
    if (!dir.exists(directory)) {
        stop("The directory of file = ('", directory, "') does not exist; create it first.", call. = FALSE)
    }
    file.path(normalizePath(directory), basename(file))
}

.denoise_worker <- function(input, args) {
    tl <- reticulate::import("seqatac.tl", convert = FALSE)
    loaded <- .load_python_model(args$model, "scBasset", "denoiseAccessibility", genome = args$genome)
    model <- loaded$model
    if (is.null(reticulate::py_to_r(model$genome))) {
        recorded <- reticulate::py_to_r(loaded$config$get("genome_fasta"))
        stop("The genome FASTA recorded with the scBasset model in '", args$model, "' ('", recorded, "') does ",
             "not exist any more; pass genome = the path of the FASTA the peaks were called on.", call. = FALSE)
    }
    cells <- .py_strings(model$cell_names)
    if (!identical(cells, input$cells)) {
        stop("x's ", length(input$cells), " cells are not the ", length(cells), " cells the scBasset model in '",
             args$model, "' was trained on, in the same order; denoise the object the model was trained on ",
             "(reorder or subset it with x[, model$cells], model <- loadSeqatacModel(dir)).", call. = FALSE)
    }
    # the chosen peaks, no counts: denoising reads only the coordinates and the cells
    shape <- c(length(input$cells), nrow(input$ranges))
    empty <- list(indices = integer(0), indptr = integer(shape[[1]] + 1L), data = numeric(0), shape = shape)
    adata <- .anndata_from_r(empty, input$ranges, input$cells)
    options <- list(chunk_size = args$chunk_size, batch_size = args$batch_size,
                    device = .torch_device(args$device), verbose = args$verbose)
    if (!is.null(args$file)) {
        do.call(tl$denoise, c(list(adata, model, file = args$file), options))
        return(list())
    }
    do.call(tl$denoise, c(list(adata, model, layer = "denoised"), options))
    # peaks x cells: the transposed view converts to R without reordering
    list(values = reticulate::py_to_r(reticulate::py_get_item(adata$layers, "denoised")$T))
}
