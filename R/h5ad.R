#' Read and write h5ad files through the seqatac engine
#'
#' `readSeqatacH5AD()` reads an AnnData `.h5ad` file (such as the Python engine writes) into a
#' SingleCellExperiment; `writeSeqatacH5AD()` writes a SingleCellExperiment (or SummarizedExperiment)
#' to one. Both run in the engine's Python (anndata, through the backend of [seqatacBackend()]), so
#' they need no other R package. Where things go:
#'
#' | AnnData | SingleCellExperiment |
#' |---|---|
#' | `X` and `layers` | assays (`X` named by `assay` / `X_name`); sparse stays sparse (`dgCMatrix`) |
#' | `obs`, `var` | `colData`, `rowData` (categoricals as factors) |
#' | `var` columns `chrom`/`start`/`end` (0-based, half-open) or names like `chr1:100-200` | `rowRanges` (1-based, closed) |
#' | `obsm["X_scbasset"]`, `X_cellspace`, `X_epifoundation`, `X_lsi`, `X_pca`, `X_umap` (other `X_<name>`) | `reducedDim(x, "scBasset")`, `"CellSpace"`, `"EpiFoundation"`, `"LSI"`, `"PCA"`, `"UMAP"` (`"<name>"`) |
#' | `obsm["scbasset_tf"]`, `cellspace_tf`, `chromvar` (+ `chromvar_deviations`), other data-frame obsm | `altExp(x, "scBassetTF")`, `"CellSpaceTF"`, `"chromVARTF"` (assays `activity`, `deviations`), `altExp(x, "<key>")`; rowData `motif_id`, `motif_name` where the engine recorded them |
#' | `uns` | `metadata(x)` |
#'
#' Writing follows the same table backwards and records the altExp layout in `uns["seqatac_r"]`, so
#' that a written file reads back into the same object. Every altExp assay is written densely (cells x
#' rows) as an obsm data frame; `metadata()` entries an h5ad cannot hold (S4 objects, functions) are
#' left out with a warning.
#'
#' @param file Path of the `.h5ad` file. `writeSeqatacH5AD()` writes it atomically (no partial file on
#'   failure) and replaces an existing file.
#' @param assay Name of the assay that `X` becomes (layers keep their names).
#' @param x A SingleCellExperiment or SummarizedExperiment with column names.
#' @param X_name The assay written as `X` (the others become layers); `NULL` writes every assay as a layer.
#' @param verbose Show the engine's output; `NULL` follows [setSeqATACVerbose()].
#'
#' @return `readSeqatacH5AD()`: a SingleCellExperiment. `writeSeqatacH5AD()`: `file`, invisibly.
#' @seealso [seqatacExample()], which reads the h5ad files shipped in `inst/extdata`.
#' @examples
#' if (hasSeqatacBackend()) {
#'     file <- system.file("extdata", "tiny_atac.h5ad", package = "seqATAC")
#'     sce <- readSeqatacH5AD(file)
#'     sce
#'     out <- tempfile(fileext = ".h5ad")
#'     writeSeqatacH5AD(sce, out)
#'     identical(dim(readSeqatacH5AD(out)), dim(sce))
#' }
#' @name seqatacH5AD
NULL

#' @rdname seqatacH5AD
#' @export
readSeqatacH5AD <- function(file, assay = "counts", verbose = NULL) {
    if (!is.character(file) || length(file) != 1L || is.na(file) || !file.exists(file)) {
        stop("file must be the path of an existing .h5ad file.", call. = FALSE)
    }
    assay <- .check_name(assay, "assay")
    parts <- .run_seqatac(.read_h5ad_worker, file = normalizePath(file), assay = assay, verbose = .verbose(verbose))
    .sce_from_parts(parts)
}

#' @rdname seqatacH5AD
#' @export
writeSeqatacH5AD <- function(x, file, X_name = "counts", verbose = NULL) {
    if (!methods::is(x, "SummarizedExperiment")) {
        stop("writeSeqatacH5AD() takes a SingleCellExperiment or SummarizedExperiment, not a ", class(x)[[1]], ".",
             call. = FALSE)
    }
    x <- methods::as(x, "SingleCellExperiment")
    if (is.null(colnames(x))) stop("x has no column (cell) names; set colnames(x) first.", call. = FALSE)
    if (!is.null(X_name)) X_name <- .check_name(X_name, "X_name")
    file <- .output_file(file)
    parts <- .parts_from_sce(x, X_name)
    .run_seqatac(.write_h5ad_worker, parts = parts, file = file, verbose = .verbose(verbose))
    invisible(file)
}

.read_h5ad_worker <- function(file, assay) {
    bridge <- reticulate::import("seqatac.r", convert = FALSE)
    reticulate::py_to_r(bridge$read_h5ad_parts(file, x_name = assay))
}

