# seqatac: `make demo` and `make test` set up everything they need on a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
RLIB := .Rlib
R_DEBS := r-base-core r-cran-reticulate r-bioc-singlecellexperiment r-bioc-basilisk r-cran-seuratobject \
          r-cran-testthat r-cran-knitr r-cran-rmarkdown r-bioc-biocstyle r-cran-roxygen2
R_PKGS := reticulate SingleCellExperiment basilisk SeuratObject testthat knitr rmarkdown BiocStyle roxygen2
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_OUT ?= demo_out

.PHONY: install r-deps r-build r-install r-bridge demo test test-python test-r bench clean

install: $(PY_STAMP)

# The virtualenv is rebuilt only when the dependency declarations change.
$(PY_STAMP): pyproject.toml constraints.txt
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
	@touch $@

# Debian's R stack (CRAN/Bioconductor are unreachable from the build machines).
r-deps:
	@if command -v Rscript >/dev/null && Rscript -e 'q(status = !all(sapply(strsplit("$(R_PKGS)", " ")[[1]], requireNamespace, quietly = TRUE)))' >/dev/null 2>&1; then \
		echo "R packages present"; \
	else \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(R_DEBS) >/dev/null; \
	fi

demo: install
	$(VENV)/bin/seqatac demo --out $(DEMO_OUT)

test: test-python test-r

# scib-metrics (+ jax CPU) for the cross-check of our metrics (tests/python/test_metrics_scib.py, which fails
# rather than skips here). Its first import compiles and caches numba code (~30 s), done once here.
SCIB_STAMP := $(VENV)/.installed-scib
$(SCIB_STAMP): $(PY_STAMP)
	$(VPY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[scib]"
	JAX_PLATFORMS=cpu $(VPY) -c "import scib_metrics"
	@touch $@

test-python: install $(SCIB_STAMP)
	SEQATAC_REQUIRE_SCIB_METRICS=1 $(VPY) -m pytest tests/python -q

# ---- R package ---------------------------------------------------------------------------------------
# `make r-build` makes the tarball seqATAC_<version>.tar.gz. R CMD build copies its whole directory (.venv
# included) before applying .Rbuildignore, so it builds from a staging copy of the package files only. The
# engine's Python sources (python/ + pyproject.toml, README.md, LICENSE, constraints.txt) are staged into
# inst/python of that copy, never into the repository: one source of truth, which the basilisk environment
# (R/basilisk.R, paths = "python") installs and ?seqatacBackend points at.
R_PKG_VERSION := $(shell sed -n 's/^Version: //p' DESCRIPTION)
R_TARBALL := seqATAC_$(R_PKG_VERSION).tar.gz
R_SOURCES := DESCRIPTION NAMESPACE LICENSE README.md .Rbuildignore configure configure.win R man inst vignettes
R_STAGE := $(RLIB)/stage/seqATAC
R_BRIDGE_STAMP := $(VENV)/.installed-r
# the model directories examples, tests and vignette create by default go here, not to the home directory
R_CHECK_DATA := $(abspath $(RLIB)/check-user-data)

r-build: r-deps
	rm -rf $(R_STAGE) && mkdir -p $(R_STAGE)/tests
	cp -r $(wildcard $(R_SOURCES)) $(R_STAGE)/ && cp -r tests/testthat tests/testthat.R $(R_STAGE)/tests/
	rm -rf $(R_STAGE)/inst/python && mkdir -p $(R_STAGE)/inst/python
	cp pyproject.toml README.md LICENSE constraints.txt $(R_STAGE)/inst/python/
	tar -cf - --exclude=__pycache__ --exclude='*.pyc' --exclude='*.egg-info' python | tar -C $(R_STAGE)/inst/python -xf -
	SEQATAC_PYTHON="$(SEQATAC_PYTHON)" R_USER_DATA_DIR=$(R_CHECK_DATA) R CMD build $(R_STAGE) > $(RLIB)/build.log 2>&1 || \
		{ cat $(RLIB)/build.log; exit 1; }
	@echo "built $(R_TARBALL) (engine sources in inst/python)"

# Install the tarball into R's user library (created when missing); then in R: library(seqATAC).
r-install: r-build
	@lib="$$(Rscript -e 'cat(path.expand(Sys.getenv("R_LIBS_USER")))')"; mkdir -p "$$lib" && \
		R CMD INSTALL --library="$$lib" $(R_TARBALL)

# The Python -> R bridge's extra (rpy2 + anndata2ri) in the project's virtualenv; needs R (r-deps) first.
r-bridge: $(R_BRIDGE_STAMP)
$(R_BRIDGE_STAMP): $(PY_STAMP) pyproject.toml | r-deps
	$(VPY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[r]"
	@touch $@

# Build the R package (vignette included) and run R CMD check on the tarball (examples, vignette and the
# testthat suite, with the project's virtualenv as the Python backend), then the Python -> R bridge's
# tests.
test-r: export SEQATAC_PYTHON := $(abspath $(VPY))
test-r: export _R_CHECK_FORCE_SUGGESTS_ := false
test-r: export R_USER_DATA_DIR := $(R_CHECK_DATA)
test-r: install r-bridge r-build
	R CMD check --no-manual $(R_TARBALL) || \
		{ cat seqATAC.Rcheck/tests/testthat.Rout.fail 2>/dev/null; exit 1; }
	@grep -qE '^Status: OK$$' seqATAC.Rcheck/00check.log || \
		{ echo "R CMD check reported a NOTE, WARNING or ERROR (see seqATAC.Rcheck/00check.log)"; exit 1; }
	$(VPY) -m pytest tests/python/test_r_bridge.py -q -p no:cacheprovider

bench: install
	$(VPY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(RLIB) seqATAC_*.tar.gz seqATAC.Rcheck $(DEMO_OUT) inst/python
