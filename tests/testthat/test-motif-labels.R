# One motif vocabulary: every TF activity result labels a motif as the engine does
# (seqatac.data.motif_columns: the TF name, or NAME_ID where several motifs share a name).

test_that("chromVAR, scBasset and CellSpace label the same motifs identically, as the engine does", {
    skip_if_no_backend()
    tables <- list(
        chromVAR = SingleCellExperiment::altExp(tiny_chromvar(), "chromVARTF"),
        scBasset = SingleCellExperiment::altExp(tiny_scbasset(), "scBassetTF"),
        CellSpace = SingleCellExperiment::altExp(tiny_cellspace(), "CellSpaceTF")
    )
    data <- py_module("seqatac.data")
    motifs <- data$jaspar(names = list("CEBPA", "HNF4A"), ids = list("MA0139.2"))
    expected <- stats::setNames(seqATAC:::.py_strings(data$motif_columns(motifs)),
                                seqATAC:::.motif_labels(motifs)$id)
    expect_true(any(grepl("^HNF4A_MA", expected)))   # the shared name makes NAME_ID labels
    for (name in names(tables)) {
        rows <- SummarizedExperiment::rowData(tables[[name]])
        labels <- stats::setNames(rownames(tables[[name]]), rows$motif_id)
        expect_identical(unname(labels), unname(expected[names(labels)]), label = paste(name, "labels"))
        expect_false(any(grepl(" \\(", labels)), label = paste(name, "has no 'NAME (ID)' labels"))
        expect_identical(rows$motif_name, sub("_.*$", "", rownames(tables[[name]])))
    }
    expect_identical(rownames(tables$scBasset), rownames(tables$CellSpace))
})
