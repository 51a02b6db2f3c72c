# A deterministic peaks x cells count matrix with empty rows and columns.
counts_matrix <- function() {
    i <- c(1L, 3L, 3L, 7L, 2L, 9L, 4L, 1L, 7L)
    j <- c(1L, 1L, 2L, 2L, 4L, 4L, 5L, 6L, 6L)
    Matrix::sparseMatrix(i = i, j = j, x = c(1, 4, 2, 7, 1, 3, 12, 5, 2), dims = c(10L, 6L))
}

test_that("sparse counts reach Python as cells x peaks CSR and come back exactly", {
    skip_if_no_backend()
    m <- counts_matrix()
    round_trip <- seqATAC:::.run_seqatac(function(payload) {
        csr <- seqATAC:::.csr_to_python(payload)
        list(back = seqATAC:::.csr_from_python(csr),
             shape = unlist(reticulate::py_to_r(csr$shape)),
             format = reticulate::py_to_r(csr$format),
             cell_totals = as.vector(reticulate::py_to_r(csr$sum(axis = 1L)$A1)),
             entry = reticulate::py_to_r(reticulate::py_get_item(csr, reticulate::tuple(4L, 3L))))
    }, payload = seqATAC:::.sparse_payload(m))
    expect_identical(round_trip$shape, c(6L, 10L))
    expect_identical(round_trip$format, "csr")
    expect_equal(round_trip$cell_totals, Matrix::colSums(m))
    expect_identical(round_trip$entry, m[4, 5])  # Python [cell 4, peak 3] is R [peak 4, cell 5]
    expect_s4_class(round_trip$back, "dgCMatrix")
    expect_identical(round_trip$back, m)
})

test_that("scipy matrices of any layout come back as peaks x cells dgCMatrix", {
    skip_if_no_backend()
    sp <- py_module("scipy.sparse")
    np <- py_module("numpy")
    # cells x peaks COO with a duplicate entry (summed) -> peaks x cells
    coo <- sp$coo_matrix(reticulate::tuple(np$array(c(1, 2, 5)),
                                           reticulate::tuple(np$array(c(0L, 2L, 2L)), np$array(c(1L, 0L, 0L)))),
                         shape = reticulate::tuple(3L, 4L))
    back <- seqATAC:::.csr_from_python(coo)
    expected <- Matrix::sparseMatrix(i = c(2L, 1L), j = c(1L, 3L), x = c(1, 7), dims = c(4L, 3L))
    expect_identical(back, expected)
})

test_that("counts-like checks reject negative, non-integer and empty matrices", {
    m <- counts_matrix()
    expect_invisible(seqATAC:::.check_counts(m, "assay 'counts'"))
    expect_error(seqATAC:::.check_counts(log1p(m) * 1.5, "assay 'logcounts'"),
                 "assay 'logcounts' does not look like counts.*raw")
    negative <- m
    negative@x[2] <- -1
    expect_error(seqATAC:::.check_counts(negative, "x"), "does not look like counts")
    expect_error(seqATAC:::.check_counts(Matrix::drop0(m * 0), "x"), "no non-zero entries")
    # dense input becomes the same dgCMatrix
    expect_identical(seqATAC:::.as_dgc(as.matrix(m)), m)
})
