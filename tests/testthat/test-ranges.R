test_that("GRanges (1-based closed) become 0-based half-open and round-trip with the engine's names", {
    granges <- GenomicRanges::GRanges(c("chr1", "chr2"), IRanges::IRanges(c(101, 1), c(200, 50)))
    ranges <- seqATAC:::.ranges_from_granges(granges)
    expect_identical(ranges$chrom, c("chr1", "chr2"))
    expect_identical(ranges$start, c(100, 0))
    expect_identical(ranges$end, c(200, 50))
    # back: start + 1 gives the GRanges again
    expect_identical(IRanges::start(granges), as.integer(ranges$start + 1))
})

test_that("peak names in all three styles parse, other names do not", {
    ranges <- seqATAC:::.ranges_from_names(c("chr1:100-200", "chr2-5-60", "chrUn_KI270302v1_3_90"))
    expect_identical(ranges$chrom, c("chr1", "chr2", "chrUn_KI270302v1"))
    expect_identical(ranges$start, c(100, 5, 3))
    expect_identical(ranges$end, c(200, 60, 90))
    expect_null(seqATAC:::.ranges_from_names(c("chr1:100-200", "GATA1")))
    # a negative start is no coordinate (it was read as chromosome "chr1:" from 500)
    expect_null(seqATAC:::.ranges_from_names(c("chr1:100-200", "chr1:-500-2500")))
})

test_that("rowRanges come first, then rowData columns, then row names; none is an error", {
    counts <- Matrix::sparseMatrix(i = 1:3, j = 1:3, x = 1, dims = c(3L, 3L),
                                   dimnames = list(c("a", "b", "c"), paste0("cell", 1:3)))
    se <- SummarizedExperiment::SummarizedExperiment(list(counts = counts))
    expect_error(seqATAC:::.peak_ranges_se(se), "no genomic coordinates \\(e.g. 'a'\\).*rowRanges")
    SummarizedExperiment::rowData(se)$chrom <- "chr3"
    SummarizedExperiment::rowData(se)$start <- c(0, 10, 20)
    SummarizedExperiment::rowData(se)$end <- c(5, 15, 25)
    expect_identical(seqATAC:::.peak_ranges_se(se)$start, c(0, 10, 20))
    SummarizedExperiment::rowRanges(se) <- GenomicRanges::GRanges("chr4", IRanges::IRanges(c(1, 11, 21), width = 10))
    ranges <- seqATAC:::.peak_ranges_se(se)
    expect_identical(ranges$chrom, rep("chr4", 3))
    expect_identical(ranges$start, c(0, 10, 20))
    expect_identical(ranges$end, c(10, 20, 30))
    bad <- S4Vectors::DataFrame(chrom = "chr1", start = c(5, 1, 2), end = c(5, 2, 3))
    expect_error(seqATAC:::.check_ranges(seqATAC:::.ranges_from_columns(bad), "x", NULL),
                 "1 peak\\(s\\) have invalid coordinates \\(e.g. chr1:5-5\\)")
})

test_that("the simulation's rowRanges map back to the engine's 0-based coordinates", {
    skip_if_no_backend()
    sce <- tiny_sce()
    ranges <- seqATAC:::.peak_ranges_se(sce)
    from_names <- seqATAC:::.ranges_from_names(rownames(sce))  # the engine's chrom:start-end names
    expect_identical(ranges$chrom, from_names$chrom)
    expect_identical(ranges$start, from_names$start)
    expect_identical(ranges$end, from_names$end)
    expect_identical(ranges$name, rownames(sce))
})

test_that("Signac feature names are 1-based: chr1-2001-2500 is the engine's chr1:2000-2500", {
    skip_if_not_installed("SeuratObject")
    granges <- GenomicRanges::GRanges(c("chr1", "chr1", "chr2"), IRanges::IRanges(c(2001, 3001, 11), c(2500, 3600, 500)))
    counts <- Matrix::sparseMatrix(i = c(1, 2, 3, 1), j = c(1, 2, 3, 3), x = c(1, 2, 1, 4), dims = c(3L, 3L),
                                   dimnames = list(signac_names(granges), paste0("cell", 1:3)))
    expect_identical(rownames(counts), c("chr1-2001-2500", "chr1-3001-3600", "chr2-11-500"))
    seurat <- SeuratObject::CreateSeuratObject(counts, assay = "peaks")
    from_names <- seqATAC:::.peak_ranges_seurat(seurat, "peaks", rownames(counts))
    expect_identical(from_names$start, c(2000, 3000, 10))
    expect_identical(from_names$end, c(2500, 3600, 500))
    # the SingleCellExperiment whose rowRanges are the same peaks gives the same coordinates
    sce <- SingleCellExperiment::SingleCellExperiment(list(counts = counts), rowRanges = granges)
    from_sce <- seqATAC:::.peak_ranges_se(sce)
    expect_identical(from_sce[c("chrom", "start", "end")], from_names[c("chrom", "start", "end")])
    # and what goes back to R names the same peaks
    expect_identical(seqATAC:::.granges_from_ranges(from_names), stats::setNames(granges, rownames(counts)))
})

test_that("a Seurat assay's own ranges (a Signac ChromatinAssay) come before its feature names", {
    skip_if_not_installed("SeuratObject")
    # Signac's ChromatinAssay is a Seurat Assay with a `ranges` GRanges slot; a class of that shape stands in
    setClass("TestChromatinAssay", contains = "Assay", slots = c(ranges = "GRanges"), where = globalenv())
    on.exit(removeClass("TestChromatinAssay", where = globalenv()))
    granges <- GenomicRanges::GRanges("chr3", IRanges::IRanges(c(101, 501), c(300, 800)))
    counts <- Matrix::sparseMatrix(i = c(1, 2), j = c(1, 2), x = c(3, 1), dims = c(2L, 2L),
                                   dimnames = list(c("peak-a", "peak-b"), c("c1", "c2")))
    seurat <- SeuratObject::CreateSeuratObject(counts, assay = "peaks")
    expect_error(seqATAC:::.peak_ranges_seurat(seurat, "peaks", rownames(counts)), "is not a peaks assay")
    assay <- methods::new("TestChromatinAssay", seurat[["peaks"]], ranges = granges)
    seurat[["peaks"]] <- assay
    ranges <- seqATAC:::.peak_ranges_seurat(seurat, "peaks", rownames(counts))
    expect_identical(ranges$chrom, c("chr3", "chr3"))
    expect_identical(ranges$start, c(100, 500))
    expect_identical(ranges$end, c(300, 800))
    expect_identical(ranges$name, c("peak-a", "peak-b"))
})
