# Reading counts and peaks out of SingleCellExperiment / SummarizedExperiment / Seurat objects, and
# writing results back. Every verb goes through these, so all of them validate and store alike.

# Everything a worker needs to build the engine's AnnData, validated in R: a list with `payload`
# (sparse counts, see .sparse_payload()), `ranges` (peak coordinates) and `cells` (cell names).
.input_se <- function(x, assay) {
    if (!assay %in% SummarizedExperiment::assayNames(x)) {
        stop("x has no assay '", assay, "' (it has: ",
             paste(SummarizedExperiment::assayNames(x), collapse = ", "),
             "); pass assay = the name of the peak count assay (ArchR: \"PeakMatrix\").", call. = FALSE)
    }
    counts <- .as_dgc(SummarizedExperiment::assay(x, assay, withDimnames = FALSE))
    .check_counts(counts, paste0("assay '", assay, "'"))
    list(payload = .sparse_payload(counts), ranges = .peak_ranges_se(x), cells = .cell_names(colnames(x)))
}

.input_seurat <- function(x, assay) {
    .require_seurat()
    assay <- .seurat_assay(x, assay)
    counts <- .as_dgc(SeuratObject::GetAssayData(x, slot = "counts", assay = assay))
    ranges <- .peak_ranges_seurat(x, assay, rownames(counts))
    .check_counts(counts, paste0("the counts of Seurat assay '", assay, "'"))
    list(payload = .sparse_payload(counts), ranges = ranges, cells = .cell_names(colnames(counts)),
         assay = assay)
}

.cell_names <- function(names) {
    if (is.null(names)) stop("the cells have no names; set colnames(x) first.", call. = FALSE)
    names
}

.require_seurat <- function() {
    if (!requireNamespace("SeuratObject", quietly = TRUE)) {
        stop("Seurat objects need the SeuratObject package; install it.", call. = FALSE)
    }
}

.is_seurat <- function(x) inherits(x, "Seurat")

.seurat_assay <- function(x, assay) {
    if (is.null(assay)) {
        return(SeuratObject::DefaultAssay(x))
    }
    if (!assay %in% SeuratObject::Assays(x)) {
        stop("The Seurat object has no assay '", assay, "' (it has: ",
             paste(SeuratObject::Assays(x), collapse = ", "), "); pass the name of one of them.",
             call. = FALSE)
    }
    assay
}

.check_input_class <- function(x, verb) {
    if (!.is_seurat(x) && !methods::is(x, "SummarizedExperiment")) .unsupported(x, verb)
    invisible(TRUE)
}

.unsupported <- function(x, verb) {
    stop(verb, "() takes a SingleCellExperiment, a SummarizedExperiment (e.g. ArchR's ",
         "getMatrixFromProject()) or a Seurat object, not a ", class(x)[[1]], ".", call. = FALSE)
}

# A TF activity result (list of activity: motifs x cells, labels, motif_id, motif_name, optional other
# assays and metadata: how it was computed) as a SummarizedExperiment for altExp().
.tf_experiment <- function(tf, cells) {
    assays <- tf[intersect(c("activity", "deviations"), names(tf))]
    assays <- lapply(assays, function(m) {
        dimnames(m) <- list(tf$labels, cells)
        m
    })
    SummarizedExperiment::SummarizedExperiment(
        assays = assays,
        rowData = S4Vectors::DataFrame(motif_id = tf$motif_id, motif_name = tf$motif_name,
                                       row.names = tf$labels),
        metadata = if (is.null(tf$metadata)) list() else list(seqATAC = tf$metadata)
    )
}