.write_h5ad_worker <- function(parts, file) {
    bridge <- reticulate::import("seqatac.r", convert = FALSE)
    bridge$write_h5ad_parts(parts, file)
    invisible(NULL)
}

# ------------------------------------------------------------------------------- parts -> SCE

.sce_from_parts <- function(parts) {
    cells <- .as_strings(parts$obs_names)
    features <- .as_strings(parts$var_names)
    assays <- lapply(parts$assays, function(part) {
        m <- .matrix_from_part(part)
        dimnames(m) <- list(features, cells)
        m
    })
    col_data <- .frame_from_parts(parts$obs, cells)
    row_data <- .frame_from_parts(parts$var, features)
    sce <- SingleCellExperiment::SingleCellExperiment(assays = assays, colData = col_data)
    if (!is.null(parts$ranges)) {
        ranges <- GenomicRanges::GRanges(.as_strings(parts$ranges$chrom),
                                         IRanges::IRanges(as.vector(parts$ranges$start) + 1, as.vector(parts$ranges$end)))
        names(ranges) <- features
        S4Vectors::mcols(ranges) <- row_data
        SummarizedExperiment::rowRanges(sce) <- ranges
    } else {
        SummarizedExperiment::rowData(sce) <- row_data
    }
    rownames(sce) <- features
    for (name in names(parts$reduced_dims)) {
        embedding <- as.matrix(parts$reduced_dims[[name]])
        columns <- .as_strings(parts$reduced_dim_columns[[name]])
        # as the run*() functions name them, unless the file recorded other names
        if (length(columns) != ncol(embedding)) columns <- paste0(name, "_", seq_len(ncol(embedding)))
        dimnames(embedding) <- list(cells, columns)
        SingleCellExperiment::reducedDim(sce, name) <- embedding
    }
    for (name in names(parts$alt_exps)) {
        entry <- parts$alt_exps[[name]]
        rows <- .as_strings(entry$row_names)
        alt_assays <- lapply(entry$assays, function(m) {
            m <- as.matrix(m)
            dimnames(m) <- list(rows, cells)
            m
        })
        SingleCellExperiment::altExp(sce, name) <- SummarizedExperiment::SummarizedExperiment(
            assays = alt_assays, rowData = .frame_from_parts(entry$row_data, rows))
    }
    if (length(parts$metadata)) S4Vectors::metadata(sce) <- parts$metadata
    sce
}

.as_strings <- function(values) {
    if (is.null(values)) character(0) else as.character(unlist(values, use.names = FALSE))
}

.matrix_from_part <- function(part) {
    shape <- as.integer(unlist(part$shape))
    if (isTRUE(part$sparse)) {
        return(Matrix::sparseMatrix(i = as.integer(part$indices), p = as.integer(part$indptr),
                                    x = as.numeric(part$data), dims = rev(shape), index1 = FALSE))
    }
    values <- as.matrix(part$values)
    dim(values) <- rev(shape)
    values
}

.frame_from_parts <- function(columns, row_names) {
    frame <- S4Vectors::DataFrame(row.names = row_names)
    for (name in names(columns)) frame[[name]] <- .column_from_part(columns[[name]])
    frame
}

.column_from_part <- function(part) {
    missing <- if (is.null(part$missing)) NULL else as.logical(as.vector(part$missing))
    values <- switch(part$type,
        factor = {
            codes <- as.integer(as.vector(part$codes))
            codes[codes < 0L] <- NA_integer_
            levels <- .as_strings(part$levels)
            factor(levels[codes + 1L], levels = levels)
        },
        logical = as.logical(as.vector(part$values)),
        integer = as.integer(as.vector(part$values)),
        numeric = as.numeric(as.vector(part$values)),
        .as_strings(part$values)
    )
    if (!is.null(missing) && any(missing)) values[missing] <- NA
    values
}

# ------------------------------------------------------------------------------- SCE -> parts

