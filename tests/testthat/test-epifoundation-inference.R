test_that("annotateCellTypes stores the engine's predicted types, confidences and probabilities", {
    skip_if_no_backend()
    sce <- tiny_epifoundation()
    dir <- S4Vectors::metadata(sce)$seqATAC$EpiFoundation$model_dir
    # the saved model reproduces what runEpiFoundation() stored
    again <- annotateCellTypes(sce, device = "cpu")
    expect_identical(again$EpiFoundation_cell_type, sce$EpiFoundation_cell_type)
    expect_equal(again$EpiFoundation_confidence, sce$EpiFoundation_confidence, tolerance = 1e-5)
    expect_identical(S4Vectors::metadata(again), S4Vectors::metadata(sce))  # metadata left as it is

    annotated <- annotateCellTypes(sce, model = dir, probabilities = TRUE, name = "query", device = "cpu")
    model <- py_module("seqatac.models")$EpiFoundation$load(dir)
    expected <- model$predict_cell_type(tiny_anndata(), device = "cpu", verbose = FALSE)
    expect_identical(as.character(annotated$query_cell_type),
                     seqATAC:::.py_strings(reticulate::py_get_item(expected, "cell_type")))
    expect_identical(levels(annotated$query_cell_type), loadSeqatacModel(dir)$cell_types)
    expect_equal(annotated$query_confidence,
                 as.vector(py_matrix(reticulate::py_get_item(expected, "confidence")$to_numpy())), tolerance = 1e-6)
    probabilities <- as.matrix(as.data.frame(SummarizedExperiment::colData(annotated))[
        paste0("query_probability_", levels(annotated$query_cell_type))])
    expect_equal(unname(rowSums(probabilities)), rep(1, ncol(sce)), tolerance = 1e-5)
    expect_equal(unname(apply(probabilities, 1, max)), annotated$query_confidence)

    seurat <- annotateCellTypes(tiny_seurat(), model = loadSeqatacModel(dir), device = "cpu")
    expect_identical(unname(seurat$EpiFoundation_cell_type), annotated$query_cell_type)
})

test_that("the most probable type and its probability are read off the probabilities", {
    probabilities <- rbind(c(0.2, 0.5, 0.3), c(0.4, 0.4, 0.2))
    columns <- seqATAC:::.cell_type_columns(probabilities, c("B", "T", "NK"), "ef", all = TRUE)$cell_data
    expect_identical(names(columns), c("ef_cell_type", "ef_confidence", "ef_probability_B", "ef_probability_T",
                                       "ef_probability_NK"))
    expect_identical(columns$ef_cell_type, factor(c("T", "B"), levels = c("B", "T", "NK")))  # ties: the first
    expect_identical(columns$ef_confidence, c(0.5, 0.4))
    expect_identical(columns$ef_probability_NK, c(0.3, 0.2))
})

test_that("predictExpression returns the engine's predicted levels as genes x cells", {
    skip_if_no_backend()
    sce <- tiny_epifoundation()
    dir <- S4Vectors::metadata(sce)$seqATAC$EpiFoundation$model_dir
    info <- loadSeqatacModel(dir)
    expect_identical(info$model, "EpiFoundation")
    expect_identical(info$genes, rownames(SingleCellExperiment::altExp(sce, "RNA")))
    genes <- info$genes[c(5, 1, 9)]
    predicted <- predictExpression(sce, genes = genes, device = "cpu")
    result <- SingleCellExperiment::altExp(predicted, "EpiFoundationExpression")
    expect_s4_class(result, "SingleCellExperiment")
    levels <- SummarizedExperiment::assay(result, "expression")
    expect_identical(dimnames(levels), list(genes, colnames(sce)))
    expect_identical(S4Vectors::metadata(result)$seqATAC$model_dir, dir)
    expect_identical(S4Vectors::metadata(result)$seqATAC$n_expression_bins, 10L)
    expect_false(all(levels == round(levels)))  # continuous predictions on the bin scale, as documented

    model <- py_module("seqatac.models")$EpiFoundation$load(dir)
    expected <- py_matrix(model$predict_expression(tiny_anndata(), genes = as.list(genes), device = "cpu",
                                                   verbose = FALSE))
    expect_equal(levels, t(expected), ignore_attr = TRUE, tolerance = 1e-6)

    all_genes <- predictExpression(sce, device = "cpu", name = "all")
    expect_identical(rownames(SingleCellExperiment::altExp(all_genes, "all")), info$genes)
    seurat <- predictExpression(tiny_seurat(), genes = genes, model = dir, device = "cpu")
    expect_equal(as.matrix(SeuratObject::GetAssayData(seurat, slot = "data", assay = "EpiFoundationExpression")),
                 levels, ignore_attr = TRUE)
    expect_identical(seurat@misc$seqATAC$EpiFoundationExpression$model_dir, dir)
})

test_that("EpiFoundation inference explains a wrong model, a missing stage and unknown genes", {
    skip_if_no_backend()
    sce <- tiny_epifoundation()
    dir <- S4Vectors::metadata(sce)$seqATAC$EpiFoundation$model_dir
    expect_error(annotateCellTypes(tiny_sce()), "found no model recorded in metadata\\(x\\)\\$seqATAC\\$EpiFoundation")
    scbasset_dir <- S4Vectors::metadata(tiny_scbasset())$seqATAC$scBasset$model_dir
    expect_error(predictExpression(sce, model = scbasset_dir),
                 "predictExpression\\(\\) needs a model of type EpiFoundation, but .* holds one of type scBasset")
    no_expression <- edited_model(dir, function(text) sub('"expression",', "", text, fixed = TRUE))
    expect_identical(loadSeqatacModel(no_expression)$trained, c("pretrain", "annotate"))
    expect_error(predictExpression(sce, model = no_expression),
                 "has not been fine-tuned for predictExpression\\(\\); train it with runEpiFoundation\\(rna = , expression_epochs = \\)")
    expect_error(predictExpression(sce, genes = c("NOTAGENE", rownames(SingleCellExperiment::altExp(sce, "RNA"))[[1]])),
                 "1 gene\\(s\\) are not genes of the EpiFoundation model \\(e.g. 'NOTAGENE'\\); pick genes from loadSeqatacModel")
    expect_error(predictExpression(sce, genes = 1:3), "genes must be NULL .* or a character vector")
    expect_error(annotateCellTypes(matrix(1)), "annotateCellTypes\\(\\) takes a SingleCellExperiment")
})
