# h5ad through the engine: what the Python side writes reads into a SingleCellExperiment with rowRanges,
# reducedDims and altExps (motif rowData), and writes back to the same AnnData and the same object.

# The example's AnnData with results written by the engine: chromVAR deviations (obsm chromvar, uns
# chromvar motif ids) and an embedding where the models put theirs.
python_results <- function() {
    adata <- tiny_anndata()
    data <- py_module("seqatac.data")
    py_module("seqatac.baselines")$chromvar_deviations(
        adata, data$jaspar(names = list("CEBPA", "HNF4A")), genome = data$Genome(tiny_genome()),
        n_backgrounds = 10L, random_state = 1L)
    np <- py_module("numpy")
    embedding <- np$random$default_rng(0L)$normal(size = reticulate::tuple(150L, 5L))
    reticulate::py_set_item(adata$obsm, "X_cellspace", embedding)
    file <- tempfile(fileext = ".h5ad")
    adata$write_h5ad(file)
    list(adata = adata, file = file)
}

test_that("readSeqatacH5AD brings the engine's results as rowRanges, reducedDims and altExps", {
    skip_if_no_backend()
    written <- python_results()
    adata <- written$adata
    sce <- readSeqatacH5AD(written$file)
    expect_s4_class(sce, "SingleCellExperiment")
    expect_identical(dim(sce), c(250L, 150L))
    expect_identical(colnames(sce), seqATAC:::.py_strings(adata$obs_names))
    expect_s4_class(SummarizedExperiment::assay(sce, "counts"), "dgCMatrix")
    # rowRanges: 1-based closed from the 0-based var columns; those columns are not repeated in rowData
    ranges <- SummarizedExperiment::rowRanges(sce)
    expect_identical(BiocGenerics::start(ranges) - 1L,
                     as.integer(py_matrix(reticulate::py_get_item(adata$var, "start")$to_numpy())))
    expect_identical(BiocGenerics::end(ranges), as.integer(py_matrix(reticulate::py_get_item(adata$var, "end")$to_numpy())))
    expect_false(any(c("chrom", "start", "end") %in% colnames(SummarizedExperiment::rowData(sce))))
    expect_s3_class(SummarizedExperiment::rowData(sce)$peak_class, "factor")
    expect_s3_class(sce$cell_type, "factor")
    # obsm X_cellspace -> reducedDim "CellSpace", named as runCellSpace() names it
    embedding <- SingleCellExperiment::reducedDim(sce, "CellSpace")
    expect_equal(unname(embedding), py_matrix(reticulate::py_get_item(adata$obsm, "X_cellspace")))
    expect_identical(colnames(embedding), paste0("CellSpace_", 1:5))
    # obsm chromvar (+ _deviations) -> altExp chromVARTF with the engine's motif ids
    tf <- SingleCellExperiment::altExp(sce, "chromVARTF")
    expect_identical(SummarizedExperiment::assayNames(tf), c("activity", "deviations"))
    frame <- reticulate::py_get_item(adata$obsm, "chromvar")
    expect_identical(rownames(tf), seqATAC:::.py_strings(frame$columns))
    expect_equal(SummarizedExperiment::assay(tf, "activity"), t(py_matrix(frame$to_numpy())), ignore_attr = TRUE)
    uns <- reticulate::py_get_item(adata$uns, "chromvar")
    expect_identical(SummarizedExperiment::rowData(tf)$motif_id, seqATAC:::.py_strings(reticulate::py_get_item(uns, "motif_id")))
    expect_identical(dim(SingleCellExperiment::altExp(sce, "trueTF")), c(16L, 150L))
    expect_true("chromvar" %in% names(S4Vectors::metadata(sce)))  # uns -> metadata
})

test_that("writeSeqatacH5AD writes what readSeqatacH5AD reads back, and Python sees the engine's keys", {
    skip_if_no_backend()
    sce <- tiny_scbasset()  # results made in R: reducedDim, colData intercept, altExps, metadata
    file <- tempfile(fileext = ".h5ad")
    expect_identical(writeSeqatacH5AD(sce, file), normalizePath(file))
    back <- readSeqatacH5AD(file)
    expect_identical(dimnames(back), dimnames(sce))
    expect_identical(SummarizedExperiment::assay(back, "counts"), SummarizedExperiment::assay(sce, "counts"))
    expect_identical(SummarizedExperiment::rowRanges(back), SummarizedExperiment::rowRanges(sce))
    expect_identical(SummarizedExperiment::colData(back), SummarizedExperiment::colData(sce))
    expect_identical(SingleCellExperiment::reducedDimNames(back), SingleCellExperiment::reducedDimNames(sce))
    expect_equal(SingleCellExperiment::reducedDim(back, "scBasset"), SingleCellExperiment::reducedDim(sce, "scBasset"))
    expect_identical(SingleCellExperiment::altExpNames(back), SingleCellExperiment::altExpNames(sce))
    for (name in SingleCellExperiment::altExpNames(sce)) {
        expect_equal(lapply(as.list(SummarizedExperiment::assays(SingleCellExperiment::altExp(back, name))), unname),
                     lapply(as.list(SummarizedExperiment::assays(SingleCellExperiment::altExp(sce, name))),
                            function(m) unname(as.matrix(m))), label = name)
    }
    tf <- SingleCellExperiment::altExp(back, "scBassetTF")
    expect_identical(SummarizedExperiment::rowData(tf)$motif_id,
                     SummarizedExperiment::rowData(SingleCellExperiment::altExp(sce, "scBassetTF"))$motif_id)
    meta <- S4Vectors::metadata(back)$seqATAC$scBasset
    expect_identical(meta$model_dir, S4Vectors::metadata(sce)$seqATAC$scBasset$model_dir)
    expect_equal(meta$architecture$bottleneck_size, 8)

    # the Python side finds them where the engine puts its own
    adata <- py_module("anndata")$read_h5ad(file)
    expect_equal(py_matrix(reticulate::py_get_item(adata$obsm, "X_scbasset")),
                 unname(SingleCellExperiment::reducedDim(sce, "scBasset")))
    frame <- reticulate::py_get_item(adata$obsm, "scbasset_tf")
    expect_identical(seqATAC:::.py_strings(frame$columns), rownames(SingleCellExperiment::altExp(sce, "scBassetTF")))
    expect_identical(as.numeric(py_matrix(reticulate::py_get_item(adata$var, "start")$to_numpy())),
                     BiocGenerics::start(SummarizedExperiment::rowRanges(sce)) - 1)
    expect_true(reticulate::py_to_r(adata$X$`__class__`$`__name__`) %in% c("csr_matrix", "csr_array"))
})

test_that("h5ad arguments are checked before Python starts", {
    with_backend_settings(NO_PYTHON, {
        expect_error(readSeqatacH5AD(file.path(tempdir(), "none.h5ad")), "must be the path of an existing .h5ad")
        expect_error(writeSeqatacH5AD(matrix(1), tempfile()), "takes a SingleCellExperiment")
        expect_error(writeSeqatacH5AD(two_peaks(), tempfile(), X_name = "logcounts"), "x has no assay 'logcounts'")
        expect_error(writeSeqatacH5AD(two_peaks(), file.path(tempdir(), "no-dir", "x.h5ad")), "does not exist; create it first")
    })
})
