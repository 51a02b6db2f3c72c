#' Report the Python backend used by seqATAC
#'
#' seqATAC runs the `seqatac` Python engine. The backend is chosen in this order:
#' 1. `options(seqATAC.python = "/path/to/python")`, then the environment variable
#'    `SEQATAC_PYTHON`: a Python interpreter in which `seqatac` is installed, used in this R session
#'    through reticulate (what developers and CI use);
#' 2. the basilisk environment [seqatacEnv], when it is already installed (see
#'    `BASILISK_USE_SYSTEM_DIR` in [seqatacEnv]) or when `options(seqATAC.basilisk = TRUE)` allows
#'    basilisk to create it: its first use installs conda and the pinned Python packages, which needs
#'    internet access and can take many minutes. `options(seqATAC.basilisk = FALSE)` never uses it.
#'
#' reticulate binds one Python per R session: set the option before the first seqATAC call.
#'
#' @return A list with elements `type` (`"python"` or `"basilisk"`), `python` (the interpreter path,
#'   `NA` for basilisk), `version` (the `seqatac` version: reported by the Python, or the version
#'   pinned in [seqatacEnv]) and, for basilisk, `installed` (whether the environment exists yet).
#' @examples
#' if (nzchar(Sys.getenv("SEQATAC_PYTHON"))) seqatacBackend()
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
    version <- suppressWarnings(system2(python,
        c("-c", shQuote("import seqatac; print(seqatac.__version__)")),
        stdout = TRUE, stderr = FALSE))
    status <- attr(version, "status")
    if (!is.null(status) && status != 0L || length(version) != 1L) {
        stop("The Python at '", python, "' cannot import seqatac. Install it there with ",
             "'", python, " -m pip install seqatac' (or 'pip install -e .' from the source tree).",
             call. = FALSE)
    }
    list(type = "python", python = normalizePath(python), version = version)
}

# The Python set by option or environment variable, as given: a virtualenv's python is a symlink
# that must not be resolved, or reticulate would start the base interpreter outside the venv.
.configured_python <- function() {
    getOption("seqATAC.python", default = Sys.getenv("SEQATAC_PYTHON", unset = ""))
}

.basilisk_backend <- function() {
    allowed <- getOption("seqATAC.basilisk", default = NULL)
    installed <- !isFALSE(allowed) && .basilisk_env_exists()
    if (!installed && !isTRUE(allowed)) {
        stop("No Python backend for seqATAC is configured. Set options(seqATAC.python = ",
             "\"/path/to/python\") or the environment variable SEQATAC_PYTHON to a Python ",
             "in which 'pip install seqatac' has been run, or allow basilisk to install its ",
             "environment (conda + pinned packages, needs internet) with ",
             "options(seqATAC.basilisk = TRUE).", call. = FALSE)
    }
    pinned <- grep("^seqatac==", seqatacEnv@pip, value = TRUE)
    list(type = "basilisk", python = NA_character_, version = sub("^seqatac==", "", pinned),
         installed = installed)
}
