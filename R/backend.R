#' Report the Python backend used by seqATAC
#'
#' seqATAC runs the `seqatac` Python engine. The backend is chosen in this order:
#' 1. `options(seqATAC.python = "/path/to/python")`, then the environment variable
#'    `SEQATAC_PYTHON`: a Python interpreter in which `seqatac` is installed, used in this R session
#'    through reticulate (what developers and CI use; `make install` in a seqATAC source checkout
#'    creates one, `.venv/bin/python`);
#' 2. the basilisk environment [seqatacEnv], when it is already installed (see
#'    `BASILISK_USE_SYSTEM_DIR` in [seqatacEnv]) or when `options(seqATAC.basilisk = TRUE)` allows
#'    basilisk to create it: its first use installs conda and the pinned Python packages, which needs
#'    internet access and can take many minutes. `options(seqATAC.basilisk = FALSE)` never uses it.
#'
#' reticulate binds one Python per R session: set the option before the first seqATAC call.
#' `hasSeqatacBackend()` tells, without starting Python or installing anything, whether a backend is
#' available; the package's examples, vignette and tests run only when it is, and say so when not.
#'
#' @return `seqatacBackend()`: a list with elements `type` (`"python"` or `"basilisk"`), `python` (the
#'   interpreter as the engine sees it, `sys.executable`: a virtualenv's own `bin/python`, not the base
#'   interpreter its symlink points to; `NA` for basilisk), `prefix` (its `sys.prefix`, the virtualenv;
#'   `NA` for basilisk), `version` (the `seqatac` version: reported by the Python, or that of the
#'   sources shipped for [seqatacEnv]) and, for basilisk, `installed` (whether the environment exists
#'   yet). `hasSeqatacBackend()`: `TRUE` or `FALSE` (with a message saying what to set when `quiet` is
#'   `FALSE`).
#' @param quiet Do not explain a missing backend.
#' @examples
#' if (hasSeqatacBackend()) seqatacBackend()
#' @export
seqatacBackend <- function() {
    python <- .configured_python()
    if (!nzchar(python)) {
        return(.basilisk_backend())
    }
    if (!file.exists(python)) {
        stop("The seqATAC Python backend '", python, "' does not exist. Point ",
             "options(seqATAC.python = ) or SEQATAC_PYTHON at an existing Python executable.",
             call. = FALSE)
    }
    script <- "import sys, seqatac; print(seqatac.__version__); print(sys.executable); print(sys.prefix)"
    reported <- suppressWarnings(system2(python, c("-c", shQuote(script)), stdout = TRUE, stderr = FALSE))
    status <- attr(reported, "status")
    if (!is.null(status) && status != 0L || length(reported) != 3L) {
        stop("The Python at '", python, "' cannot import seqatac. ", .install_engine_hint(python), call. = FALSE)
    }
    list(type = "python", python = reported[[2]], prefix = reported[[3]], version = reported[[1]])
}

#' @rdname seqatacBackend
#' @export
hasSeqatacBackend <- function(quiet = FALSE) {
    python <- .configured_python()
    if (nzchar(python)) {
        return(TRUE)
    }
    allowed <- getOption("seqATAC.basilisk", default = NULL)
    if (!isFALSE(allowed) && .basilisk_env_exists()) {
        return(TRUE)
    }
    if (!isTRUE(quiet)) {
        message("seqATAC: no Python backend is configured, so this is not run. Set SEQATAC_PYTHON or ",
                "options(seqATAC.python = ) to a Python with the seqatac engine (see ?seqatacBackend).")
    }
    FALSE
}

