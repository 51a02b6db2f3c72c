# Every common mistake stops with a message that names the problem and the fix.

test_that("no usable Python backend: the message names the setting to fix", {
    missing <- file.path(tempdir(), "no-such-venv", "bin", "python")
    with_backend_settings(missing, expect_error(
        runCellSpace(two_peaks(), genome = two_peak_fasta()),
        "Python backend '.*no-such-venv/bin/python' does not exist. Point options\\(seqATAC.python = \\) or SEQATAC_PYTHON at an existing Python"))
    with_backend_settings(NULL, expect_error(
        simulateATAC("tiny"), "No Python backend for seqATAC is configured. Set options\\(seqATAC.python = .*SEQATAC_PYTHON"),
        basilisk = FALSE)
    # basilisk allowed but unable to create its environment (here: no writable location; offline: no conda)
    saved_dir <- Sys.getenv("BASILISK_EXTERNAL_DIR", unset = NA)
    on.exit(if (is.na(saved_dir)) Sys.unsetenv("BASILISK_EXTERNAL_DIR") else Sys.setenv(BASILISK_EXTERNAL_DIR = saved_dir))
    Sys.setenv(BASILISK_EXTERNAL_DIR = file.path("/proc", "seqATAC-no-such-dir"))
    with_backend_settings(NULL, expect_error(
        suppressWarnings(simulateATAC("tiny")),
        "basilisk environment could not be created: .*set options\\(seqATAC.python = .*SEQATAC_PYTHON to a Python with the seqatac engine"),
        basilisk = TRUE)
})

test_that("a missing genome FASTA names the file and the genome argument", {
    missing <- file.path(tempdir(), "hg38-missing.fa")
    for (verb in list(runScBasset, runCellSpace, tfActivity)) {
        expect_error(verb(two_peaks(), genome = missing),
                     "The genome FASTA '.*hg38-missing.fa' does not exist; pass genome = the path of the FASTA")
    }
    expect_error(runScBasset(two_peaks()), "genome must be the path of the genome FASTA the peaks were called on")
})

test_that("peaks without coordinates say where coordinates are read from", {
    sce <- two_peaks()
    rownames(sce) <- c("peak1", "peak2")
    expect_error(runCellSpace(sce, genome = two_peak_fasta()),
                 "The peaks have no genomic coordinates \\(e.g. 'peak1'\\). Give them as rowRanges, rowData columns chrom/start/end or row names like chr1:100-200")
    expect_error(denoiseAccessibility(sce, model = tempdir()), "The peaks have no genomic coordinates")
})

test_that("a Seurat object without a peaks assay names the assay and the fix", {
    skip_if_not_installed("SeuratObject")
    genes <- Matrix::sparseMatrix(i = 1:3, j = 1:3, x = 1, dims = c(3L, 3L),
                                  dimnames = list(c("GATA1", "SPI1", "CEBPA"), paste0("c", 1:3)))
    rna <- SeuratObject::CreateSeuratObject(genes, assay = "RNA")
    fasta <- two_peak_fasta()
    expect_error(runScBasset(rna, genome = fasta),
                 "The Seurat assay 'RNA' is not a peaks assay: its features \\(e.g. 'GATA1'\\) are not named chr-start-end. Pass assay = the name of the peaks assay")
    expect_error(denoiseAccessibility(rna, model = tempdir()), "Seurat assay 'RNA' is not a peaks assay")
    expect_error(runCellSpace(rna, genome = fasta, assay = "peaks"), "The Seurat object has no assay 'peaks' \\(it has: RNA\\); pass the name of one of them")
})

test_that("an assay that is not counts-like says which assay and to pass raw counts", {
    sce <- two_peaks()
    fasta <- two_peak_fasta()
    counts <- SummarizedExperiment::assay(sce, "counts")
    SummarizedExperiment::assay(sce, "logcounts") <- log1p(counts)
    negative <- counts
    negative@x[[1]] <- -2
    SummarizedExperiment::assay(sce, "centered") <- negative
    for (assay in c("logcounts", "centered")) {
        expect_error(runCellSpace(sce, genome = fasta, assay = assay),
                     paste0("assay '", assay, "' does not look like counts \\(it has negative, missing or non-integer values\\); pass the raw"))
    }
    expect_error(tfActivity(sce, genome = fasta, assay = "counts_typo"),
                 "x has no assay 'counts_typo' \\(it has: counts, logcounts, centered\\); pass assay = ")
})
