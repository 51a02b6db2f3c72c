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

#' @rdname denoiseAccessibility
#' @export
setGeneric("denoiseAccessibility", function(x, ...) standardGeneric("denoiseAccessibility"))

#' @rdname annotateCellTypes
#' @export
setGeneric("annotateCellTypes", function(x, ...) standardGeneric("annotateCellTypes"))

#' @rdname predictExpression
#' @export
setGeneric("predictExpression", function(x, ...) standardGeneric("predictExpression"))
