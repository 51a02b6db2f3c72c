# What outlives the R session and what reaches the console: model directories persist by default,
# Python's progress output is silenced from R, and Python warnings become R warnings.

test_that("a model saved by default outlives its R session and loads in the next one; verbose controls output", {
    skip_if_no_backend()
    user_data <- tempfile("user-data-")
    saved <- tempfile(fileext = ".rds")
    script <- tempfile(fileext = ".R")
    writeLines(c(
        "suppressPackageStartupMessages(library(seqATAC))",
        "sce <- seqatacExample(rna = FALSE)",
        "cat('<<quiet>>\\n')",
        "sce <- runCellSpace(sce, epochs = 2, bucket = 4096, examples_per_event = 2, deterministic = TRUE)",
        "cat('<<verbose>>\\n')",
        "sce <- runCellSpace(sce, epochs = 1, bucket = 4096, examples_per_event = 2, deterministic = TRUE,",
        "                    verbose = TRUE, name = 'Again')",
        "cat('<<done>>\\n')",
        sprintf("saveRDS(sce, '%s')", saved)
    ), script)
    # a fresh R session whose user data directory (tools::R_user_dir) is a new temporary one
    output <- system2(file.path(R.home("bin"), "Rscript"), c("--vanilla", script), stdout = TRUE, stderr = TRUE,
                      env = c(paste0("R_USER_DATA_DIR=", user_data),
                              paste0("SEQATAC_PYTHON=", seqATAC:::.configured_python()),
                              paste0("R_LIBS=", paste(.libPaths(), collapse = .Platform$path.sep))))
    expect_null(attr(output, "status"))
    quiet <- output[seq(which(output == "<<quiet>>") + 1L, length.out = which(output == "<<verbose>>") - which(output == "<<quiet>>") - 1L)]
    loud <- output[seq(which(output == "<<verbose>>") + 1L, length.out = which(output == "<<done>>") - which(output == "<<verbose>>") - 1L)]
    expect_false(any(grepl("epoch|loss|it/s|%\\|", quiet, ignore.case = TRUE)), label = "no progress without verbose")
    expect_true(any(grepl("epoch|loss", loud, ignore.case = TRUE)), label = "progress with verbose = TRUE")

    # that session is over (its tempdir is gone); its model directory is not
    sce <- readRDS(saved)
    dir <- S4Vectors::metadata(sce)$seqATAC$CellSpace$model_dir
    expect_identical(dirname(dir), normalizePath(file.path(user_data, "R", "seqATAC", "models")))
    expect_match(basename(dir), "^CellSpace-[0-9]{8}-[0-9]{6}-")
    expect_true(file.exists(file.path(dir, "config.json")))
    model <- loadSeqatacModel(dir)
    expect_identical(model$model, "CellSpace")
    expect_identical(model$cells, colnames(sce))
    expect_identical(model$epochs, 2L)
})

test_that("seqatacModelDir() is the user data directory unless an option says otherwise", {
    saved <- options(seqATAC.model_dir = NULL)
    on.exit(options(saved))
    expect_identical(seqatacModelDir(), file.path(tools::R_user_dir("seqATAC", "data"), "models"))
    options(seqATAC.model_dir = "/somewhere/models")
    expect_identical(seqatacModelDir(), "/somewhere/models")
    options(seqATAC.model_dir = 3)
    expect_error(seqatacModelDir(), "must be one directory path")
    options(seqATAC.model_dir = tempdir())
    dir <- seqATAC:::.model_dir(NULL, "scBasset")
    expect_identical(dirname(dir), normalizePath(tempdir()))
    expect_false(file.exists(dir))
    expect_false(identical(dir, seqATAC:::.model_dir(NULL, "scBasset")))  # a new one each time
})

test_that("setSeqATACVerbose sets the default of verbose = NULL", {
    saved <- options(seqATAC.verbose = NULL)
    on.exit(options(saved))
    expect_false(seqATAC:::.verbose(NULL))
    expect_false(setSeqATACVerbose(TRUE))
    expect_true(seqATAC:::.verbose(NULL))
    expect_false(seqATAC:::.verbose(FALSE))
    expect_true(setSeqATACVerbose(FALSE))
    expect_error(setSeqATACVerbose(NA), "TRUE or FALSE")
})

test_that("Python warnings reach R as warnings that R code can handle", {
    skip_if_no_backend()
    sce <- tiny_sce()
    counts <- SummarizedExperiment::assay(sce, "counts")
    counts[, 1] <- 0
    SummarizedExperiment::assay(sce, "counts") <- Matrix::drop0(counts)
    expect_warning(
        runCellSpace(sce, epochs = 1, bucket = 4096, examples_per_event = 2, deterministic = TRUE, name = "Empty"),
        "seqatac: SeqatacWarning: 1 cell\\(s\\) have no open event")
    expect_silent(suppressWarnings(
        runCellSpace(sce, epochs = 1, bucket = 4096, examples_per_event = 2, deterministic = TRUE, name = "Empty2")))
})
