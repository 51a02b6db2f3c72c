test_that("seqatacBackend reports the configured virtualenv's interpreter and its seqatac version", {
    python <- Sys.getenv("SEQATAC_PYTHON")
    skip_if(!nzchar(python), "no Python backend configured (set SEQATAC_PYTHON)")
    backend <- seqatacBackend()
    expect_identical(backend$type, "python")
    expect_match(backend$version, "^[0-9]+\\.[0-9]+\\.[0-9]+")
    # sys.executable: the venv's own bin/python (where seqatac is installed), not the base interpreter
    # its symlink resolves to
    expect_identical(normalizePath(dirname(backend$python)), normalizePath(dirname(python)))
    expect_identical(basename(backend$python), basename(python))
    expect_identical(normalizePath(backend$prefix), normalizePath(file.path(dirname(python), "..")))
    # the engine the R package ships (inst/python, staged when the tarball is built) is this version
    shipped <- seqATAC:::.shipped_engine_version()
    if (!is.na(shipped)) expect_identical(backend$version, shipped)
})

test_that("a missing or broken backend gives an error whose commands work", {
    with_backend_settings(NULL, basilisk = FALSE, {
        expect_error(seqatacBackend(), "No Python backend.*SEQATAC_PYTHON")
        expect_false(hasSeqatacBackend(quiet = TRUE))
        expect_message(hasSeqatacBackend(), "no Python backend is configured, so this is not run")
        # every verb resolves the backend before Python starts
        expect_error(simulateATAC("tiny"), "No Python backend.*seqATAC.basilisk = TRUE")
        options(seqATAC.python = file.path(tempdir(), "no-such-python"))
        expect_error(seqatacBackend(), "does not exist")
        options(seqATAC.python = Sys.which("true")[[1]])
        message <- tryCatch(seqatacBackend(), error = conditionMessage)
        expect_match(message, "cannot import seqatac. Install the engine there with")
        expect_match(message, "'make install' in a seqATAC source checkout, then use its .venv/bin/python")
        # no command that cannot work: seqatac is on no registry, and an unpinned install pulls CUDA torch
        expect_no_match(message, "pip install seqatac'")
        expect_no_match(message, "pip install -e")
        sources <- system.file("python", package = "seqATAC")
        if (file.exists(file.path(sources, "pyproject.toml"))) {
            expect_match(message, "-m pip install --extra-index-url https://download.pytorch.org/whl/cpu -c", fixed = TRUE)
            expect_match(message, file.path(sources, "constraints.txt"), fixed = TRUE)
        }
    })
})

test_that("basilisk is reported as the backend when allowed and nothing else is configured", {
    with_backend_settings(NULL, basilisk = TRUE, {
        backend <- seqatacBackend()
        expect_identical(backend$type, "basilisk")
        expect_identical(backend$version, seqATAC:::.shipped_engine_version())
        expect_type(backend$installed, "logical")
    })
})

test_that("the basilisk environment installs the shipped engine with the pinned CPU torch and numpy < 2", {
    expect_s4_class(seqatacEnv, "BasiliskEnvironment")
    expect_identical(seqatacEnv@paths, "python")            # the engine, from the package's own files
    expect_false(any(grepl("^seqatac", seqatacEnv@pip)))    # not from a registry: it is on none
    expect_true(all(grepl("^[A-Za-z0-9_.-]+==[0-9][^=]*$", seqatacEnv@pip)))  # exact pins (basilisk needs ==)
    expect_true("torch==2.13.0" %in% seqatacEnv@pip)
    numpy <- sub("^numpy==", "", grep("^numpy==", seqatacEnv@pip, value = TRUE))
    expect_length(numpy, 1L)
    expect_true(package_version(numpy) < "2.0.0")
    expect_identical(seqatacEnv@packages, "python==3.11")

    sources <- system.file("python", package = "seqATAC")
    skip_if(!file.exists(file.path(sources, "pyproject.toml")),
            "engine sources not staged (package not installed from the tarball `make r-build` makes)")
    # what `paths = "python"` installs: a pip-installable project holding the engine of this version
    expect_true(file.exists(file.path(sources, "python", "seqatac", "__init__.py")))
    expect_true(file.exists(file.path(sources, "python", "seqatac", "r", "__init__.py")))
    expect_length(list.files(sources, pattern = "^__pycache__$", recursive = TRUE, include.dirs = TRUE), 0L)
    pyproject <- readLines(file.path(sources, "pyproject.toml"))
    expect_true(any(grepl('^name = "seqatac"', pyproject)))
    expect_identical(seqATAC:::.shipped_engine_version(), as.character(utils::packageVersion("seqATAC")))
    # every pin is the version constraints.txt (the project's tested set) gives
    constraints <- grep("==", readLines(file.path(sources, "constraints.txt")), value = TRUE)
    constraints <- sub("\\s+#.*$", "", constraints[!grepl("^\\s*#", constraints)])
    expect_true(all(seqatacEnv@pip %in% constraints))
})

test_that("where conda exists, the basilisk environment is created and runs the engine", {
    conda <- basilisk.utils::getCondaDir()
    skip_if(!dir.exists(conda) && !nzchar(Sys.which("conda")),
            "no conda here (basilisk installs it from the internet on first use)")
    skip_on_cran()
    with_backend_settings(NULL, basilisk = TRUE, {
        version <- seqATAC:::.run_seqatac(function() reticulate::py_to_r(reticulate::import("seqatac")$`__version__`))
        expect_identical(version, seqATAC:::.shipped_engine_version())
    })
})
