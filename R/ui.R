#' Show or hide the Python engine's progress output
#'
#' The engine prints progress bars (epochs, loss, speed) and messages on Python's own output, which R's
#' `suppressMessages()` cannot reach. seqATAC therefore drops that output unless asked to show it:
#' every function with a `verbose` argument shows it for `verbose = TRUE`, hides it for `FALSE`, and
#' follows the setting made here for `verbose = NULL` (the default). Python warnings are raised as R
#' warnings either way (prefixed `seqatac:`), so `suppressWarnings()` and `tryCatch()` handle them.
#'
#' @param verbose `TRUE` to show the engine's output by default, `FALSE` (the initial setting) to hide
#'   it.
#'
#' @return The previous setting, invisibly.
#' @examples
#' old <- setSeqATACVerbose(TRUE)
#' getOption("seqATAC.verbose")
#' setSeqATACVerbose(old)
#' @export
setSeqATACVerbose <- function(verbose = TRUE) {
    if (!is.logical(verbose) || length(verbose) != 1L || is.na(verbose)) {
        stop("verbose must be TRUE or FALSE.", call. = FALSE)
    }
    old <- options(seqATAC.verbose = verbose)
    invisible(isTRUE(old$seqATAC.verbose))
}

# A verbose argument (NULL: the setSeqATACVerbose() setting) as TRUE/FALSE.
.verbose <- function(verbose) {
    if (is.null(verbose)) {
        return(isTRUE(getOption("seqATAC.verbose", FALSE)))
    }
    if (!is.logical(verbose) || length(verbose) != 1L || is.na(verbose)) {
        stop("verbose must be TRUE, FALSE or NULL (the setSeqATACVerbose() setting).", call. = FALSE)
    }
    verbose
}
