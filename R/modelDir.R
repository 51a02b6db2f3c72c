#' Where trained models are saved
#'
#' [runScBasset()], [runCellSpace()] and [runEpiFoundation()] save the trained model to a directory
#' and record it in the object (`metadata(x)$seqATAC[[name]]$model_dir`; Seurat: `x@misc`), so that
#' [denoiseAccessibility()], [annotateCellTypes()], [predictExpression()] and [loadSeqatacModel()] can
#' use it later, in this or any later R session. With `dir = NULL` (the default) the directory is a new
#' one under `seqatacModelDir()`: `<name>-<date>-<time>-<random>`.
#'
#' `seqatacModelDir()` is `options(seqATAC.model_dir = )` when set, else
#' `tools::R_user_dir("seqATAC", "data")/models` (on Linux `~/.local/share/R/seqATAC/models`; the
#' environment variable `R_USER_DATA_DIR` moves it). It persists across R sessions: delete model
#' directories you no longer need (`unlink(dir, recursive = TRUE)`). To keep a model with a project,
#' pass `dir =` explicitly.
#'
#' @return The directory path (it is created when a model is first saved).
#' @examples
#' seqatacModelDir()
#' @export
seqatacModelDir <- function() {
    root <- getOption("seqATAC.model_dir")
    if (is.null(root)) {
        return(file.path(tools::R_user_dir("seqATAC", which = "data"), "models"))
    }
    if (!is.character(root) || length(root) != 1L || is.na(root) || !nzchar(root)) {
        stop("options(seqATAC.model_dir = ) must be one directory path.", call. = FALSE)
    }
    root
}

# A model directory that does not exist yet (the engine creates it): `dir`, or a new one named after the
# model under seqatacModelDir().
.model_dir <- function(dir, name) {
    if (is.null(dir)) {
        root <- seqatacModelDir()
        dir.create(root, recursive = TRUE, showWarnings = FALSE)
        if (!dir.exists(root)) {
            stop("Cannot create the model directory '", root, "'; pass dir = a writable path, or set ",
                 "options(seqATAC.model_dir = ).", call. = FALSE)
        }
        stamp <- format(Sys.time(), "%Y%m%d-%H%M%S")
        # tempfile() draws its random part without touching R's random number generator
        dir <- file.path(normalizePath(root), paste0(name, "-", stamp, "-", basename(tempfile(""))))
        return(dir)
    }
    if (!is.character(dir) || length(dir) != 1L || is.na(dir)) stop("dir must be one path.", call. = FALSE)
    if (file.exists(dir)) {
        stop("The model directory '", dir, "' already exists; pass a new path as dir (or dir = NULL for a new ",
             "one under seqatacModelDir()).", call. = FALSE)
    }
    parent <- dirname(dir)
    if (!dir.exists(parent)) {
        stop("The parent directory of dir = ('", parent, "') does not exist; create it first.", call. = FALSE)
    }
    file.path(normalizePath(parent), basename(dir))
}
