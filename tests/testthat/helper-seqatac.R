# Shared fixtures: the backend check and one tiny simulation per test run (simulating costs ~20 s).

skip_if_no_backend <- function() {
    skip_if(!nzchar(Sys.getenv("SEQATAC_PYTHON")) && is.null(getOption("seqATAC.python")),
            "no Python backend configured (set SEQATAC_PYTHON)")
}

.fixtures <- new.env()

tiny_sce <- function() {
    if (is.null(.fixtures$sce)) {
        .fixtures$sce <- simulateATAC("tiny", seed = 1L, rna = TRUE,
                                      dir = file.path(tempdir(), "seqATAC-test-simulation"))
    }
    .fixtures$sce
}

# The engine's Python modules, in this R session.
py_module <- function(name) {
    seqATAC:::.bind_python(seqATAC:::.configured_python())
    reticulate::import(name, convert = FALSE)
}

py_matrix <- function(x) reticulate::py_to_r(x)

# A Seurat object holding the tiny simulation's counts in an assay named `assay`, features renamed
# chr-start-end as Signac does.
tiny_seurat <- function(assay = "peaks") {
    skip_if_not_installed("SeuratObject")
    counts <- SummarizedExperiment::assay(tiny_sce(), "counts")
    rownames(counts) <- sub(":", "-", rownames(counts), fixed = TRUE)
    SeuratObject::CreateSeuratObject(counts, assay = assay)
}

TEST_MOTIFS <- c("CEBPA", "HNF4A", "MA0139.2")

# tfActivity() on the tiny simulation, computed once.
tiny_chromvar <- function() {
    if (is.null(.fixtures$chromvar)) {
        .fixtures$chromvar <- tfActivity(tiny_sce(), motifs = TEST_MOTIFS, n_backgrounds = 20, seed = 3)
    }
    .fixtures$chromvar
}

# Small model settings that train in seconds on the tiny simulation.
SMALL_SCBASSET <- list(seq_len = 200, n_filters_init = 16, stem_kernel_size = 9, n_tower_layers = 2,
                       filters_mult = 1.25, n_filters_pre_bottleneck = 16, bottleneck_size = 8)
FAST_CELLSPACE <- list(bucket = 4096, examples_per_event = 4, n_latent = 10)
SMALL_EPIFOUNDATION <- list(preset = "tiny", d_model = 32, n_heads = 2, d_ff = 64, n_layers = 1, max_len = 64,
                            max_genes = 32)

# The tiny simulation with a one-epoch scBasset (seed 2, CEBPA activity), trained once.
tiny_scbasset <- function() {
    if (is.null(.fixtures$scbasset)) {
        .fixtures$scbasset <- do.call(runScBasset, c(
            list(tiny_sce(), epochs = 1, batch_size = 64, device = "cpu", motifs = "CEBPA", n_backgrounds = 8,
                 dir = file.path(tempdir(), "scbasset-model"), seed = 2),
            SMALL_SCBASSET))
    }
    .fixtures$scbasset
}

# The tiny simulation with an EpiFoundation pre-trained, fine-tuned for expression and annotation (seed 5).
tiny_epifoundation <- function() {
    if (is.null(.fixtures$epifoundation)) {
        .fixtures$epifoundation <- do.call(runEpiFoundation, c(
            list(tiny_sce(), rna = "RNA", labels = "cell_type", pretrain_epochs = 1, annotate_epochs = 2,
                 expression_epochs = 1, lr = 3e-3, device = "cpu", training = list(max_cells = 16, max_tokens = 512),
                 dir = file.path(tempdir(), "epifoundation-model"), seed = 5),
            SMALL_EPIFOUNDATION))
    }
    .fixtures$epifoundation
}

# The simulation's AnnData as the Python engine wrote it (an independent path to the same data).
tiny_anndata <- function() {
    py_module("anndata")$read_h5ad(file.path(S4Vectors::metadata(tiny_sce())$seqATAC$dir, "atac.h5ad"))
}

# A copy of a saved model directory whose config.json is edited by `edit` (a function of its text).
edited_model <- function(dir, edit) {
    copy <- tempfile("edited-model-")
    dir.create(copy)
    file.copy(list.files(dir, full.names = TRUE), copy)
    config <- file.path(copy, "config.json")
    writeLines(edit(readLines(config, warn = FALSE)), config)
    copy
}
