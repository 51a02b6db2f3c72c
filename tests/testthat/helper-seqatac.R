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
