# Moving matrices between R and the Python engine.
#
# R stores peaks x cells; the engine wants cells x peaks. The compressed-column arrays of a
# peaks x cells dgCMatrix (i, p, x) are exactly the compressed-row arrays of the cells x peaks
# matrix, so the transpose costs nothing: the three vectors go to Python as they are and become a
# scipy CSR matrix there. Sparse results come back the same way (CSR indices/indptr/data ->
# dgCMatrix), built from index vectors because reticulate 1.28 cannot convert scipy >= 1.11 sparse
# matrices itself.
#
# What travels how (documented for users in ?seqATAC-package and the vignette):
# * sparse, never densified: peak counts and paired RNA counts (R -> Python), simulated counts
#   (Python -> R);
# * dense, as NumPy arrays converted to R matrices (float32 becomes double, 8 bytes per value, and
#   the transposed view of a C-ordered array arrives without reordering): embeddings (cells x d),
#   TF activities (motifs x cells), cell-type probabilities (cells x types), predicted expression
#   levels (genes x cells) and denoised accessibility of the chosen peaks (peaks x cells);
# * plain vectors: peak coordinates, names, per-cell columns.
#
# Size limits: a dgCMatrix holds at most 2^31 - 1 non-zeros (R integer indices in @i and @p), so
# counts with more non-zeros cannot be sent as one matrix (split the cells), and denoised values,
# which are stored explicitly, are limited to 2^31 - 1 per call (denoiseAccessibility() checks this;
# stream larger sets into an HDF5 file with file =). One copy of the non-zeros is made on each side
# (about 12 bytes per non-zero: int32 index + float64 value in R, float32 in Python).

# Any counts-like matrix (dgCMatrix, dense matrix, other Matrix classes, DelayedArray) as a dgCMatrix.
.as_dgc <- function(m) {
    if (methods::is(m, "dgCMatrix")) {
        return(m)
    }
    if (!methods::is(m, "Matrix")) {
        m <- methods::as(m, "CsparseMatrix")
    }
    methods::as(methods::as(methods::as(m, "CsparseMatrix"), "generalMatrix"), "dMatrix")
}

# The plain-R description of a features x cells dgCMatrix that .csr_to_python() rebuilds, as
# cells x features, on the Python side.
.sparse_payload <- function(m) {
    m <- .as_dgc(m)
    list(indices = m@i, indptr = m@p, data = m@x, shape = rev(dim(m)))
}

# Inside a worker: a payload as a scipy.sparse.csr_matrix (float32, cells x features).
.csr_to_python <- function(payload) {
    np <- reticulate::import("numpy", convert = FALSE)
    sp <- reticulate::import("scipy.sparse", convert = FALSE)
    arrays <- reticulate::tuple(
        np$asarray(array(payload$data), dtype = "float32"),
        np$asarray(array(payload$indices), dtype = "int32"),
        np$asarray(array(payload$indptr), dtype = "int64")
    )
    shape <- as.integer(payload$shape)
    sp$csr_matrix(arrays, shape = reticulate::tuple(shape[[1]], shape[[2]]))
}

# Inside a worker: a cells x features scipy sparse matrix as a features x cells dgCMatrix.
# reticulate 1.28 cannot convert scipy >= 1.11 sparse matrices itself.
.csr_from_python <- function(matrix) {
    sp <- reticulate::import("scipy.sparse", convert = FALSE)
    csr <- sp$csr_matrix(matrix)
    csr$sum_duplicates()
    shape <- as.integer(reticulate::py_to_r(csr$shape))
    Matrix::sparseMatrix(
        i = as.integer(reticulate::py_to_r(csr$indices)),
        p = as.integer(reticulate::py_to_r(csr$indptr)),
        x = as.numeric(reticulate::py_to_r(csr$data)),
        dims = rev(shape), index1 = FALSE
    )
}

# Stop unless `m` looks like counts: non-negative and integer-valued on a sample of its non-zeros.
.check_counts <- function(m, what) {
    values <- if (methods::is(m, "dgCMatrix")) m@x else as.vector(m[seq_len(min(length(m), 1e5))])
    if (length(values) == 0L) {
        stop(what, " has no non-zero entries; pass a peaks x cells count matrix.", call. = FALSE)
    }
    sample <- values[unique(round(seq(1, length(values), length.out = min(length(values), 1e4))))]
    if (anyNA(sample) || any(sample < 0) || any(sample != round(sample))) {
        stop(what, " does not look like counts (it has negative, missing or non-integer values); ",
             "pass the raw fragment or insertion counts (e.g. assay = \"counts\"), not normalised ",
             "or log-transformed values.", call. = FALSE)
    }
    invisible(TRUE)
}
