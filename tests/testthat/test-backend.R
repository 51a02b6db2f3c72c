test_that("seqatacBackend reports the configured Python and its seqatac version", {
    python <- Sys.getenv("SEQATAC_PYTHON")
    skip_if(!nzchar(python), "no Python backend configured (set SEQATAC_PYTHON)")
    backend <- seqatacBackend()
    expect_identical(backend$type, "python")
    expect_identical(backend$python, normalizePath(python))
    expect_match(backend$version, "^[0-9]+\\.[0-9]+\\.[0-9]+")
    # the basilisk environment pins the engine version the tests run against
    expect_true(paste0("seqatac==", backend$version) %in% seqatacEnv@pip)
})

test_that("a missing or broken backend gives an error that says how to fix it", {
    withr_opt <- options(seqATAC.python = NULL, seqATAC.basilisk = NULL)
    on.exit(options(withr_opt))
    old <- Sys.getenv("SEQATAC_PYTHON", unset = NA)
    on.exit(if (is.na(old)) Sys.unsetenv("SEQATAC_PYTHON") else Sys.setenv(SEQATAC_PYTHON = old), add = TRUE)
    Sys.unsetenv("SEQATAC_PYTHON")
    options(seqATAC.basilisk = FALSE)
    expect_error(seqatacBackend(), "No Python backend.*SEQATAC_PYTHON")
    # every verb resolves the backend before Python starts
    expect_error(simulateATAC("tiny"), "No Python backend.*seqATAC.basilisk = TRUE")
    options(seqATAC.python = file.path(tempdir(), "no-such-python"))
    expect_error(seqatacBackend(), "does not exist")
    options(seqATAC.python = Sys.which("true")[[1]])
    expect_error(seqatacBackend(), "cannot import seqatac")
})

test_that("basilisk is reported as the backend when allowed and nothing else is configured", {
    withr_opt <- options(seqATAC.python = NULL, seqATAC.basilisk = TRUE)
    on.exit(options(withr_opt))
    old <- Sys.getenv("SEQATAC_PYTHON", unset = NA)
    on.exit(if (is.na(old)) Sys.unsetenv("SEQATAC_PYTHON") else Sys.setenv(SEQATAC_PYTHON = old), add = TRUE)
    Sys.unsetenv("SEQATAC_PYTHON")
    backend <- seqatacBackend()
    expect_identical(backend$type, "basilisk")
    expect_identical(backend$version, "0.1.0")
    expect_type(backend$installed, "logical")
    expect_true(all(c("numpy==1.26.4", "torch==2.13.0") %in% seqatacEnv@pip))
})
