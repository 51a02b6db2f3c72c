# Acceptance: the same seed and data give the same embedding from R and from Python. The Python side
# reads the simulation's h5ad as the engine wrote it, so it shares no R code with the R side.

test_that("runCellSpace from R equals CellSpace in Python for the same data and seed", {
    skip_if_no_backend()
    sce <- do.call(runCellSpace, c(list(tiny_sce(), epochs = 2, n_threads = 1, seed = 7), FAST_CELLSPACE))
    from_r <- SingleCellExperiment::reducedDim(sce, "CellSpace")

    cellspace <- py_module("seqatac.models.cellspace")
    data <- py_module("seqatac.data")
    genome <- data$Genome(S4Vectors::metadata(sce)$seqATAC$genome)
    model <- cellspace$CellSpace(tiny_anndata(), genome, random_state = 7L, bucket = 4096L,
                                 examples_per_event = 4L, n_latent = 10L)
    model$fit(2L, random_state = 7L, n_threads = 1L, verbose = FALSE)
    from_python <- py_matrix(model$get_latent_representation())

    expect_identical(rownames(from_r), seqATAC:::.py_strings(model$cell_names))
    expect_identical(rownames(from_r), colnames(sce))
    expect_identical(dim(from_r), dim(from_python))
    expect_equal(unname(from_r), from_python, tolerance = 1e-6)
    # a different seed gives a different embedding: the comparison can fail
    other <- cellspace$CellSpace(tiny_anndata(), genome, random_state = 8L, bucket = 4096L,
                                 examples_per_event = 4L, n_latent = 10L)
    other$fit(2L, random_state = 8L, n_threads = 1L, verbose = FALSE)
    expect_false(isTRUE(all.equal(unname(from_r), py_matrix(other$get_latent_representation()))))
})

test_that("runScBasset from R equals ScBasset in Python for the same data and seed", {
    skip_if_no_backend()
    sce <- tiny_scbasset()  # seed 2, one epoch, batch size 64, SMALL_SCBASSET
    from_r <- SingleCellExperiment::reducedDim(sce, "scBasset")

    models <- py_module("seqatac.models")
    adata <- tiny_anndata()
    models$ScBasset$setup_anndata(adata)
    model <- do.call(models$ScBasset, c(list(adata, S4Vectors::metadata(sce)$seqATAC$genome, random_state = 2L),
                                        seqATAC:::.as_python_options(SMALL_SCBASSET)))
    model$fit(max_epochs = 1L, batch_size = 64L, device = "cpu", verbose = FALSE)

    expect_identical(rownames(from_r), seqATAC:::.py_strings(model$cell_names))
    expect_equal(unname(from_r), py_matrix(model$get_latent_representation()), tolerance = 1e-6)
    expect_equal(sce$scBasset_intercept, as.vector(py_matrix(model$get_cell_intercept())), tolerance = 1e-6)
})
