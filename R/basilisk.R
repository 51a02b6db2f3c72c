#' The seqATAC basilisk environment
#'
#' A [basilisk::BasiliskEnvironment()] holding Python 3.11, the exact versions of the engine's
#' dependencies seqATAC is tested with (the CPU build of torch, `numpy < 2` for reticulate) and the
#' `seqatac` engine itself, installed from the Python sources this R package ships
#' (`system.file("python", package = "seqATAC")`; `seqatac` is on no package registry). It is the
#' fallback backend of every seqATAC function when no Python is configured (see [seqatacBackend()]).
#'
#' @details
#' basilisk creates the environment the first time it is needed: it installs a private conda
#' (Miniconda, several hundred MB, needs internet access), then the pinned packages with pip (about
#' 1 GB with torch) and the engine. This first use can take many minutes and fails offline or behind a
#' proxy; seqATAC only lets it happen after `options(seqATAC.basilisk = TRUE)`. To build the
#' environment once, at installation, install seqATAC with the environment variable
#' `BASILISK_USE_SYSTEM_DIR=1` (the package's `configure` script then runs
#' [basilisk::configureBasiliskEnv()] and the environment lives inside the installed package).
#'
#' torch is pinned to `torch==2.13.0`. To get its CPU build rather than the CUDA one (several GB),
#' seqATAC adds the PyTorch CPU index to pip (`PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu`)
#' while the environment is created, unless `PIP_EXTRA_INDEX_URL` or `PIP_INDEX_URL` is already set.
#'
#' Machines without conda or internet (such as CI) use a Python of their own instead: see
#' [seqatacBackend()] and the README's "R users" section.
#'
#' @format A [basilisk::BasiliskEnvironment-class] object. Its `pip` slot holds the pins, its `paths`
#'   slot the engine sources relative to the installed package (`"python"`).
#' @seealso [seqatacBackend()] for the order in which backends are chosen.
#' @examples
#' seqatacEnv
#' seqatacEnv@pip
#' @export
seqatacEnv <- basilisk::BasiliskEnvironment(
    envname = "seqatac_env",
    pkgname = "seqATAC",
    packages = "python==3.11",
    channels = "conda-forge",
    # the versions of constraints.txt (shipped as python/constraints.txt); basilisk needs '==' pins
    pip = c(
        "torch==2.13.0",
        "numpy==1.26.4",
        "scipy==1.17.1",
        "pandas==2.3.3",
        "anndata==0.12.19",
        "h5py==3.16.0",
        "pyfaidx==0.9.2.2",
        "pyjaspar==4.0.0",
        "scikit-learn==1.9.1",
        "igraph==1.0.0",
        "leidenalg==0.12.0",
        "matplotlib==3.11.2",
        "tqdm==4.70.1"
    ),
    # the engine: pyproject.toml + python/seqatac, staged from the repository when the tarball is built
    paths = "python"
)
