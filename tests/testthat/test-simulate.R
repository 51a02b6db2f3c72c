test_that("simulateATAC returns the engine's simulation as a SingleCellExperiment", {
    skip_if_no_backend()
    sce <- simulateATAC("tiny", seed = 1L, rna = TRUE, dir = file.path(tempdir(), "seqATAC-test-simulation"))
    expect_s4_class(sce, "SingleCellExperiment")
    expect_identical(dim(sce), c(1000L, 300L))
    counts <- SummarizedExperiment::assay(sce, "counts")
    expect_s4_class(counts, "dgCMatrix")
    expect_identical(colnames(sce)[1:2], c("cell000", "cell001"))
    expect_true(all(c("cell_type", "batch", "total_counts") %in% colnames(SummarizedExperiment::colData(sce))))
    expect_equal(sce$total_counts, Matrix::colSums(counts), ignore_attr = TRUE)
    expect_s4_class(SummarizedExperiment::rowRanges(sce), "GRanges")
    expect_identical(SingleCellExperiment::altExpNames(sce), c("trueTF", "RNA"))
    meta <- S4Vectors::metadata(sce)$seqATAC
    expect_true(file.exists(meta$genome))
    expect_identical(basename(meta$genome), "genome.fa")

    # the same seed in the Python engine gives the same matrix, cell annotations and peaks
    simulate <- py_module("seqatac.simulate")
    sim <- simulate$simulate_atac("tiny", random_state = 1L, rna = TRUE)
    atac <- sim$atac
    x <- atac$X$tocsr()
    expect_identical(counts@i, as.integer(py_matrix(x$indices)))
    expect_identical(counts@p, as.integer(py_matrix(x$indptr)))
    expect_identical(counts@x, as.numeric(py_matrix(x$data)))
    expect_identical(as.character(sce$cell_type),
                     seqATAC:::.py_strings(reticulate::py_get_item(atac$obs, "cell_type")))
    expect_identical(BiocGenerics::start(SummarizedExperiment::rowRanges(sce)) - 1L,
                     as.integer(py_matrix(reticulate::py_get_item(atac$var, "start")$to_numpy())))
    rna <- SummarizedExperiment::assay(SingleCellExperiment::altExp(sce, "RNA"), "counts")
    expect_identical(rev(dim(rna)), unlist(py_matrix(sim$rna$shape)))
    expect_identical(rna@x, as.numeric(py_matrix(sim$rna$X$tocsr()$data)))
    expect_identical(rownames(rna), seqATAC:::.py_strings(sim$rna$var_names))
})

test_that("simulateATAC validates its arguments before Python starts", {
    expect_error(simulateATAC("huge"), "'arg' should be one of")
    expect_error(simulateATAC("tiny", seed = -1), "seed must be one non-negative integer")
    expect_error(simulateATAC("tiny", rna = "yes"), "rna must be TRUE, FALSE or NULL")
})
