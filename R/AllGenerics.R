#' @rdname tfActivity
#' @export
setGeneric("tfActivity", function(x, ...) standardGeneric("tfActivity"))

#' @rdname runScBasset
#' @export
setGeneric("runScBasset", function(x, ...) standardGeneric("runScBasset"))

#' @rdname runCellSpace
#' @export
setGeneric("runCellSpace", function(x, ...) standardGeneric("runCellSpace"))

#' @rdname runEpiFoundation
#' @export
setGeneric("runEpiFoundation", function(x, ...) standardGeneric("runEpiFoundation"))
