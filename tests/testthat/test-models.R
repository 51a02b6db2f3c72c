test_that("runScBasset stores the saved model's embedding, intercept, TF activity and metadata", {
    skip_if_no_backend()
    dir <- file.path(tempdir(), "scbasset-model")
    sce <- tiny_scbasset()
    embedding <- SingleCellExperiment::reducedDim(sce, "scBasset")
    expect_identical(dim(embedding), c(300L, 8L))
    expect_identical(rownames(embedding), colnames(sce))
    expect_length(sce$scBasset_intercept, 300L)
    tf <- SingleCellExperiment::altExp(sce, "scBassetTF")
    expect_identical(rownames(tf), "CEBPA")
    expect_identical(SummarizedExperiment::rowData(tf)$motif_id, "MA0102.5")
    meta <- S4Vectors::metadata(sce)$seqATAC$scBasset
    expect_identical(meta$model_dir, dir)
    expect_identical(meta$params$random_state, 2L)
    expect_length(meta$history$epoch, 1L)
    expect_true(file.exists(file.path(dir, "config.json")))

    # the model saved to dir holds exactly what was stored
    models <- py_module("seqatac.models")
    model <- models$ScBasset$load(dir)
    expect_equal(embedding, py_matrix(model$get_latent_representation()), ignore_attr = TRUE)
    expect_equal(sce$scBasset_intercept, as.vector(py_matrix(model$get_cell_intercept())))
    expect_error(runScBasset(sce, dir = dir), "already exists")
})

test_that("runCellSpace gives the same embedding for SingleCellExperiment and Seurat input", {
    skip_if_no_backend()
    sce <- do.call(runCellSpace, c(list(tiny_sce(), epochs = 2, n_threads = 1, motifs = "CEBPA", seed = 4),
                                   FAST_CELLSPACE))
    embedding <- SingleCellExperiment::reducedDim(sce, "CellSpace")
    expect_identical(dim(embedding), c(300L, 10L))
    expect_identical(S4Vectors::metadata(sce)$seqATAC$CellSpace$epochs, 2L)
    expect_identical(S4Vectors::metadata(sce)$seqATAC$CellSpace$params$bucket, 4096L)
    tf <- SummarizedExperiment::assay(SingleCellExperiment::altExp(sce, "CellSpaceTF"), "activity")
    expect_equal(mean(tf[1, ]), 0, tolerance = 1e-5)  # z-scored across cells
    expect_equal(stats::sd(tf[1, ]), 1, tolerance = 1e-5)

    genome <- S4Vectors::metadata(tiny_sce())$seqATAC$genome
    seurat <- do.call(runCellSpace, c(list(tiny_seurat(), genome = genome, epochs = 2, n_threads = 1,
                                           motifs = "CEBPA", seed = 4), FAST_CELLSPACE))
    reduction <- seurat[["CellSpace"]]
    expect_s4_class(reduction, "DimReduc")
    expect_identical(SeuratObject::Key(reduction), "cellspace_")
    expect_equal(SeuratObject::Embeddings(reduction), embedding, ignore_attr = TRUE)
    expect_true("CellSpaceTF" %in% SeuratObject::Assays(seurat))
})

test_that("runEpiFoundation pre-trains on the paired RNA, fine-tunes, annotates and stores its results", {
    skip_if_no_backend()
    dir <- file.path(tempdir(), "epifoundation-model")
    sce <- tiny_epifoundation()
    expect_identical(dim(SingleCellExperiment::reducedDim(sce, "EpiFoundation")), c(300L, 32L))
    expect_s3_class(sce$EpiFoundation_cell_type, "factor")
    expect_true(all(levels(sce$EpiFoundation_cell_type) %in% unique(sce$cell_type)))
    expect_true(all(sce$EpiFoundation_confidence >= 1 / 4 - 1e-6 & sce$EpiFoundation_confidence <= 1))
    meta <- S4Vectors::metadata(sce)$seqATAC$EpiFoundation
    expect_identical(meta$model_dir, dir)
    expect_identical(meta$trained, c("pretrain", "expression", "annotate"))
    expect_identical(meta$params$random_state, 5L)
    expect_true(file.exists(file.path(dir, "config.json")))
})

test_that("model wrappers validate arguments before Python starts", {
    sce <- SingleCellExperiment::SingleCellExperiment(
        list(counts = Matrix::sparseMatrix(i = 1:2, j = 1:2, x = c(2, 3), dims = c(2L, 2L),
                                           dimnames = list(c("chr1:0-100", "chr1:200-300"), c("c1", "c2")))))
    missing <- file.path(tempdir(), "absent.fa")
    expect_error(runScBasset(sce, genome = missing), "genome FASTA .* does not exist")
    expect_error(runCellSpace(sce, genome = missing), "genome FASTA .* does not exist")
    fasta <- tempfile(fileext = ".fa")
    writeLines(c(">chr1", strrep("ACGT", 100)), fasta)
    expect_error(runScBasset(sce, genome = fasta, epochs = 0), "epochs must be one positive integer")
    expect_error(runScBasset(sce, genome = fasta, device = "tpu"), "should be one of")
    expect_error(runScBasset(sce, genome = fasta, batch = "donor"), "'donor' is not a cell annotation column")
    expect_error(runCellSpace(sce, genome = fasta, 32), "must be named")
    expect_error(runEpiFoundation(sce), "needs paired RNA .* and/or cell-type labels")
    expect_error(runEpiFoundation(sce, rna = "RNA"), "x has no altExp 'RNA'")
    expect_error(runEpiFoundation(sce, labels = "cell_type"), "'cell_type' is not a cell annotation column")
    expect_error(runEpiFoundation(sce, labels = "cell_type", expression_epochs = 2),
                 "expression_epochs > 0 needs the paired RNA: pass rna = ")
    rownames(sce) <- c("peak1", "peak2")
    expect_error(runCellSpace(sce, genome = fasta), "peaks have no genomic coordinates")
})
