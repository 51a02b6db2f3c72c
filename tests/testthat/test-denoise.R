test_that("denoiseAccessibility stores the chosen peaks only, none zero-filled, with their ranges", {
    skip_if_no_backend()
    sce <- tiny_scbasset()
    chosen <- rownames(sce)[c(40, 3, 17)]
    sce <- denoiseAccessibility(sce, peaks = chosen)
    expect_false("denoised" %in% SummarizedExperiment::assayNames(sce))  # no zero-filled peaks x cells assay
    result <- SingleCellExperiment::altExp(sce, "denoised")
    rows <- sort(match(chosen, rownames(sce)))
    expect_identical(dim(result), c(3L, ncol(sce)))                    # the chosen peaks, nothing else
    expect_identical(rownames(result), rownames(sce)[rows])            # in the order of x
    expect_identical(colnames(result), colnames(sce))
    expect_identical(SummarizedExperiment::rowRanges(result), SummarizedExperiment::rowRanges(sce)[rows])
    denoised <- SummarizedExperiment::assay(result, "denoised")
    expect_true(is.matrix(denoised))
    expect_true(all(denoised > 0 & denoised < 1))                      # sigmoid outputs, every value computed
    meta <- S4Vectors::metadata(sce)$seqATAC$denoised
    expect_identical(meta$model_dir, S4Vectors::metadata(sce)$seqATAC$scBasset$model_dir)
    expect_identical(meta$peaks, rownames(sce)[rows])
    expect_identical(S4Vectors::metadata(result)$seqATAC$peaks, meta$peaks)

    # the engine's own denoised accessibility of the same peaks
    model <- py_module("seqatac.models")$ScBasset$load(meta$model_dir)
    expected <- py_matrix(model$get_denoised_accessibility(as.list(rownames(sce)[rows])))  # cells x peaks
    expect_equal(denoised, t(expected), ignore_attr = TRUE, tolerance = 1e-6)

    # indices, a logical vector and loadSeqatacModel() choose the same; a Seurat object gets an Assay
    model_info <- loadSeqatacModel(meta$model_dir)
    again <- denoiseAccessibility(sce, peaks = seq_len(nrow(sce)) %in% rows, model = model_info, name = "again")
    expect_identical(SummarizedExperiment::assay(SingleCellExperiment::altExp(again, "again")), denoised)
    seurat <- denoiseAccessibility(tiny_seurat(), peaks = rows, model = meta$model_dir)
    values <- SeuratObject::GetAssayData(seurat, slot = "data", assay = "denoised")
    expect_identical(rownames(values), signac_names(SummarizedExperiment::rowRanges(sce))[rows])
    expect_equal(as.matrix(values), denoised, ignore_attr = TRUE)
    expect_identical(seurat@misc$seqATAC$denoised$model_dir, meta$model_dir)
})

test_that("denoiseAccessibility streams into an HDF5 file without storing values in x", {
    skip_if_no_backend()
    sce <- tiny_scbasset()
    file <- tempfile(fileext = ".h5")
    streamed <- denoiseAccessibility(sce, peaks = 1:5, file = file, chunk_size = 2)
    expect_false("denoised" %in% SummarizedExperiment::assayNames(streamed))
    expect_identical(S4Vectors::metadata(streamed)$seqATAC$denoised$file, normalizePath(file))
    h5py <- py_module("h5py")
    handle <- h5py$File(file, "r")
    on.exit(handle$close())
    from_file <- py_matrix(py_module("numpy")$asarray(reticulate::py_get_item(handle, "denoised")))
    in_memory <- SummarizedExperiment::assay(SingleCellExperiment::altExp(denoiseAccessibility(sce, peaks = 1:5), "denoised"))
    expect_equal(t(from_file), in_memory, ignore_attr = TRUE, tolerance = 1e-6)
})

test_that("denoiseAccessibility explains a missing, wrong or mismatched model", {
    skip_if_no_backend()
    sce <- tiny_scbasset()
    dir <- S4Vectors::metadata(sce)$seqATAC$scBasset$model_dir
    expect_error(denoiseAccessibility(tiny_sce(), peaks = 1),
                 "found no model recorded in metadata\\(x\\)\\$seqATAC\\$scBasset; train one .*or pass model = ")
    expect_error(denoiseAccessibility(sce, peaks = 1, model = tempdir()), "holds no saved seqatac model")
    expect_error(denoiseAccessibility(sce[, 1:10], peaks = 1),
                 "x's 10 cells are not the 150 cells the scBasset model .* was trained on")
    expect_error(denoiseAccessibility(sce, peaks = 1, genome = file.path(tempdir(), "gone.fa")),
                 "genome FASTA '.*gone.fa' does not exist; pass genome = ")
    moved <- edited_model(dir, function(text) sub('"genome_fasta": ".*"', '"genome_fasta": "/moved/genome.fa"', text))
    expect_error(denoiseAccessibility(sce, peaks = 1, model = moved),
                 "genome FASTA recorded with the scBasset model .*/moved/genome.fa.* pass genome = ")
    # the FASTA given replaces the recorded one
    fixed <- denoiseAccessibility(sce, peaks = 2, model = moved, genome = S4Vectors::metadata(sce)$seqATAC$genome)
    expect_identical(rownames(SingleCellExperiment::altExp(fixed, "denoised")), rownames(sce)[2])
    cellspace_dir <- edited_model(dir, function(text) sub('"model": "scbasset"', '"model": "CellSpace"', text))
    expect_error(denoiseAccessibility(sce, peaks = 1, model = cellspace_dir),
                 "needs a model of type scBasset, but .* holds one of type CellSpace")
})

test_that("peak choices are validated and the size limit is checked before Python starts", {
    names <- c("chr1:0-10", "chr1:20-30", "chr2:5-9")
    expect_identical(seqATAC:::.select_rows(NULL, names), 1:3)
    expect_identical(seqATAC:::.select_rows(c("chr2:5-9", "chr1:0-10"), names), c(1L, 3L))
    expect_identical(seqATAC:::.select_rows(c(3, 2, 3), names), 2:3)
    expect_identical(seqATAC:::.select_rows(c(FALSE, TRUE, TRUE), names), 2:3)
    expect_error(seqATAC:::.select_rows("chr9:1-2", names), "1 peak\\(s\\) are not rows of x \\(e.g. 'chr9:1-2'\\)")
    expect_error(seqATAC:::.select_rows(4, names), "between 1 and 3")
    expect_error(seqATAC:::.select_rows(c(TRUE, FALSE), names), "one TRUE/FALSE per peak \\(3\\)")
    expect_error(seqATAC:::.select_rows(rep(FALSE, 3), names), "selects no peak")

    # more than 2^31 values: an error before anything is computed
    big <- SingleCellExperiment::SingleCellExperiment(
        list(counts = Matrix::sparseMatrix(i = 1, j = 1, x = 1, dims = c(50000L, 50000L))))
    rownames(big) <- paste0("chr1:", 0:49999 * 10L, "-", 0:49999 * 10L + 5L)
    colnames(big) <- paste0("c", seq_len(ncol(big)))
    expect_error(denoiseAccessibility(big, model = tempdir()),
                 "more than 2\\^31 - 1 values to bring into R; choose fewer peaks .* or .* file = ")
})
