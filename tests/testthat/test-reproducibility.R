# Acceptance: the same seed and data give the same embedding from R and from Python. The Python side
# reads the shipped h5ad as the engine reads it, so it shares no R code with the R side.

test_that("runCellSpace(deterministic = TRUE) repeats itself and equals CellSpace in Python", {
    skip_if_no_backend()
    sce <- tiny_cellspace()  # deterministic = TRUE, seed 4, FAST_CELLSPACE, 2 epochs
    from_r <- SingleCellExperiment::reducedDim(sce, "CellSpace")
    again <- do.call(runCellSpace, c(list(tiny_sce(), epochs = 2, deterministic = TRUE, seed = 4), FAST_CELLSPACE))
    expect_identical(SingleCellExperiment::reducedDim(again, "CellSpace"), from_r)

    cellspace <- py_module("seqatac.models.cellspace")
    data <- py_module("seqatac.data")
    genome <- data$Genome(tiny_genome())
    model <- cellspace$CellSpace(tiny_anndata(), genome, random_state = 4L, bucket = 4096L,
                                 examples_per_event = 4L, n_latent = 10L)
    model$fit(2L, random_state = 4L, n_threads = 1L, verbose = FALSE)
    from_python <- py_matrix(model$get_latent_representation())
    expect_identical(rownames(from_r), seqATAC:::.py_strings(model$cell_names))
    expect_identical(rownames(from_r), colnames(sce))
    expect_equal(unname(from_r), from_python, tolerance = 1e-6)
    # a different seed gives a different embedding: the comparison can fail
    other <- do.call(runCellSpace, c(list(tiny_sce(), epochs = 2, deterministic = TRUE, seed = 5), FAST_CELLSPACE))
    expect_false(isTRUE(all.equal(SingleCellExperiment::reducedDim(other, "CellSpace"), from_r)))
})

test_that("runScBasset from R equals ScBasset in Python for the same data and seed", {
    skip_if_no_backend()
    sce <- tiny_scbasset()  # seed 2, one epoch, batch size 64, SMALL_SCBASSET, fp32
    from_r <- SingleCellExperiment::reducedDim(sce, "scBasset")

    models <- py_module("seqatac.models")
    adata <- tiny_anndata()
    models$ScBasset$setup_anndata(adata)
    model <- do.call(models$ScBasset, c(list(adata, tiny_genome(), random_state = 2L),
                                        seqATAC:::.as_python_options(SMALL_SCBASSET)))
    model$fit(max_epochs = 1L, batch_size = 64L, device = "cpu", verbose = FALSE, precision = "fp32")

    expect_identical(rownames(from_r), seqATAC:::.py_strings(model$cell_names))
    expect_equal(unname(from_r), py_matrix(model$get_latent_representation()), tolerance = 1e-6)
    expect_equal(sce$scBasset_intercept, as.vector(py_matrix(model$get_cell_intercept())), tolerance = 1e-6)
})
