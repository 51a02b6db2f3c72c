#' The seqATAC basilisk environment
#'
#' A [basilisk::BasiliskEnvironment()] holding Python 3.11 with the `seqatac` engine and the exact
#' versions of its dependencies that seqATAC is tested with (the CPU build of torch). It is the
#' fallback backend of every seqATAC function when no Python is configured (see [seqatacBackend()]).
#'
#' @details
#' basilisk creates the environment the first time it is needed: it installs a private conda
#' (Miniconda, several hundred MB, needs internet access) and then the pinned packages with pip
#' (about 1 GB with torch). This first use can take many minutes and fails offline or behind a
#' proxy. To build the environment once at package installation instead, install seqATAC with
#' the environment variable `BASILISK_USE_SYSTEM_DIR=1`; the environment then lives inside the
#' installed package. Machines without conda or internet (such as CI) should set
#' `options(seqATAC.python = )` or `SEQATAC_PYTHON` to a Python in which `pip install seqatac`
#' has been run instead.
#'
#' torch is pinned to `torch==2.13.0`; basilisk's pip step uses the default index, so on Linux
#' install the CPU wheel beforehand (or point pip at the PyTorch CPU index with the environment
#' variable `PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu`) to avoid the CUDA build.
#'
#' @format A [basilisk::BasiliskEnvironment-class] object.
#' @seealso [seqatacBackend()] for the order in which backends are chosen.
#' @examples
#' seqatacEnv
#' @export
seqatacEnv <- basilisk::BasiliskEnvironment(
    envname = "seqatac_env",
    pkgname = "seqATAC",
    packages = "python==3.11",
    channels = "conda-forge",
    pip = c(
        "seqatac==0.1.0",
        "torch==2.13.0",
        "numpy==1.26.4",
        "scipy==1.17.1",
        "pandas==2.3.3",
        "anndata==0.12.19",
        "h5py==3.16.0",
        "pyfaidx==0.9.2.2",
        "pyjaspar==4.0.0",
        "scikit-learn==1.9.1",
        "igraph==1.0.0",
        "leidenalg==0.12.0",
        "matplotlib==3.11.2",
        "tqdm==4.70.1"
    )
)

# Where basilisk keeps (or would keep) seqatacEnv; TRUE when it already exists, so that using it
# starts no conda installation.
.basilisk_env_exists <- function() {
    envname <- "seqatac_env"
    if (basilisk.utils::useSystemDir()) {
        path <- system.file("basilisk", envname, package = "seqATAC")
        return(nzchar(path))
    }
    path <- file.path(basilisk.utils::getExternalDir(), "seqATAC",
                      as.character(utils::packageVersion("seqATAC")), envname)
    dir.exists(path)
}

# Run `fun(...)` with the backend chosen by seqatacBackend(): in this R session through reticulate
# with the configured Python, or in basilisk's environment with basiliskRun(). `fun` imports the
# Python modules it needs itself and returns plain R objects only (basilisk may run it in another
# process). Its argument names must not be `proc`, `fun` or `env` (basiliskRun's own).
.run_seqatac <- function(fun, ...) {
    backend <- seqatacBackend()
    if (identical(backend$type, "python")) {
        .bind_python(.configured_python())
        return(fun(...))
    }
    tryCatch(
        basilisk::obtainEnvironmentPath(seqatacEnv),
        error = function(e) {
            stop("The seqATAC basilisk environment could not be created: ", conditionMessage(e),
                 "\nIf conda cannot be installed here (no internet), set options(seqATAC.python = ",
                 "\"/path/to/python\") or SEQATAC_PYTHON to a Python in which 'pip install seqatac' ",
                 "has been run.", call. = FALSE)
        }
    )
    basilisk::basiliskRun(env = seqatacEnv, fun = fun, ...)
}

# Bind reticulate to `python` (once per R session) and check that seqatac imports there.
.bind_python <- function(python) {
    if (reticulate::py_available(initialize = FALSE)) {
        active <- normalizePath(reticulate::py_config()$python, mustWork = FALSE)
        if (!identical(active, normalizePath(python, mustWork = FALSE))) {
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