.parts_from_sce <- function(x, X_name) {
    cells <- colnames(x)
    features <- if (is.null(rownames(x))) paste0("feature", seq_len(nrow(x))) else rownames(x)
    assays <- list()
    for (name in SummarizedExperiment::assayNames(x)) {
        assays[[name]] <- .matrix_part(SummarizedExperiment::assay(x, name, withDimnames = FALSE))
    }
    if (!is.null(X_name) && length(assays) && !X_name %in% names(assays)) {
        stop("x has no assay '", X_name, "' to write as X (it has: ", paste(names(assays), collapse = ", "),
             "); pass X_name = one of them, or NULL.", call. = FALSE)
    }
    granges <- SummarizedExperiment::rowRanges(x)
    ranges <- NULL
    if (methods::is(granges, "GRanges") && length(granges) == nrow(x)) {
        ranges <- list(chrom = array(as.character(GenomicRanges::seqnames(granges))),
                       start = array(as.numeric(BiocGenerics::start(granges)) - 1),
                       end = array(as.numeric(BiocGenerics::end(granges))))
    }
    reduced <- lapply(SingleCellExperiment::reducedDims(x), function(m) {
        m <- as.matrix(m)
        storage.mode(m) <- "double"
        unname(m)
    })
    reduced_columns <- lapply(SingleCellExperiment::reducedDims(x), function(m) {
        if (is.null(colnames(m))) NULL else array(colnames(m))
    })
    alt <- list()
    for (name in SingleCellExperiment::altExpNames(x)) {
        experiment <- SingleCellExperiment::altExp(x, name)
        rows <- if (is.null(rownames(experiment))) paste0("row", seq_len(nrow(experiment))) else rownames(experiment)
        alt[[name]] <- list(
            assays = lapply(stats::setNames(nm = SummarizedExperiment::assayNames(experiment)), function(a) {
                m <- as.matrix(SummarizedExperiment::assay(experiment, a, withDimnames = FALSE))
                storage.mode(m) <- "double"
                t(unname(m))
            }),
            row_names = array(rows),
            row_data = .frame_parts(SummarizedExperiment::rowData(experiment), paste0("altExp '", name, "' rowData"))
        )
    }
    list(obs_names = array(cells), var_names = array(features), x = X_name, assays = assays,
         obs = .frame_parts(SummarizedExperiment::colData(x), "colData"),
         var = .frame_parts(SummarizedExperiment::rowData(x), "rowData"),
         ranges = ranges, reduced_dims = reduced, reduced_dim_columns = reduced_columns, alt_exps = alt,
         metadata = .plain_metadata(S4Vectors::metadata(x), "metadata(x)"))
}

.matrix_part <- function(m) {
    if (is.matrix(m)) {
        storage.mode(m) <- "double"
        return(list(sparse = FALSE, values = t(unname(m)), shape = array(rev(dim(m)))))
    }
    m <- .as_dgc(m)
    list(sparse = TRUE, data = array(m@x), indices = array(m@i), indptr = array(m@p), shape = array(rev(dim(m))))
}

.frame_parts <- function(frame, what) {
    parts <- list()
    skipped <- character(0)
    for (name in colnames(frame)) {
        part <- .column_part(frame[[name]])
        if (is.null(part)) skipped <- c(skipped, name) else parts[[name]] <- part
    }
    if (length(skipped)) {
        warning(what, " column(s) that are not vectors were not written: ", paste(skipped, collapse = ", "), ".",
                call. = FALSE)
    }
    parts
}

.column_part <- function(values) {
    if (is.factor(values)) {
        codes <- as.integer(values) - 1L
        codes[is.na(codes)] <- -1L
        return(list(type = "factor", codes = array(codes), levels = array(as.character(levels(values)))))
    }
    if (!is.atomic(values) || !is.null(dim(values))) {
        return(NULL)
    }
    missing <- array(is.na(values))
    if (is.logical(values)) {
        return(list(type = "logical", values = array(values & !is.na(values)), missing = missing))
    }
    if (is.integer(values)) {
        values[is.na(values)] <- 0L
        return(list(type = "integer", values = array(as.numeric(values)), missing = missing))
    }
    if (is.numeric(values)) {
        return(list(type = "numeric", values = array(as.numeric(values))))
    }
    values <- as.character(values)
    values[is.na(values)] <- ""
    list(type = "character", values = array(values), missing = missing)
}

# metadata() as plain lists of vectors, matrices and data frames (what an h5ad's uns holds); the rest is
# dropped with a warning naming it.
.plain_metadata <- function(metadata, what) {
    dropped <- character(0)
    clean <- function(value, path) {
        if (is.null(value)) {
            return(NULL)
        }
        if (is.data.frame(value) || methods::is(value, "DataFrame")) {
            frame <- as.data.frame(value, optional = TRUE)
            keep <- vapply(frame, function(column) is.atomic(column) || is.factor(column), TRUE)
            return(frame[, keep, drop = FALSE])
        }
        if (is.list(value) && !methods::isVirtualClass(class(value)[[1]]) && is.null(attr(value, "class"))) {
            names <- names(value)
            if (is.null(names)) names <- as.character(seq_along(value) - 1L)
            out <- list()
            for (k in seq_along(value)) {
                item <- clean(value[[k]], paste0(path, "$", names[[k]]))
                if (!is.null(item)) out[[names[[k]]]] <- item
            }
            return(out)
        }
        if (is.factor(value)) {
            return(array(as.character(value)))
        }
        if (is.atomic(value) && !is.null(dim(value))) {
            return(value)
        }
        if (is.atomic(value)) {
            return(if (length(value) == 1L) value else array(value))
        }
        dropped <<- c(dropped, path)
        NULL
    }
    result <- clean(metadata, what)
    if (length(dropped)) {
        warning("metadata entries an h5ad cannot hold were not written: ", paste(dropped, collapse = ", "), ".",
                call. = FALSE)
    }
    if (is.null(result)) list() else result
}