# Store a result list (embedding: cells x d or NULL, cell_data: named list of per-cell columns, tf or
# NULL, metadata or NULL) in an SCE under `name`: reducedDim(x, name), colData columns, altExp(x, tf_name),
# metadata(x)$seqATAC[[name]] (left as it is when the result has no metadata).
.store_sce <- function(x, result, name, tf_name) {
    cells <- colnames(x)
    if (!is.null(result$embedding)) {
        embedding <- result$embedding
        dimnames(embedding) <- list(cells, paste0(name, "_", seq_len(ncol(embedding))))
        SingleCellExperiment::reducedDim(x, name) <- embedding
    }
    for (column in names(result$cell_data)) {
        SummarizedExperiment::colData(x)[[column]] <- result$cell_data[[column]]
    }
    if (!is.null(result$tf)) {
        SingleCellExperiment::altExp(x, tf_name) <- .tf_experiment(result$tf, cells)
    }
    if (!is.null(result$metadata)) {
        meta <- S4Vectors::metadata(x)
        meta$seqATAC[[name]] <- result$metadata
        S4Vectors::metadata(x) <- meta
    }
    x
}

# The same for Seurat: object[[name]] a DimReduc with `key`, meta.data columns,
# object[[tf_name]] an Assay with motif_id/motif_name feature metadata, object@misc$seqATAC[[name]].
.store_seurat <- function(x, result, name, tf_name, key, assay) {
    if (!is.null(result$embedding)) {
        embedding <- result$embedding
        dimnames(embedding) <- list(colnames(x), paste0(key, seq_len(ncol(embedding))))
        x[[name]] <- SeuratObject::CreateDimReducObject(embeddings = embedding, key = key, assay = assay)
    }
    for (column in names(result$cell_data)) {
        x[[column]] <- stats::setNames(result$cell_data[[column]], colnames(x))
    }
    if (!is.null(result$tf)) {
        tf <- result$tf
        tf$labels <- gsub("_", "-", tf$labels, fixed = TRUE)  # Seurat feature names have no '_'
        activity <- tf$activity
        dimnames(activity) <- list(tf$labels, colnames(x))
        tf_assay <- SeuratObject::CreateAssayObject(data = activity)
        tf_assay <- SeuratObject::AddMetaData(tf_assay, data.frame(
            motif_id = tf$motif_id, motif_name = tf$motif_name, row.names = tf$labels))
        if (!is.null(tf$metadata)) SeuratObject::Misc(tf_assay, "seqATAC") <- tf$metadata
        x[[tf_name]] <- tf_assay
    }
    if (!is.null(result$metadata)) x@misc$seqATAC[[name]] <- result$metadata
    x
}

.check_genome <- function(genome) {
    if (is.null(genome) || !is.character(genome) || length(genome) != 1L || is.na(genome)) {
        stop("genome must be the path of the genome FASTA the peaks were called on (one string).",
             call. = FALSE)
    }
    if (!file.exists(genome)) {
        stop("The genome FASTA '", genome, "' does not exist; pass genome = the path of the FASTA ",
             "(e.g. hg38.fa) the peaks were called on.", call. = FALSE)
    }
    normalizePath(genome)
}

# The genome recorded by simulateATAC(), if any.
.default_genome <- function(x) {
    meta <- if (.is_seurat(x)) x@misc$seqATAC else S4Vectors::metadata(x)$seqATAC
    meta$genome
}

# Motifs as plain R: NULL (JASPAR 2024 CORE vertebrates), a motif file, or JASPAR ids/TF names.
.check_motifs <- function(motifs, allow_null = TRUE) {
    if (is.null(motifs) && allow_null) {
        return(NULL)
    }
    if (!is.character(motifs) || length(motifs) == 0L || anyNA(motifs)) {
        stop("motifs must be NULL (all JASPAR2024 CORE vertebrate motifs), the path of a motif file ",
             "(MEME, JASPAR or HOMER) or a character vector of JASPAR ids (MA0139) and TF names (CTCF).",
             call. = FALSE)
    }
    if (length(motifs) == 1L && file.exists(motifs)) normalizePath(motifs) else motifs
}

