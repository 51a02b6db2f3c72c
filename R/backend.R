#' Report the Python backend used by seqATAC
#'
#' seqATAC runs the `seqatac` Python engine. The backend is chosen in this order:
#' `options(seqATAC.python = "/path/to/python")`, then the environment variable
#' `SEQATAC_PYTHON`; each must name a Python interpreter in which `seqatac` is installed.
#'
#' @return A list with elements `type` (`"python"`), `python` (the interpreter path)
#'   and `version` (the `seqatac` version it reports).
#' @examples
#' if (nzchar(Sys.getenv("SEQATAC_PYTHON"))) seqatacBackend()
#' @export
seqatacBackend <- function() {
    python <- getOption("seqATAC.python", default = Sys.getenv("SEQATAC_PYTHON", unset = ""))
    if (!nzchar(python)) {
        stop("No Python backend for seqATAC is configured. Set options(seqATAC.python = ",
             "\"/path/to/python\") or the environment variable SEQATAC_PYTHON to a Python ",
             "in which 'pip install seqatac' has been run.", call. = FALSE)
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
