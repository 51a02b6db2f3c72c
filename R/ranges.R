# Peak coordinates for the engine: a data.frame with chrom, start, end in the engine's 0-based,
# half-open convention, one row per peak, in the order of the count matrix's rows.

.name_pattern <- "^(.*[^:_-])[:_-]([0-9]+)[_-]([0-9]+)$"

# From peak names like chr1:100-200, chr1-100-200 or chr1_100_200, taken as written (0-based, half-open,
# as the engine reads them; Seurat callers shift the start); NULL when any name does not parse.
.ranges_from_names <- function(names) {
    if (is.null(names) || !all(grepl(.name_pattern, names))) {
        return(NULL)
    }
    data.frame(
        chrom = sub(.name_pattern, "\\1", names),
        start = as.numeric(sub(.name_pattern, "\\2", names)),
        end = as.numeric(sub(.name_pattern, "\\3", names))
    )
}

# From a GRanges (1-based, closed) to 0-based half-open.
.ranges_from_granges <- function(granges) {
    data.frame(
        chrom = as.character(GenomicRanges::seqnames(granges)),
        start = BiocGenerics::start(granges) - 1,
        end = as.numeric(BiocGenerics::end(granges))
    )
}

# From rowData-like columns (chrom/chr/seqnames, start, end), taken as 0-based half-open (the BED and
# AnnData convention, as zellkonverter brings them from an h5ad); NULL when absent.
.ranges_from_columns <- function(columns) {
    chrom <- intersect(c("chrom", "chr", "seqnames"), colnames(columns))
    if (length(chrom) == 0L || !all(c("start", "end") %in% colnames(columns))) {
        return(NULL)
    }
    data.frame(chrom = as.character(columns[[chrom[[1]]]]), start = as.numeric(columns$start),
               end = as.numeric(columns$end))
}

# Peak ranges of a SummarizedExperiment: rowRanges (a GRanges, as ArchR's getMatrixFromProject()
# and Signac-derived objects carry), then rowData columns, then the row names.
.peak_ranges_se <- function(x) {
    granges <- SummarizedExperiment::rowRanges(x)
    ranges <- if (methods::is(granges, "GRanges")) .ranges_from_granges(granges) else NULL
    if (is.null(ranges)) ranges <- .ranges_from_columns(SummarizedExperiment::rowData(x))
    if (is.null(ranges)) ranges <- .ranges_from_names(rownames(x))
    .check_ranges(ranges, "rowRanges, rowData columns chrom/start/end or row names like chr1:100-200",
                  rownames(x))
}

# Peak ranges of a Seurat assay: the assay's own ranges when it has them (a Signac ChromatinAssay keeps a
# GRanges in its `ranges` slot), else its feature names read as Signac writes them: chr-start-end from
# the 1-based, closed GRanges, so `chr1-2001-2500` is the engine's chr1:2000-2500.
.peak_ranges_seurat <- function(x, assay, features) {
    assay_object <- x[[assay]]
    granges <- if (methods::.hasSlot(assay_object, "ranges")) methods::slot(assay_object, "ranges") else NULL
    if (methods::is(granges, "GRanges") && length(granges) == length(features)) {
        return(.check_ranges(.ranges_from_granges(granges), "ranges", features))
    }
    ranges <- .ranges_from_names(features)
    if (is.null(ranges)) {
        stop("The Seurat assay '", assay, "' is not a peaks assay: its features (e.g. '",
             utils::head(features, 1L), "') are not named chr-start-end. Pass assay = the name of ",
             "the peaks assay (a Signac ChromatinAssay or an Assay with features like ",
             "chr1-101-200).", call. = FALSE)
    }
    ranges$start <- ranges$start - 1  # 1-based, closed (Signac) -> 0-based, half-open
    .check_ranges(ranges, "feature names", features)
}

# Engine ranges (0-based, half-open) as a GRanges (1-based, closed) named by the peaks.
.granges_from_ranges <- function(ranges) {
    granges <- GenomicRanges::GRanges(ranges$chrom, IRanges::IRanges(ranges$start + 1, ranges$end))
    names(granges) <- ranges$name
    granges
}

.check_ranges <- function(ranges, sources, names) {
    if (is.null(ranges)) {
        example <- if (length(names)) paste0(" (e.g. '", names[[1]], "')") else ""
        stop("The peaks have no genomic coordinates", example, ". Give them as ", sources, ".",
             call. = FALSE)
    }
    bad <- is.na(ranges$start) | is.na(ranges$end) | ranges$start < 0 | ranges$end <= ranges$start
    if (any(bad)) {
        stop(sum(bad), " peak(s) have invalid coordinates (e.g. ", ranges$chrom[bad][[1]], ":",
             ranges$start[bad][[1]], "-", ranges$end[bad][[1]], "); each needs 0 <= start < end.",
             call. = FALSE)
    }
    ranges$name <- if (is.null(names)) paste0("peak", seq_len(nrow(ranges))) else make.unique(names)
    ranges
}

# Inside a worker: an AnnData (cells x peaks) from a sparse payload, peak ranges, cell names and
# optional cell annotations (a named list of vectors, stored as categorical obs columns; NA stays missing,
# so that, e.g., cells without a label are unlabelled rather than a type called "NA").
.anndata_from_r <- function(payload, ranges, cells, obs_columns = list()) {
    anndata <- reticulate::import("anndata", convert = FALSE)
    pd <- reticulate::import("pandas", convert = FALSE)
    np <- reticulate::import("numpy", convert = FALSE)
    var <- pd$DataFrame(reticulate::dict(
        chrom = np$asarray(array(as.character(ranges$chrom)), dtype = "object"),
        start = np$asarray(array(ranges$start), dtype = "int64"),
        end = np$asarray(array(ranges$end), dtype = "int64")
    ), index = pd$Index(array(as.character(ranges$name)), dtype = "object"))
    obs <- pd$DataFrame(index = pd$Index(array(as.character(cells)), dtype = "object"))
    for (column in names(obs_columns)) {
        values <- as.character(obs_columns[[column]])
        # levels in pandas' order; .column_part codes NA as -1, pandas' missing value
        part <- .column_part(factor(values, levels = sort(unique(values[!is.na(values)]), method = "radix")))
        reticulate::py_set_item(obs, column, pd$Categorical$from_codes(
            np$asarray(part$codes, dtype = "int64"), categories = pd$Index(part$levels, dtype = "object")))
    }
    anndata$AnnData(X = .csr_to_python(payload), obs = obs, var = var)
}