# Inside a worker: the Python list of Motif objects for .check_motifs()' output.
.motifs_in_python <- function(motifs) {
    data <- reticulate::import("seqatac.data", convert = FALSE)
    if (is.null(motifs)) {
        return(data$jaspar())
    }
    if (length(motifs) == 1L && file.exists(motifs)) {
        return(data$read_motifs(motifs))
    }
    is_id <- grepl("^[A-Z]{2}[0-9]{4}", motifs)
    as_list <- function(v) if (length(v)) as.list(v) else NULL
    data$jaspar(ids = as_list(motifs[is_id]), names = as_list(motifs[!is_id]))
}

# Inside a worker: a cells x motifs pandas DataFrame of activities (with the motif ids and names of its
# columns) as the plain-R tf list used by .store_sce()/.store_seurat(). Rows are labelled as the engine
# labels the motifs asked for (seqatac.data.motif_columns of `motif_list`: the TF name, or NAME_ID for a
# name several motifs share), so that every model and chromVAR label the same motif alike even when one
# of them dropped some motifs.
.tf_from_python <- function(frame, motif_id, motif_name, motif_list = NULL) {
    ids <- .py_strings(motif_id)
    labels <- .py_strings(frame$columns$astype("str")$tolist())
    if (!is.null(motif_list)) {
        data <- reticulate::import("seqatac.data", convert = FALSE)
        asked <- .motif_labels(motif_list)
        asked_labels <- .py_strings(data$motif_columns(motif_list))
        at <- match(ids, asked$id)
        if (length(ids) == length(labels) && !anyNA(at) && !anyDuplicated(asked$id)) labels <- asked_labels[at]
    }
    list(
        activity = t(reticulate::py_to_r(frame$to_numpy(dtype = "float64"))),
        labels = labels,
        motif_id = ids,
        motif_name = .py_strings(motif_name)
    )
}

# Inside a worker: any Python sequence of strings (list, numpy array, pandas Index) as a character vector.
.py_strings <- function(values) {
    if (is.character(values)) {
        return(values)
    }
    builtins <- reticulate::import_builtins(convert = FALSE)
    as.character(unlist(reticulate::py_to_r(builtins$list(builtins$map(builtins$str, values)))))
}

# The shared body of the run*() model verbs: validate the input object, run `calculate(input, x)` (a
# function of the validated input and the object, returning a result list for .store_*()) and store
# the result. `columns` names cell annotations sent along (as categorical obs columns).
.run_model <- function(x, assay, columns, name, key, calculate, verb = paste0("run", name)) {
    if (.is_seurat(x)) {
        input <- .input_seurat(x, assay)
        input$obs_columns <- .cell_columns(x[[]], columns)
        result <- calculate(input, x)
        return(.store_seurat(x, result, name, tf_name = paste0(name, "TF"), key = key, assay = input$assay))
    }
    if (!methods::is(x, "SummarizedExperiment")) .unsupported(x, verb)
    x <- methods::as(x, "SingleCellExperiment")
    input <- .input_se(x, if (is.null(assay)) "counts" else assay)
    input$obs_columns <- .cell_columns(SummarizedExperiment::colData(x), columns)
    .store_sce(x, calculate(input, x), name, tf_name = paste0(name, "TF"))
}

.cell_columns <- function(cell_data, columns) {
    for (column in columns) {
        if (!is.character(column) || length(column) != 1L || !column %in% colnames(cell_data)) {
            stop("'", column, "' is not a cell annotation column (colData / meta.data); pass the name ",
                 "of an existing one.", call. = FALSE)
        }
    }
    stats::setNames(lapply(columns, function(column) as.character(cell_data[[column]])), columns)
}

# Inside a worker: ids and names of a Python list of Motif objects.
.motif_labels <- function(motif_list) {
    list(
        id = unlist(reticulate::iterate(motif_list, function(m) reticulate::py_to_r(m$id))),
        name = unlist(reticulate::iterate(motif_list, function(m) reticulate::py_to_r(m$name)))
    )
}
