test_that("tfActivity stores chromVAR-style z-scores equal to the engine's", {
    skip_if_no_backend()
    sce <- tiny_chromvar()
    tf <- SingleCellExperiment::altExp(sce, "chromVARTF")
    expect_identical(SummarizedExperiment::assayNames(tf), c("activity", "deviations"))
    expect_identical(ncol(tf), 150L)
    expect_identical(colnames(tf), colnames(sce))
    rows <- SummarizedExperiment::rowData(tf)
    expect_true(all(c("CEBPA", "HNF4A") %in% rows$motif_name))
    expect_true("MA0139.2" %in% rows$motif_id)
    expect_identical(S4Vectors::metadata(sce)$seqATAC$chromVARTF$n_backgrounds, 20L)
    expect_identical(S4Vectors::metadata(tf)$seqATAC$n_backgrounds, 20L)   # the altExp carries its record
    expect_identical(S4Vectors::metadata(tf)$seqATAC$motifs$requested, TEST_MOTIFS)

    # the engine on the same counts, peaks, motifs and seed
    baselines <- py_module("seqatac.baselines")
    data <- py_module("seqatac.data")
    adata <- tiny_anndata()
    baselines$chromvar_deviations(adata, data$jaspar(names = list("CEBPA", "HNF4A"), ids = list("MA0139.2")),
                                  genome = data$Genome(tiny_genome()), n_backgrounds = 20L, random_state = 3L)
    expected <- reticulate::py_get_item(adata$obsm, "chromvar")
    expected_z <- t(py_matrix(expected$to_numpy()))
    expect_identical(rownames(tf), seqATAC:::.py_strings(expected$columns))
    expect_equal(SummarizedExperiment::assay(tf, "activity"), expected_z, ignore_attr = TRUE, tolerance = 1e-10)
})

test_that("tfActivity checks the genome, the method and the counts before Python starts", {
    sce <- SingleCellExperiment::SingleCellExperiment(
        list(counts = Matrix::sparseMatrix(i = 1:2, j = 1:2, x = c(2, 3), dims = c(2L, 2L),
                                           dimnames = list(c("chr1:0-100", "chr1:200-300"), c("c1", "c2")))))
    missing <- file.path(tempdir(), "no-such-genome.fa")
    expect_error(tfActivity(sce, motifs = "CTCF", genome = missing),
                 "genome FASTA '.*no-such-genome.fa' does not exist")
    expect_error(tfActivity(sce, motifs = "CTCF"), "genome must be the path of the genome FASTA")
    fasta <- tempfile(fileext = ".fa")
    writeLines(c(">chr1", strrep("ACGT", 100)), fasta)
    expect_error(tfActivity(sce, genome = fasta, method = "cisTopic"), "'arg' should be")
    SummarizedExperiment::assay(sce, "logcounts") <- log1p(SummarizedExperiment::assay(sce, "counts"))
    expect_error(tfActivity(sce, genome = fasta, assay = "logcounts"),
                 "assay 'logcounts' does not look like counts")
    expect_error(tfActivity(sce, genome = fasta, assay = "PeakMatrix"), "x has no assay 'PeakMatrix'")
    expect_error(tfActivity(matrix(1), genome = fasta), "takes a SingleCellExperiment")
})

test_that("an ArchR-style SummarizedExperiment (PeakMatrix + rowRanges) works", {
    skip_if_no_backend()
    sim <- tiny_sce()
    se <- SummarizedExperiment::SummarizedExperiment(
        assays = list(PeakMatrix = SummarizedExperiment::assay(sim, "counts")),
        rowRanges = SummarizedExperiment::rowRanges(sim))
    rownames(se) <- NULL  # ArchR's peak matrix has no row names: coordinates come from rowRanges
    result <- tfActivity(se, motifs = TEST_MOTIFS, genome = S4Vectors::metadata(sim)$seqATAC$genome,
                         assay = "PeakMatrix", n_backgrounds = 20, seed = 3)
    expect_s4_class(result, "SingleCellExperiment")
    reference <- tiny_chromvar()
    expect_equal(SummarizedExperiment::assay(SingleCellExperiment::altExp(result, "chromVARTF")),
                 SummarizedExperiment::assay(SingleCellExperiment::altExp(reference, "chromVARTF")))
})

test_that("Seurat objects get a new Assay; one without a peaks assay is an error", {
    skip_if_no_backend()
    # Signac-style (1-based) feature names of the same peaks as the SingleCellExperiment's rowRanges: the
    # same coordinates, so the same results (no off-by-one)
    seurat <- tiny_seurat()
    genome <- S4Vectors::metadata(tiny_sce())$seqATAC$genome
    seurat <- tfActivity(seurat, motifs = TEST_MOTIFS, genome = genome, n_backgrounds = 20, seed = 3)
    expect_true("chromVARTF" %in% SeuratObject::Assays(seurat))
    activity <- SeuratObject::GetAssayData(seurat, slot = "data", assay = "chromVARTF")
    reference <- tiny_chromvar()
    expected <- SummarizedExperiment::assay(SingleCellExperiment::altExp(reference, "chromVARTF"))
    expect_equal(as.matrix(activity), expected, ignore_attr = TRUE)
    expect_identical(seurat@misc$seqATAC$chromVARTF$n_peaks_used,
                     S4Vectors::metadata(reference)$seqATAC$chromVARTF$n_peaks_used)
    expect_identical(seurat[["chromVARTF"]][["motif_id"]][[1]],
                     SummarizedExperiment::rowData(SingleCellExperiment::altExp(reference, "chromVARTF"))$motif_id)

    genes <- Matrix::sparseMatrix(i = 1:3, j = 1:3, x = 1, dims = c(3L, 3L),
                                  dimnames = list(c("GATA1", "SPI1", "CEBPA"), paste0("c", 1:3)))
    rna <- SeuratObject::CreateSeuratObject(genes, assay = "RNA")
    expect_error(tfActivity(rna, genome = genome), "Seurat assay 'RNA' is not a peaks assay.*GATA1")
    expect_error(tfActivity(seurat, genome = genome, assay = "ATAC"), "no assay 'ATAC'")
})
