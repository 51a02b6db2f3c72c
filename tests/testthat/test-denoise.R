test_that("denoiseAccessibility stores the model's denoised values for the chosen peaks only", {
    skip_if_no_backend()
    sce <- tiny_scbasset()
    chosen <- rownames(sce)[c(40, 3, 17)]
    sce <- denoiseAccessibility(sce, peaks = chosen)
    denoised <- SummarizedExperiment::assay(sce, "denoised")
    expect_s4_class(denoised, "dgCMatrix")
    expect_identical(dimnames(denoised), dimnames(sce))
    rows <- sort(match(chosen, rownames(sce)))
    expect_identical(unique(denoised@i + 1L), rows)            # only the chosen rows are stored ...
    expect_identical(length(denoised@x), 3L * ncol(sce))       # ... densely
    expect_true(all(denoised@x > 0 & denoised@x < 1))          # sigmoid outputs
    meta <- S4Vectors::metadata(sce)$seqATAC$denoised
    expect_identical(meta$model_dir, S4Vectors::metadata(sce)$seqATAC$scBasset$model_dir)
    expect_identical(meta$peaks, rownames(sce)[rows])

    # the engine's own denoised accessibility of the same peaks
    model <- py_module("seqatac.models")$ScBasset$load(meta$model_dir)
    expected <- py_matrix(model$get_denoised_accessibility(as.list(rownames(sce)[rows])))  # cells x peaks
    expect_equal(as.matrix(denoised[rows, ]), t(expected), ignore_attr = TRUE, tolerance = 1e-6)

    # indices, a logical vector and loadSeqatacModel() choose the same; a Seurat object gets an Assay
    model_info <- loadSeqatacModel(meta$model_dir)
    again <- denoiseAccessibility(sce, peaks = seq_len(nrow(sce)) %in% rows, model = model_info, name = "again")
    expect_identical(SummarizedExperiment::assay(again, "again"), denoised)
    seurat <- denoiseAccessibility(tiny_seurat(), peaks = rows, model = meta$model_dir)
    values <- SeuratObject::GetAssayData(seurat, slot = "data", assay = "denoised")
    expect_identical(rownames(values), sub(":", "-", rownames(sce)[rows], fixed = TRUE))
    expect_equal(as.matrix(values), as.matrix(denoised[rows, ]), ignore_attr = TRUE)
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
    in_memory <- SummarizedExperiment::assay(denoiseAccessibility(sce, peaks = 1:5), "denoised")
    expect_equal(t(from_file), as.matrix(in_memory[1:5, ]), ignore_attr = TRUE, tolerance = 1e-6)
})

test_that("denoiseAccessibility explains a missing, wrong or mismatched model", {
    skip_if_no_backend()
    sce <- tiny_scbasset()
    dir <- S4Vectors::metadata(sce)$seqATAC$scBasset$model_dir
    expect_error(denoiseAccessibility(tiny_sce(), peaks = 1),
                 "found no model recorded in metadata\\(x\\)\\$seqATAC\\$scBasset; train one .*or pass model = ")
    expect_error(denoiseAccessibility(sce, peaks = 1, model = tempdir()), "holds no saved seqatac model")
    expect_error(denoiseAccessibility(sce[, 1:10], peaks = 1),
                 "x's 10 cells are not the 300 cells the scBasset model .* was trained on")
    expect_error(denoiseAccessibility(sce, peaks = 1, genome = file.path(tempdir(), "gone.fa")),
                 "genome FASTA '.*gone.fa' does not exist; pass genome = ")
    moved <- edited_model(dir, function(text) sub('"genome_fasta": ".*"', '"genome_fasta": "/moved/genome.fa"', text))
    expect_error(denoiseAccessibility(sce, peaks = 1, model = moved),
                 "genome FASTA recorded with the scBasset model .*/moved/genome.fa.* pass genome = ")
    # the FASTA given replaces the recorded one
    fixed <- denoiseAccessibility(sce, peaks = 2, model = moved, genome = S4Vectors::metadata(sce)$seqATAC$genome)
    expect_identical(sum(SummarizedExperiment::assay(fixed, "denoised")[-2, ]), 0)
    cellspace_dir <- edited_model(dir, function(text) sub('"model": "scbasset"', '"model": "CellSpace"', text))
    expect_error(denoiseAccessibility(sce, peaks = 1, model = cellspace_dir),
                 "needs a model of type scBasset, but .* holds one of type CellSpace")
})

test_that("peak choices are validated and the dgCMatrix limit is checked before Python starts", {
    names <- c("chr1:0-10", "chr1:20-30", "chr2:5-9")
    expect_identical(seqATAC:::.select_rows(NULL, names), 1:3)
    expect_identical(seqATAC:::.select_rows(c("chr2:5-9", "chr1:0-10"), names), c(1L, 3L))
    expect_identical(seqATAC:::.select_rows(c(3, 2, 3), names), 2:3)
    expect_identical(seqATAC:::.select_rows(c(FALSE, TRUE, TRUE), names), 2:3)
    expect_error(seqATAC:::.select_rows("chr9:1-2", names), "1 peak\\(s\\) are not rows of x \\(e.g. 'chr9:1-2'\\)")
    expect_error(seqATAC:::.select_rows(4, names), "between 1 and 3")
    expect_error(seqATAC:::.select_rows(c(TRUE, FALSE), names), "one TRUE/FALSE per peak \\(3\\)")
    expect_error(seqATAC:::.select_rows(rep(FALSE, 3), names), "selects no peak")

    # rows of dense values as an otherwise empty dgCMatrix
    values <- matrix(c(0.1, 0.2, 0.3, 0.4), 2, 2)  # 2 chosen rows x 2 cells
    m <- seqATAC:::.rows_as_dgc(values, c(2L, 4L), c(5L, 2L), list(NULL, c("a", "b")))
    expected <- matrix(0, 5, 2, dimnames = list(NULL, c("a", "b")))
    expected[c(2, 4), ] <- values
    expect_identical(as.matrix(m), expected)
    expect_true(methods::validObject(m))

    # 2^31 values do not fit a dgCMatrix: an error before anything is computed
    big <- SingleCellExperiment::SingleCellExperiment(
        list(counts = Matrix::sparseMatrix(i = 1, j = 1, x = 1, dims = c(50000L, 50000L))))
    rownames(big) <- paste0("chr1:", 0:49999 * 10L, "-", 0:49999 * 10L + 5L)
    colnames(big) <- paste0("c", seq_len(ncol(big)))
    expect_error(denoiseAccessibility(big, model = tempdir()),
                 "more values than the 2\\^31 - 1 a dgCMatrix holds; choose fewer peaks .* or .* file = ")
})
