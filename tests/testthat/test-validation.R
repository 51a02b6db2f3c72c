# Arguments are checked in R before Python starts: every call here would fail on the missing Python
# NO_PYTHON if it got that far, so each expected error proves the check came first.

test_that("unknown arguments are refused before Python starts, with the valid names and a suggestion", {
    fasta <- two_peak_fasta()
    with_backend_settings(NO_PYTHON, {
        expect_error(runCellSpace(two_peaks(), genome = fasta, epoch = 1),
                     "runCellSpace\\(\\): unknown argument 'epoch' \\(did you mean 'epochs'\\?\\)\\. \\.\\.\\. takes CellSpace options: n_latent, k, ngrams")
        expect_error(runCellSpace(two_peaks(), genome = fasta, BPPARAM = list()),
                     "unknown argument 'BPPARAM'.*seqATAC does not use BiocParallel: .* n_threads")
        expect_error(runScBasset(two_peaks(), genome = fasta, bottleneck = 8, n_filters = 2),
                     "unknown arguments 'bottleneck' \\(did you mean 'bottleneck_size'\\?\\), 'n_filters'.*seq_len, n_filters_init")
        expect_error(runScBasset(two_peaks(), genome = fasta, training = list(learning_rate = 0.1)),
                     "training takes scBasset training options: lr, max_steps")
        expect_error(runEpiFoundation(two_peaks(), labels = "x", heads = 2),
                     "runEpiFoundation\\(\\): unknown argument 'heads'.*d_model, n_layers, n_heads")
        expect_error(runEpiFoundation(two_peaks(), labels = "x", training = list(epochs = 2)),
                     "training takes EpiFoundation training options")
        expect_error(annotateCellTypes(two_peaks(), model = tempdir(), inference = list(batch = 3)),
                     "inference takes EpiFoundation inference options: max_len")
        expect_error(runCellSpace(two_peaks(), genome = fasta, 32), "must be named")
        # match.arg, counts, flags
        expect_error(runScBasset(two_peaks(), genome = fasta, device = "tpu"), "'arg' should be one of")
        expect_error(runEpiFoundation(two_peaks(), labels = "x", preset = "huge"), "'arg' should be one of")
        expect_error(runCellSpace(two_peaks(), genome = fasta, epochs = 0), "epochs must be one positive integer")
        expect_error(runCellSpace(two_peaks(), genome = fasta, deterministic = NA), "deterministic must be TRUE or FALSE")
        expect_error(runCellSpace(two_peaks(), genome = fasta, deterministic = TRUE, n_threads = 2),
                     "deterministic = TRUE trains on one thread")
        expect_error(runCellSpace(two_peaks(), genome = fasta, verbose = "yes"), "verbose must be TRUE, FALSE or NULL")
    })
})

test_that("assay.type is accepted as scater takes it, and must agree with assay", {
    sce <- two_peaks()
    counts <- SummarizedExperiment::assay(sce, "counts")
    SummarizedExperiment::assay(sce, "logcounts") <- log1p(counts) * 1.5
    fasta <- two_peak_fasta()
    with_backend_settings(NO_PYTHON, {
        for (verb in list(runCellSpace, runScBasset, tfActivity)) {
            # the assay chosen by assay.type is the one checked (and refused: not counts)
            expect_error(verb(sce, genome = fasta, assay.type = "logcounts"), "assay 'logcounts' does not look like counts")
            expect_error(verb(sce, genome = fasta, assay.type = "PeakMatrix"), "x has no assay 'PeakMatrix'")
            expect_error(verb(sce, genome = fasta, assay = "counts", assay.type = "logcounts"),
                         "assay = 'counts' and assay.type = 'logcounts' disagree")
        }
        expect_error(runEpiFoundation(sce, labels = "x", assay.type = 3), "assay \\(or assay.type\\) must be one assay name")
    })
})

test_that("the option names R accepts are the engine's", {
    skip_if_no_backend()
    inspect <- py_module("inspect")
    dataclasses <- py_module("dataclasses")
    models <- py_module("seqatac.models")
    fields <- function(cls) seqATAC:::.py_strings(reticulate::py_eval(
        "lambda cls: [f.name for f in __import__('dataclasses').fields(cls)]")(cls))
    parameters <- function(f) seqATAC:::.py_strings(reticulate::py_eval(
        "lambda f: list(__import__('inspect').signature(f).parameters)")(f))
    options <- seqATAC:::.OPTIONS
    scbasset <- py_module("seqatac.models.scbasset")
    constructor <- setdiff(parameters(models$ScBasset$`__init__`), c("self", "adata", "genome", "random_state", "architecture"))
    expect_setequal(options$scBasset, c(constructor, setdiff(fields(scbasset$ScBassetConfig), c("n_cells", "n_batches"))))
    fit <- setdiff(parameters(models$ScBasset$fit), c("self", "max_epochs", "batch_size", "device", "verbose",
                                                      "checkpoint_dir", "checkpoint_every", "checkpoint_steps", "resume"))
    expect_setequal(options$scBasset_training, fit)
    cellspace <- py_module("seqatac.models.cellspace")
    expect_setequal(options$CellSpace, fields(cellspace$CellSpaceConfig))
    epifoundation <- py_module("seqatac.models.epifoundation")
    architecture <- setdiff(fields(epifoundation$EpiFoundationConfig), c("n_peaks", "n_genes", "n_cell_types", "n_batches"))
    expect_setequal(options$EpiFoundation, c("min_mapped_fraction", architecture))
    training <- py_module("seqatac.models.epifoundation._train")
    expect_setequal(options$EpiFoundation_training,
                    setdiff(fields(training$TrainingOptions), c("max_epochs", "lr", "device", "verbose", "checkpoint_dir",
                                                                "checkpoint_every", "checkpoint_steps", "resume")))
})
