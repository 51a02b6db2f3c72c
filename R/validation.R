# Argument checks made in R, before Python starts (snifter's rule): a wrong name or value fails at once
# with a message that lists what is valid, instead of a Python TypeError seconds later.

# The engine's option names each `...` (or `training =` / `inference =` list) may carry, by verb. Kept
# equal to the engine's signatures by tests/testthat/test-validation.R.
.OPTIONS <- list(
    scBasset = c(
        # ScBasset(): model and data options
        "l2_cell", "l2_batch", "train_fraction", "min_cell_fraction", "standard_chromosomes", "sequence_cache",
        # ScBassetConfig: architecture
        "seq_len", "n_filters_init", "stem_kernel_size", "stem_pool_size", "n_tower_layers", "tower_kernel_size",
        "tower_pool_size", "filters_mult", "n_filters_pre_bottleneck", "bottleneck_size", "dropout"
    ),
    scBasset_training = c(
        "lr", "max_steps", "cell_batch_size", "early_stopping", "patience", "min_delta", "restore_best",
        "reverse_complement", "shift_max", "precision", "n_threads", "recipe", "cell_init", "head_lr",
        "head_warmup_epochs"
    ),
    CellSpace = c(
        "n_latent", "k", "ngrams", "sample_length", "bucket", "examples_per_event", "margin", "lr", "final_lr",
        "n_candidates", "max_negatives", "group_size", "init_sd", "max_norm", "p"
    ),
    EpiFoundation = c(
        "min_mapped_fraction", "d_model", "n_layers", "n_heads", "d_ff", "dropout", "max_len", "max_genes",
        "query_dim", "decoder", "n_expression_bins", "use_chromosomes"
    ),
    EpiFoundation_training = c(
        "min_lr", "warmup_fraction", "max_tokens", "max_cells", "grad_accumulation", "grad_clip", "precision",
        "n_threads", "max_len", "validation_fraction", "patience", "class_weight", "label_smoothing",
        "encoder_lr_scale", "head_warmup_epochs"
    ),
    EpiFoundation_inference = c("max_len", "max_tokens", "max_cells", "precision", "n_threads")
)

# `options` (a named list from `...` or a list argument) checked against the names in .OPTIONS[[kind]];
# `arguments` are the verb's own argument names, offered when a name is close to one of them.
.check_options <- function(options, kind, verb, what = "...", arguments = character(0)) {
    if (!is.list(options)) stop(verb, "(): ", what, " must be a named list.", call. = FALSE)
    if (length(options) == 0L) {
        return(list())
    }
    given <- names(options)
    if (is.null(given) || any(is.na(given) | !nzchar(given))) {
        stop(verb, "(): the options in ", what, " must be named (e.g. ", .OPTIONS[[kind]][[1]], " = ...); ",
             "valid names: ", paste(.OPTIONS[[kind]], collapse = ", "), ".", call. = FALSE)
    }
    unknown <- setdiff(given, .OPTIONS[[kind]])
    if (length(unknown)) {
        hints <- vapply(unknown, function(name) .hint(name, c(.OPTIONS[[kind]], arguments)), "")
        extra <- if ("BPPARAM" %in% unknown) {
            " seqATAC does not use BiocParallel: the engine's threads are set with n_threads."
        } else ""
        stop(verb, "(): unknown argument", if (length(unknown) > 1L) "s" else "", " ",
             paste0("'", unknown, "'", hints, collapse = ", "), ". ", what, " takes ",
             sub("_", " ", kind, fixed = TRUE), " options: ", paste(.OPTIONS[[kind]], collapse = ", "),
             if (length(arguments)) paste0("; the other arguments are ", paste(arguments, collapse = ", ")) else "",
             ".", extra, call. = FALSE)
    }
    .as_python_options(options)
}

# " (did you mean 'epochs'?)" for the closest valid name, or "".
.hint <- function(name, valid) {
    longer <- valid[startsWith(tolower(valid), tolower(name))]
    if (length(longer)) {
        return(paste0(" (did you mean '", longer[[1]], "'?)"))
    }
    distance <- utils::adist(name, valid, ignore.case = TRUE)[1, ]
    best <- which.min(distance)
    if (length(best) && distance[[best]] <= max(2, nchar(name) %/% 3)) paste0(" (did you mean '", valid[[best]], "'?)") else ""
}

# Whole numbers as integers, so that Python receives ints for sizes and counts.
.as_python_options <- function(options) {
    lapply(options, function(value) {
        if (is.numeric(value) && length(value) == 1L && !is.na(value) && value == round(value) &&
            abs(value) < .Machine$integer.max && !identical(value, 0)) as.integer(value) else value
    })
}

# `assay` / scater's `assay.type` (either may be given; both must agree). NULL when neither is.
.assay_name <- function(assay, assay.type) {
    for (value in list(assay, assay.type)) {
        if (!is.null(value) && (!is.character(value) || length(value) != 1L || is.na(value))) {
            stop("assay (or assay.type) must be one assay name.", call. = FALSE)
        }
    }
    if (!is.null(assay) && !is.null(assay.type) && !identical(assay, assay.type)) {
        stop("assay = '", assay, "' and assay.type = '", assay.type, "' disagree; give one of them.", call. = FALSE)
    }
    if (is.null(assay)) assay.type else assay
}

.check_count <- function(value, what) {
    if (!is.numeric(value) || length(value) != 1L || is.na(value) || value < 1 || value != round(value)) {
        stop(what, " must be one positive integer.", call. = FALSE)
    }
    as.integer(value)
}

.check_flag <- function(value, what) {
    if (!is.logical(value) || length(value) != 1L || is.na(value)) stop(what, " must be TRUE or FALSE.", call. = FALSE)
    value
}

.check_name <- function(value, what) {
    if (!is.character(value) || length(value) != 1L || is.na(value) || !nzchar(value)) {
        stop(what, " must be one non-empty string.", call. = FALSE)
    }
    value
}
