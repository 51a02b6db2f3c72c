# Shared fixtures: the backend check and the shipped example data (inst/extdata: 150 cells x 250 peaks),
# with each model trained once per test run.

skip_if_no_backend <- function() {
    skip_if(!hasSeqatacBackend(quiet = TRUE), "no Python backend configured (set SEQATAC_PYTHON)")
}

# Models trained without dir = go here, not to the user's data directory.
options(seqATAC.model_dir = file.path(tempdir(), "seqATAC-test-models"))

.fixtures <- new.env()

tiny_sce <- function() {
    if (is.null(.fixtures$sce)) .fixtures$sce <- seqatacExample()
    .fixtures$sce
}

# The engine's Python modules, in this R session.
py_module <- function(name) {
    seqATAC:::.bind_python(seqATAC:::.configured_python())
    reticulate::import(name, convert = FALSE)
}

py_matrix <- function(x) reticulate::py_to_r(x)

# Peak names as Signac writes them: chr-start-end of the 1-based, closed GRanges.
signac_names <- function(granges) {
    paste(as.character(GenomicRanges::seqnames(granges)), BiocGenerics::start(granges), BiocGenerics::end(granges),
          sep = "-")
}

# A Seurat object holding the example's counts in an assay named `assay`, features named as Signac names
# them.
tiny_seurat <- function(assay = "peaks") {
    skip_if_not_installed("SeuratObject")
    counts <- SummarizedExperiment::assay(tiny_sce(), "counts")
    rownames(counts) <- signac_names(SummarizedExperiment::rowRanges(tiny_sce()))
    SeuratObject::CreateSeuratObject(counts, assay = assay)
}

# Two motifs named HNF4A, so labels need the NAME_ID form, and a JASPAR id.
TEST_MOTIFS <- c("CEBPA", "HNF4A", "MA0139.2")

# tfActivity() on the example, computed once.
tiny_chromvar <- function() {
    if (is.null(.fixtures$chromvar)) {
        .fixtures$chromvar <- tfActivity(tiny_sce(), motifs = TEST_MOTIFS, n_backgrounds = 20, seed = 3)
    }
    .fixtures$chromvar
}

# Small model settings that train in seconds on the example.
SMALL_SCBASSET <- list(seq_len = 200, n_filters_init = 8, stem_kernel_size = 9, n_tower_layers = 1,
                       filters_mult = 1.25, n_filters_pre_bottleneck = 8, bottleneck_size = 8)
FAST_CELLSPACE <- list(bucket = 4096, examples_per_event = 4, n_latent = 10)
SMALL_EPIFOUNDATION <- list(preset = "tiny", d_model = 32, n_heads = 2, d_ff = 64, n_layers = 1, max_len = 64,
                            max_genes = 32)
FAST_TRAINING <- list(max_cells = 64, max_tokens = 2048, precision = "fp32")

# The example with a one-epoch scBasset (seed 2, TF activity of TEST_MOTIFS), trained once.
tiny_scbasset <- function() {
    if (is.null(.fixtures$scbasset)) {
        .fixtures$scbasset <- do.call(runScBasset, c(
            list(tiny_sce(), epochs = 1, batch_size = 64, device = "cpu", motifs = TEST_MOTIFS, n_backgrounds = 4,
                 training = list(precision = "fp32"), dir = file.path(tempdir(), "scbasset-model"), seed = 2),
            SMALL_SCBASSET))
    }
    .fixtures$scbasset
}

# The example with a one-thread CellSpace (seed 4, TF activity of TEST_MOTIFS), trained once.
tiny_cellspace <- function() {
    if (is.null(.fixtures$cellspace)) {
        .fixtures$cellspace <- do.call(runCellSpace, c(
            list(tiny_sce(), epochs = 2, deterministic = TRUE, motifs = TEST_MOTIFS, seed = 4,
                 dir = file.path(tempdir(), "cellspace-model")), FAST_CELLSPACE))
    }
    .fixtures$cellspace
}

# The example with an EpiFoundation pre-trained, fine-tuned for expression and annotation (seed 5).
tiny_epifoundation <- function() {
    if (is.null(.fixtures$epifoundation)) {
        .fixtures$epifoundation <- do.call(runEpiFoundation, c(
            list(tiny_sce(), rna = "RNA", labels = "cell_type", pretrain_epochs = 1, annotate_epochs = 2,
                 expression_epochs = 1, lr = 3e-3, device = "cpu", training = FAST_TRAINING,
                 dir = file.path(tempdir(), "epifoundation-model"), seed = 5),
            SMALL_EPIFOUNDATION))
    }
    .fixtures$epifoundation
}

# The example's AnnData as the engine reads the shipped file (an independent path to the same data).
tiny_anndata <- function() {
    py_module("anndata")$read_h5ad(system.file("extdata", "tiny_atac.h5ad", package = "seqATAC"))
}

tiny_genome <- function() S4Vectors::metadata(tiny_sce())$seqATAC$genome

# A copy of a saved model directory whose config.json is edited by `edit` (a function of its text).
edited_model <- function(dir, edit) {
    copy <- tempfile("edited-model-")
    dir.create(copy)
    file.copy(list.files(dir, full.names = TRUE), copy)
    config <- file.path(copy, "config.json")
    writeLines(edit(readLines(config, warn = FALSE)), config)
    copy
}

# Run `code` with SEQATAC_PYTHON set to `python` (unset when NULL) and no seqATAC backend options.
with_backend_settings <- function(python, code, basilisk = NULL) {
    saved_options <- options(seqATAC.python = NULL, seqATAC.basilisk = basilisk)
    saved_env <- Sys.getenv("SEQATAC_PYTHON", unset = NA)
    on.exit({
        options(saved_options)
        if (is.na(saved_env)) Sys.unsetenv("SEQATAC_PYTHON") else Sys.setenv(SEQATAC_PYTHON = saved_env)
    })
    if (is.null(python)) Sys.unsetenv("SEQATAC_PYTHON") else Sys.setenv(SEQATAC_PYTHON = python)
    force(code)
}

# A Python that does not exist: any verb that reached the backend would fail on it, so an error about an
# argument proves the argument was checked first.
NO_PYTHON <- file.path(tempdir(), "no-such-venv", "bin", "python")

# A valid two-peak object and genome FASTA, so that only the mistake under test is wrong.
two_peaks <- function() {
    SingleCellExperiment::SingleCellExperiment(
        list(counts = Matrix::sparseMatrix(i = 1:2, j = 1:2, x = c(2, 3), dims = c(2L, 2L),
                                           dimnames = list(c("chr1:0-100", "chr1:200-300"), c("c1", "c2")))))
}
two_peak_fasta <- function() {
    fasta <- tempfile(fileext = ".fa")
    writeLines(c(">chr1", strrep("ACGT", 100)), fasta)
    fasta
}