# How to install the engine into `python` (or make a Python that has it): commands that work.
.install_engine_hint <- function(python = "/path/to/python") {
    sources <- system.file("python", package = "seqATAC")
    from_package <- if (nzchar(sources) && file.exists(file.path(sources, "pyproject.toml"))) {
        paste0("'", python, "' -m pip install --extra-index-url https://download.pytorch.org/whl/cpu -c '",
               file.path(sources, "constraints.txt"), "' '", sources, "' (the engine sources shipped with ",
               "seqATAC; a writable copy of that directory is needed)")
    } else {
        NULL
    }
    paste0("Install the engine there with ",
           paste(c(from_package, paste0("'make install' in a seqATAC source checkout, then use its ",
                                        ".venv/bin/python")), collapse = ", or "),
           " (seqatac is on no package registry, so pip cannot download it).")
}

# The Python set by option or environment variable, as given: a virtualenv's python is a symlink
# that must not be resolved, or reticulate would start the base interpreter outside the venv.
.configured_python <- function() {
    python <- getOption("seqATAC.python", default = Sys.getenv("SEQATAC_PYTHON", unset = ""))
    if (is.null(python) || is.na(python)) "" else python
}

.basilisk_backend <- function() {
    allowed <- getOption("seqATAC.basilisk", default = NULL)
    installed <- !isFALSE(allowed) && .basilisk_env_exists()
    if (!installed && !isTRUE(allowed)) {
        stop("No Python backend for seqATAC is configured. Set options(seqATAC.python = ",
             "\"/path/to/python\") or the environment variable SEQATAC_PYTHON to a Python with the ",
             "seqatac engine (", .install_engine_hint(), "), or allow basilisk to install its ",
             "environment (conda + pinned packages, needs internet) with ",
             "options(seqATAC.basilisk = TRUE).", call. = FALSE)
    }
    list(type = "basilisk", python = NA_character_, prefix = NA_character_,
         version = .shipped_engine_version(), installed = installed)
}

# The version in the pyproject.toml of the engine sources shipped in inst/python (NA when absent, as in
# a package installed from the repository directory rather than from the tarball `make r-build` makes).
.shipped_engine_version <- function() {
    pyproject <- system.file("python", "pyproject.toml", package = "seqATAC")
    if (!nzchar(pyproject)) {
        return(NA_character_)
    }
    line <- grep("^version *= *\"", readLines(pyproject, warn = FALSE), value = TRUE)
    if (length(line)) sub("^version *= *\"([^\"]+)\".*$", "\\1", line[[1]]) else NA_character_
}

# Where basilisk keeps (or would keep) seqatacEnv; TRUE when it already exists, so that using it
# starts no conda installation.
.basilisk_env_exists <- function() {
    envname <- seqatacEnv@envname
    if (basilisk.utils::useSystemDir()) {
        return(nzchar(system.file("basilisk", envname, package = "seqATAC")))
    }
    path <- file.path(basilisk.utils::getExternalDir(), "seqATAC",
                      as.character(utils::packageVersion("seqATAC")), envname)
    dir.exists(path)
}

# Run `fun(...)` with the backend chosen by seqatacBackend(): in this R session through reticulate
# with the configured Python, or in basilisk's environment with basiliskRun(). `fun` imports the
# Python modules it needs itself and returns plain R objects only (basilisk may run it in another
# process). Python's printed output is dropped unless `verbose` (see setSeqATACVerbose()), and its
# warnings are raised again as R warnings. The argument names of `fun` must not be `proc`, `fun`,
# `env`, `.fun` or `.verbose`.
.run_seqatac <- function(fun, ..., verbose = FALSE) {
    backend <- seqatacBackend()
    if (identical(backend$type, "python")) {
        .bind_python(.configured_python())
        result <- .captured_call(.fun = fun, .verbose = verbose, ...)
    } else {
        .create_basilisk_env()
        result <- basilisk::basiliskRun(env = seqatacEnv, fun = .captured_call, .fun = fun,
                                        .verbose = verbose, ...)
    }
    for (text in result$warnings) warning("seqatac: ", text, call. = FALSE)
    result$value
}

# Inside a worker: `.fun(...)` with Python's output captured (seqatac.r.OutputCapture); returns
# list(value, warnings) so that the warnings can be raised in the calling R process.
.captured_call <- function(.fun, .verbose, ...) {
    bridge <- reticulate::import("seqatac.r", convert = FALSE)
    capture <- bridge$OutputCapture(verbose = isTRUE(.verbose))
    capture$start()
    stopped <- FALSE
    on.exit(if (!stopped) capture$stop())
    value <- .fun(...)
    stopped <- TRUE
    list(value = value, warnings = .py_strings(capture$stop()))
}

# basilisk's first use: create seqatacEnv, with the PyTorch CPU index so that pip takes the CPU torch.
.create_basilisk_env <- function() {
    if (!.basilisk_env_exists()) {
        sources <- system.file("python", package = "seqATAC")
        if (!nzchar(sources) || !file.exists(file.path(sources, "pyproject.toml"))) {
            stop("This seqATAC installation lacks the engine sources (inst/python) that the basilisk ",
                 "environment installs: install seqATAC from the tarball 'make r-build' makes (it stages ",
                 "them), or configure a Python backend (see ?seqatacBackend).", call. = FALSE)
        }
        if (file.access(sources, 2L) != 0L) {
            stop("basilisk would install the engine from '", sources, "', which is not writable (pip builds ",
                 "in place). Install seqATAC with BASILISK_USE_SYSTEM_DIR=1 (the environment is then built ",
                 "at installation) or into a library you can write to, or configure a Python backend ",
                 "(see ?seqatacBackend).", call. = FALSE)
        }
        if (!nzchar(Sys.getenv("PIP_EXTRA_INDEX_URL")) && !nzchar(Sys.getenv("PIP_INDEX_URL"))) {
            Sys.setenv(PIP_EXTRA_INDEX_URL = "https://download.pytorch.org/whl/cpu")
            on.exit(Sys.unsetenv("PIP_EXTRA_INDEX_URL"))
        }
    }
    tryCatch(
        basilisk::obtainEnvironmentPath(seqatacEnv),
        error = function(e) {
            stop("The seqATAC basilisk environment could not be created: ", conditionMessage(e),
                 "\nIf conda cannot be installed here (no internet), set options(seqATAC.python = ",
                 "\"/path/to/python\") or SEQATAC_PYTHON to a Python with the seqatac engine. ",
                 .install_engine_hint(), call. = FALSE)
        }
    )
}

# Bind reticulate to `python` (once per R session) and check that seqatac imports there.
.bind_python <- function(python) {
    if (reticulate::py_available(initialize = FALSE)) {
        active <- reticulate::py_config()$python
        if (!.same_python(active, python)) {
            stop("reticulate is already bound to the Python '", active, "' in this R session, not to ",
                 "the seqATAC backend '", python, "'. Restart R and set options(seqATAC.python = ) ",
                 "before any other package starts Python.", call. = FALSE)
        }
    } else {
        # RETICULATE_PYTHON outranks reticulate's project detection (a pyproject.toml in a parent
        # directory would otherwise send it looking for poetry); it is restored once Python is up.
        previous <- Sys.getenv("RETICULATE_PYTHON", unset = NA)
        Sys.setenv(RETICULATE_PYTHON = python)
        on.exit(if (is.na(previous)) Sys.unsetenv("RETICULATE_PYTHON") else
            Sys.setenv(RETICULATE_PYTHON = previous))
        reticulate::use_python(python, required = TRUE)
    }
    invisible(reticulate::import("seqatac"))
}

# The same interpreter file (a venv's python and the path it was configured by, symlinks allowed).
.same_python <- function(a, b) {
    identical(normalizePath(a, mustWork = FALSE), normalizePath(b, mustWork = FALSE)) ||
        identical(file.path(normalizePath(dirname(a), mustWork = FALSE), basename(a)),
                  file.path(normalizePath(dirname(b), mustWork = FALSE), basename(b)))
}
